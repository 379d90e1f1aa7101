// libFuzzer target for topic templates (archer/core/topic_template.h). The first line of the input
// is a template, the second another one, every further line a topic received. Whatever the bytes:
// parsing never crashes and refuses what is beyond the limits; a template's filter matches what it
// matches; captures line up with the capture names and render back to the topic; two templates that
// match one topic overlap; a StringTemplate renders its own text back from its placeholder names.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "archer/core/topic_template.h"

namespace {

using archer::StringTemplate;
using archer::TopicTemplate;

void require(bool condition) {
  if (!condition) std::abort();
}

std::vector<std::string_view> lines_of(std::string_view text) {
  std::vector<std::string_view> lines;
  while (true) {
    const std::size_t end = text.find('\n');
    lines.push_back(text.substr(0, end));
    if (end == std::string_view::npos) return lines;
    text.remove_prefix(end + 1);
  }
}

std::optional<TopicTemplate> parse_checked(std::string_view text) {
  std::string error;
  auto parsed = TopicTemplate::parse(text, error);
  if (!parsed) {
    require(!error.empty());
    return parsed;
  }
  require(!text.empty() && text.size() <= archer::kMaxTopicBytes);
  require(parsed->capture_names().size() <= archer::kMaxCaptures);
  require(parsed->text() == text);
  return parsed;
}

void check_string_template(std::string_view text) {
  std::string error;
  const auto parsed = StringTemplate::parse(text, error);
  if (!parsed) {
    require(!error.empty());
    return;
  }
  require(parsed->placeholder_names().size() <= archer::kMaxCaptures);
  for (const std::string& name : parsed->placeholder_names()) require(parsed->uses(name));
  std::string scratch;
  const std::string rendered = parsed->render([&](std::string_view name) -> std::string_view {
    scratch = "{" + std::string(name) + "}";
    return scratch;
  });
  require(rendered == text);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  // A copy of exactly the input's size, so ASan sees any read past its end.
  const std::string input(reinterpret_cast<const char*>(data), size);
  const std::vector<std::string_view> lines = lines_of(input);
  check_string_template(lines[0]);
  const auto first = parse_checked(lines[0]);
  const auto second = lines.size() > 1 ? parse_checked(lines[1]) : std::nullopt;
  if (!first) return 0;
  std::string error;
  const auto filter = TopicTemplate::parse(first->filter(), error);
  require(filter.has_value() && filter->capture_names().empty());
  if (second) require(first->overlaps(*second) == second->overlaps(*first));

  std::vector<std::string_view> captures;
  std::vector<std::string_view> ignored;
  for (std::size_t i = 1; i < lines.size(); ++i) {
    const std::string_view topic = lines[i];
    const bool matched = first->match(topic, captures);
    require(filter->match(topic, ignored) == matched);
    if (archer::topic_limit_problem(topic)) require(!matched);
    if (!matched) continue;
    require(captures.size() == first->capture_names().size());
    for (std::string_view capture : captures) {
      require(capture.data() >= topic.data() && capture.data() + capture.size() <= topic.data() + topic.size());
      (void)archer::is_valid_id(capture);
    }
    if (!first->has_wildcards()) require(first->render(captures) == topic);
    if (second && second->match(topic, ignored)) require(first->overlaps(*second));
  }
  return 0;
}
