#pragma once
// The strict TOML reading that every config file of the project shares (the gateway's, archer-devsim's):
// typed getters that report wrong types, every key no getter asked for reported as an unknown key, and
// every problem collected as "file:line:col: key: message", so one run shows them all, in file order.
//
// Not thread-safe; a reader lives for the duration of one load.
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <toml++/toml.h>

#include "archer/core/config_errors.h"
#include "archer/core/topic_template.h"

namespace archer {

// Where a node (a value, a table) begins in its file.
SourcePosition position_of(const toml::source_region& region);
inline SourcePosition position_of(const toml::node& node) { return position_of(node.source()); }

// Reads one TOML table: typed getters that report wrong types and, when the reader goes out of
// scope, every key that no getter asked for ("unknown key"), so a typo never passes silently.
// `path` is the table's key path in messages ("mqtt", "ingest[0]"; "" for the root). With
// `positions`, the reader records where the table and every key asked for (and present) are. With
// `accepted` (a table of archer/core/config_keys.h), asking for a key not in it is reported as a
// loader bug, so the list the docs are checked against cannot fall behind what is read.
class TableReader {
 public:
  TableReader(const toml::table& table, std::string path, ConfigErrors& errors, KeyPositions* positions = nullptr,
              const std::vector<std::string_view>* accepted = nullptr);
  TableReader(const TableReader&) = delete;
  TableReader& operator=(const TableReader&) = delete;
  ~TableReader() { report_unknown_keys(); }

  std::string key_path(std::string_view key) const;
  const toml::source_region& where() const { return table_.source(); }
  // The node of `key`, which counts as known from now on; null when absent.
  const toml::node* node(std::string_view key);
  // A problem with `key`, placed at its value (or at the table when the key is absent).
  void error(std::string_view key, std::string_view message);
  void missing(std::string_view key);

  std::optional<std::string> string(std::string_view key, bool required = false);
  std::optional<std::int64_t> integer(std::string_view key, std::int64_t min, std::int64_t max);
  // "5s", "250ms" (archer/core/units.h).
  std::optional<std::chrono::milliseconds> duration(std::string_view key);
  // 1024 or "256KiB" (archer/core/units.h).
  std::optional<std::uint64_t> size(std::string_view key);
  std::optional<TopicTemplate> topic_template(std::string_view key, bool required);
  // A sub-table; reports a wrong type. Null when absent.
  const toml::table* table(std::string_view key);

  // A reader of a sub-table (or an element of an array of tables) at `path`, sharing this one's
  // errors and positions.
  TableReader nested(const toml::table& table, std::string path,
                     const std::vector<std::string_view>* accepted = nullptr) const {
    return TableReader(table, std::move(path), errors_, positions_, accepted);
  }

  ConfigErrors& errors() { return errors_; }
  // Null when positions are not recorded.
  KeyPositions* positions() { return positions_; }

 private:
  void report_unknown_keys();

  const toml::table& table_;
  std::string path_;
  ConfigErrors& errors_;
  KeyPositions* positions_;
  const std::vector<std::string_view>* accepted_;
  std::set<std::string, std::less<>> known_;
};

// The content of a config file; nullopt and `error` ("file: cannot be read") when it cannot be read.
std::optional<std::string> read_config_text(const std::filesystem::path& file, std::string& error);

// Parses `text` as the content of `file`. On a syntax error: nullopt, and `error` is
// "file:line:col: what is wrong".
std::optional<toml::table> parse_toml(std::string_view text, const std::string& file, std::string& error);

// The entries of `table` in the order of the file, which is the one an operator reads (a
// toml::table is sorted by key).
std::vector<std::pair<const toml::key*, const toml::node*>> in_file_order(const toml::table& table);

// A string as it is, an integer in decimal, a boolean as true/false, a float in shortest form;
// nullopt for anything else (tables, arrays, dates).
std::optional<std::string> scalar_text(const toml::node& node);

// The TOML type of a node for messages: "string", "integer", "table", ...
std::string_view type_name(const toml::node& node);

}  // namespace archer
