#pragma once
// Config problems and where they are. Every problem of a config file, whether the TOML reader finds
// it or a later check does (a schema that does not load, a librdkafka property refused), reads
// "file:line:col: key: message", so an operator goes straight to the line.
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace archer {

struct SourcePosition {
  std::uint32_t line = 1;
  std::uint32_t column = 1;
  friend bool operator==(const SourcePosition&, const SourcePosition&) = default;
};

// "file:line:col: key: message".
std::string format_config_error(std::string_view file, SourcePosition where, std::string_view key,
                                std::string_view message);

// Problems of one file, reported in file order. Every check adds and carries on, so one run shows
// every problem.
class ConfigErrors {
 public:
  explicit ConfigErrors(std::string file) : file_(std::move(file)) {}

  void add(SourcePosition where, std::string_view key, std::string_view message);
  bool empty() const { return entries_.empty(); }
  // One "file:line:col: key: message" per problem, in file order (those at one place in the order added).
  std::vector<std::string> sorted() const;

 private:
  struct Entry {
    SourcePosition where;
    std::string text;
  };
  std::string file_;
  std::vector<Entry> entries_;
};

// Where each key of a config file was read: the position of its value, and of each table, by key
// path ("mqtt.password_file", "ingest[0].bind.device", "kafka.\"linger.ms\"", "ingest[0]").
class KeyPositions {
 public:
  void add(std::string key_path, SourcePosition where);
  // The position of `key_path`; for a key the file does not have (left at its default), that of the
  // nearest enclosing table it has ("ingest[0].dead_letter" -> "ingest[0]"), else 1:1.
  SourcePosition of(std::string_view key_path) const;
  // True when the file has `key_path` itself.
  bool has(std::string_view key_path) const { return positions_.find(key_path) != positions_.end(); }

 private:
  std::map<std::string, SourcePosition, std::less<>> positions_;
};

}  // namespace archer
