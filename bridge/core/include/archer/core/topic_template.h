#pragma once
// Topic templates from the config: "devices/{device}/telemetry".
//   {name}  captures exactly one topic level (subscribes with '+')
//   +       matches one level without capturing it
//   #       matches the rest of the topic (last level only)
// A capture must be a whole level: "dev-{id}" cannot be expressed as an MQTT filter and is rejected.
//
// Limits (docs/limits.md): MQTT allows topics of 65535 bytes with any number of levels; a gateway's
// topics are a few short levels, so templates and the topics matched against them are held to
// kMaxTopicBytes and kMaxTopicLevels, and a template to kMaxCaptures captures.
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace archer {

inline constexpr std::size_t kMaxTopicBytes = 1024;
inline constexpr std::size_t kMaxTopicLevels = 32;
inline constexpr std::size_t kMaxCaptures = 8;

// Why a topic received is beyond kMaxTopicBytes or kMaxTopicLevels ("topic of 2000 bytes exceeds
// 1024"); nullopt when it is within them.
std::optional<std::string> topic_limit_problem(std::string_view topic);

class TopicTemplate {
 public:
  // Refuses, with `error` set, a template beyond the limits above as well as a malformed one.
  static std::optional<TopicTemplate> parse(std::string_view text, std::string& error);

  const std::string& text() const { return text_; }
  bool operator==(const TopicTemplate& other) const { return text_ == other.text_; }
  // The MQTT subscription filter: captures become '+'.
  std::string filter() const;
  const std::vector<std::string>& capture_names() const { return capture_names_; }
  bool has_capture(std::string_view name) const;
  bool has_wildcards() const;

  // Matches a concrete topic (MQTT rules, including: a topic starting with '$' is not matched by a
  // leading wildcard). On success `captures` holds one value per capture_names() entry, in order;
  // a value may be empty ("devices//telemetry"): whether that is acceptable is the caller's call.
  // A topic beyond the limits (topic_limit_problem) matches nothing.
  bool match(std::string_view topic, std::vector<std::string_view>& captures) const;

  // Fills the captures with values (aligned with capture_names()); only for templates without '+'/'#'.
  std::string render(const std::vector<std::string_view>& values) const;

  // True when one concrete topic could match both templates.
  bool overlaps(const TopicTemplate& other) const;

 private:
  enum class Kind { literal, capture, any_level, rest };
  struct Level {
    Kind kind;
    std::string text;  // the literal, or the capture's name
  };
  std::string text_;
  std::vector<Level> levels_;
  std::vector<std::string> capture_names_;
};

// A string with {name} placeholders anywhere: the Kafka key ("{device}", "site-1.{device}"), at most
// kMaxTopicBytes long with at most kMaxCaptures placeholders.
class StringTemplate {
 public:
  static std::optional<StringTemplate> parse(std::string_view text, std::string& error);

  const std::string& text() const { return text_; }
  const std::vector<std::string>& placeholder_names() const { return names_; }
  bool uses(std::string_view name) const;
  // `value_of(name)` gives each placeholder's value.
  template <class Lookup>
  std::string render(Lookup&& value_of) const {
    std::string out;
    for (const Piece& piece : pieces_)
      out += piece.is_placeholder ? std::string_view(value_of(piece.text)) : std::string_view(piece.text);
    return out;
  }

 private:
  struct Piece {
    bool is_placeholder;
    std::string text;
  };
  std::string text_;
  std::vector<Piece> pieces_;
  std::vector<std::string> names_;
};

// A capture used as a Kafka key or device id: [A-Za-z0-9._:-]{1,128}.
bool is_valid_id(std::string_view value);

}  // namespace archer
