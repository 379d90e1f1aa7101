#include "archer/core/topic_template.h"

#include <algorithm>

#include <fmt/format.h>

namespace archer {
namespace {

bool is_name_char(char c, bool first) {
  const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
  return first ? alpha : alpha || (c >= '0' && c <= '9');
}

bool is_valid_name(std::string_view name) {
  if (name.empty()) return false;
  for (std::size_t i = 0; i < name.size(); ++i) {
    if (!is_name_char(name[i], i == 0)) return false;
  }
  return true;
}

std::vector<std::string_view> split_levels(std::string_view topic) {
  std::vector<std::string_view> levels;
  std::size_t start = 0;
  while (true) {
    const std::size_t slash = topic.find('/', start);
    if (slash == std::string_view::npos) {
      levels.push_back(topic.substr(start));
      return levels;
    }
    levels.push_back(topic.substr(start, slash - start));
    start = slash + 1;
  }
}

std::size_t level_count(std::string_view topic) { return 1 + std::count(topic.begin(), topic.end(), '/'); }

// Templates come from the config and are quoted whole in errors; one beyond the limits is not.
std::string shown(std::string_view text) {
  return text.size() <= 80 ? std::string(text) : std::string(text.substr(0, 80)) + "...";
}

}  // namespace

std::optional<std::string> topic_limit_problem(std::string_view topic) {
  if (topic.size() > kMaxTopicBytes) return fmt::format("topic of {} bytes exceeds {}", topic.size(), kMaxTopicBytes);
  if (const std::size_t levels = level_count(topic); levels > kMaxTopicLevels) {
    return fmt::format("topic of {} levels exceeds {}", levels, kMaxTopicLevels);
  }
  return std::nullopt;
}

std::optional<TopicTemplate> TopicTemplate::parse(std::string_view text, std::string& error) {
  if (text.empty()) {
    error = "a topic template must not be empty";
    return std::nullopt;
  }
  if (text.size() > kMaxTopicBytes) {
    error = fmt::format("'{}': a topic template of {} bytes exceeds {}", shown(text), text.size(), kMaxTopicBytes);
    return std::nullopt;
  }
  if (const std::size_t levels = level_count(text); levels > kMaxTopicLevels) {
    error = fmt::format("'{}': {} levels exceed {}", shown(text), levels, kMaxTopicLevels);
    return std::nullopt;
  }
  TopicTemplate result;
  result.text_ = std::string(text);
  const auto parts = split_levels(text);
  for (std::size_t i = 0; i < parts.size(); ++i) {
    const std::string_view part = parts[i];
    if (part == "+") {
      result.levels_.push_back({Kind::any_level, {}});
    } else if (part == "#") {
      if (i + 1 != parts.size()) {
        error = fmt::format("'{}': '#' may only be the last level", text);
        return std::nullopt;
      }
      result.levels_.push_back({Kind::rest, {}});
    } else if (part.size() >= 2 && part.front() == '{' && part.back() == '}') {
      const std::string_view name = part.substr(1, part.size() - 2);
      if (!is_valid_name(name)) {
        error = fmt::format("'{}': '{}' is not a valid capture name (letters, digits, '_')", text, name);
        return std::nullopt;
      }
      if (result.has_capture(name)) {
        error = fmt::format("'{}': capture {{{}}} appears twice", text, name);
        return std::nullopt;
      }
      if (result.capture_names_.size() == kMaxCaptures) {
        error = fmt::format("'{}': more than {} captures", text, kMaxCaptures);
        return std::nullopt;
      }
      result.levels_.push_back({Kind::capture, std::string(name)});
      result.capture_names_.emplace_back(name);
    } else if (part.find_first_of("{}+#") != std::string_view::npos) {
      error = fmt::format("'{}': level '{}' mixes text with '{{', '}}', '+' or '#'; a capture must be a whole level",
                          text, part);
      return std::nullopt;
    } else {
      result.levels_.push_back({Kind::literal, std::string(part)});
    }
  }
  return result;
}

std::string TopicTemplate::filter() const {
  std::string out;
  for (std::size_t i = 0; i < levels_.size(); ++i) {
    if (i != 0) out += '/';
    switch (levels_[i].kind) {
      case Kind::literal: out += levels_[i].text; break;
      case Kind::capture:
      case Kind::any_level: out += '+'; break;
      case Kind::rest: out += '#'; break;
    }
  }
  return out;
}

bool TopicTemplate::has_capture(std::string_view name) const {
  return std::find(capture_names_.begin(), capture_names_.end(), name) != capture_names_.end();
}

bool TopicTemplate::has_wildcards() const {
  return std::any_of(levels_.begin(), levels_.end(),
                     [](const Level& level) { return level.kind == Kind::any_level || level.kind == Kind::rest; });
}

bool TopicTemplate::match(std::string_view topic, std::vector<std::string_view>& captures) const {
  captures.clear();
  if (topic_limit_problem(topic)) return false;
  // MQTT 4.7.2: topics beginning with '$' are not matched by a filter starting with a wildcard.
  if (!topic.empty() && topic.front() == '$' && !levels_.empty() && levels_.front().kind != Kind::literal) return false;
  std::size_t start = 0;
  for (std::size_t i = 0; i < levels_.size(); ++i) {
    const Level& level = levels_[i];
    if (level.kind == Kind::rest) return true;  // '#' also matches its parent level ("a/#" matches "a")
    if (start > topic.size()) return false;
    const std::size_t slash = topic.find('/', start);
    const std::size_t end = slash == std::string_view::npos ? topic.size() : slash;
    const std::string_view part = topic.substr(start, end - start);
    if (level.kind == Kind::literal && part != level.text) return false;
    if (level.kind == Kind::capture) captures.push_back(part);
    start = slash == std::string_view::npos ? topic.size() + 1 : slash + 1;
  }
  return start == topic.size() + 1;
}

std::string TopicTemplate::render(const std::vector<std::string_view>& values) const {
  std::string out;
  std::size_t next_value = 0;
  for (std::size_t i = 0; i < levels_.size(); ++i) {
    if (i != 0) out += '/';
    if (levels_[i].kind == Kind::capture) out += values.at(next_value++);
    else out += levels_[i].text;
  }
  return out;
}

bool TopicTemplate::overlaps(const TopicTemplate& other) const {
  const auto& a = levels_;
  const auto& b = other.levels_;
  for (std::size_t i = 0;; ++i) {
    const bool a_done = i == a.size();
    const bool b_done = i == b.size();
    if (a_done && b_done) return true;
    if ((!a_done && a[i].kind == Kind::rest) || (!b_done && b[i].kind == Kind::rest)) return true;
    if (a_done || b_done) return false;
    if (a[i].kind == Kind::literal && b[i].kind == Kind::literal && a[i].text != b[i].text) return false;
  }
}

std::optional<StringTemplate> StringTemplate::parse(std::string_view text, std::string& error) {
  if (text.size() > kMaxTopicBytes) {
    error = fmt::format("'{}': a template of {} bytes exceeds {}", shown(text), text.size(), kMaxTopicBytes);
    return std::nullopt;
  }
  StringTemplate result;
  result.text_ = std::string(text);
  std::size_t position = 0;
  while (position < text.size()) {
    const std::size_t open = text.find('{', position);
    const std::size_t stray_close = text.find('}', position);
    if (stray_close < open) {
      error = fmt::format("'{}': '}}' without '{{' at position {}", text, stray_close + 1);
      return std::nullopt;
    }
    if (open == std::string_view::npos) {
      result.pieces_.push_back({false, std::string(text.substr(position))});
      break;
    }
    if (open > position) result.pieces_.push_back({false, std::string(text.substr(position, open - position))});
    const std::size_t close = text.find('}', open);
    if (close == std::string_view::npos) {
      error = fmt::format("'{}': '{{' at position {} is not closed", text, open + 1);
      return std::nullopt;
    }
    const std::string_view name = text.substr(open + 1, close - open - 1);
    if (!is_valid_name(name)) {
      error = fmt::format("'{}': '{}' is not a valid placeholder name (letters, digits, '_')", text, name);
      return std::nullopt;
    }
    if (result.names_.size() == kMaxCaptures) {
      error = fmt::format("'{}': more than {} placeholders", text, kMaxCaptures);
      return std::nullopt;
    }
    result.pieces_.push_back({true, std::string(name)});
    result.names_.emplace_back(name);
    position = close + 1;
  }
  return result;
}

bool StringTemplate::uses(std::string_view name) const {
  return std::find(names_.begin(), names_.end(), name) != names_.end();
}

bool is_valid_id(std::string_view value) {
  if (value.empty() || value.size() > 128) return false;
  return std::all_of(value.begin(), value.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
           c == ':' || c == '-';
  });
}

}  // namespace archer
