#include "archer/ingest/topic_captures.h"

#include <fmt/format.h>

#include "archer/core/id_check.h"

namespace archer::ingest {
namespace {

// Topics come from the broker (valid UTF-8, no NUL, bounded by its packet size), yet a detail lands
// in Kafka headers and logs: shown escaped and cut.
constexpr std::size_t kShownTopicBytes = 300;

}  // namespace

TopicCaptures capture_topic(const TopicTemplate& mqtt, std::string_view topic) {
  TopicCaptures out;
  // Beyond kMaxTopicBytes or kMaxTopicLevels (docs/limits.md) a topic matches nothing: say which.
  if (auto problem = topic_limit_problem(topic)) {
    out.problem = std::move(*problem);
    return out;
  }
  std::vector<std::string_view> values;
  if (!mqtt.match(topic, values)) {
    out.problem = fmt::format("topic '{}' does not match '{}'", printable_id(topic, kShownTopicBytes), mqtt.text());
    return out;
  }
  for (std::size_t i = 0; i < values.size(); ++i) {
    const std::string& name = mqtt.capture_names()[i];
    out.values.push_back({name, values[i]});
    if (!out.ok()) continue;
    if (const std::string why = id_problem(values[i]); !why.empty()) {
      out.problem = fmt::format("{{{}}} = '{}' in topic '{}' {}; an id is [A-Za-z0-9._:-]{{1,128}}", name,
                                printable_id(values[i]), printable_id(topic, kShownTopicBytes), why);
    }
  }
  return out;
}

}  // namespace archer::ingest
