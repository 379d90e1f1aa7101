// docs/configuration.md against the loader: the doc lists exactly the tables and keys the loader
// knows (archer/core/config_keys.h, the list it refuses unknown keys with), and a file made of the
// doc's examples loads.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "archer/core/config.h"
#include "archer/core/config_keys.h"

namespace {

struct DocRow {
  std::string key;  // as the loader names it: quotes removed, "<...>" as archer::kAnyKey
  std::string type;
  std::string example;  // the example cell without its backticks
};

struct DocTable {
  std::string name;    // "mqtt", "mqtt.tls", "ingest"
  bool array = false;  // [[ingest]]
  std::vector<DocRow> rows;
};

std::string trim(std::string text) {
  const auto begin = text.find_first_not_of(' ');
  const auto end = text.find_last_not_of(' ');
  return begin == std::string::npos ? std::string() : text.substr(begin, end - begin + 1);
}

std::string unquote(std::string text, char quote) {
  if (text.size() >= 2 && text.front() == quote && text.back() == quote) return text.substr(1, text.size() - 2);
  return text;
}

std::vector<std::string> cells_of(const std::string& line) {
  std::vector<std::string> cells;
  std::string cell;
  std::istringstream in(line.substr(1));  // past the leading '|'
  while (std::getline(in, cell, '|')) cells.push_back(trim(cell));
  return cells;
}

// The tables of the doc: a heading "## `[name]`" or "## `[[name]]`" starts one, each row "| `key` |"
// under it is one key.
std::vector<DocTable> read_doc(const std::string& path) {
  std::ifstream in(path);
  EXPECT_TRUE(in) << "cannot read " << path;
  std::vector<DocTable> tables;
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("## `[", 0) == 0 || line.rfind("### `[", 0) == 0) {
      std::string name = unquote(line.substr(line.find('`')), '`');
      DocTable table;
      table.array = name.rfind("[[", 0) == 0;
      name = table.array ? name.substr(2, name.size() - 4) : name.substr(1, name.size() - 2);
      table.name = name;
      tables.push_back(table);
    } else if (line.rfind("## ", 0) == 0) {
      tables.push_back(DocTable{});  // a section that is not a table: its rows are not keys
    } else if (line.rfind("| `", 0) == 0 && !tables.empty() && !tables.back().name.empty()) {
      const std::vector<std::string> cells = cells_of(line);
      EXPECT_EQ(cells.size(), 5u) << "a key row has 5 cells (key, type, default, example, meaning): " << line;
      if (cells.size() < 4) continue;
      std::string key = unquote(unquote(cells[0], '`'), '"');
      if (key.size() > 2 && key.front() == '<' && key.back() == '>') key = std::string(archer::kAnyKey);
      tables.back().rows.push_back({key, cells[1], unquote(cells[3], '`')});
    }
  }
  std::erase_if(tables, [](const DocTable& table) { return table.name.empty(); });
  return tables;
}

const std::vector<DocTable>& doc() {
  static const std::vector<DocTable> tables = read_doc(ARCHER_CONFIGURATION_DOC);
  return tables;
}

TEST(ConfigurationDoc, ListsTheTablesTheLoaderKnows) {
  std::set<std::string> documented;
  std::set<std::string> top_level;
  for (const DocTable& table : doc()) {
    EXPECT_TRUE(documented.insert(table.name).second) << "[" << table.name << "] is documented twice";
    if (table.name.find('.') == std::string::npos) top_level.insert(table.name);
  }
  std::set<std::string> known;
  for (const archer::ConfigTableKeys& table : archer::config_keys()) {
    if (!table.table.empty()) known.insert(std::string(table.table));
  }
  EXPECT_EQ(documented, known) << "the tables of docs/configuration.md and of archer/core/config_keys.h";
  const std::vector<std::string_view>& root = *archer::config_keys_of("");
  EXPECT_EQ(top_level, std::set<std::string>(root.begin(), root.end())) << "the top-level tables";
}

TEST(ConfigurationDoc, ListsEveryKeyTheLoaderKnowsAndNoOther) {
  for (const DocTable& table : doc()) {
    const std::vector<std::string_view>* known = archer::config_keys_of(table.name);
    if (known == nullptr) continue;  // reported by ListsTheTablesTheLoaderKnows
    std::multiset<std::string> documented;
    for (const DocRow& row : table.rows) documented.insert(row.key);
    EXPECT_EQ(documented, std::multiset<std::string>(known->begin(), known->end()))
        << "the keys of [" << table.name << "] in docs/configuration.md and in archer/core/config_keys.h";
  }
}

// A config file of every example of the doc, in the doc's order; every path points at a file
// that exists (the loader checks that schemas, the password file and TLS files do).
std::string config_of_the_examples(const std::filesystem::path& dir) {
  std::string text;
  for (const DocTable& table : doc()) {
    text += table.array ? "\n[[" + table.name + "]]\n" : "\n[" + table.name + "]\n";
    for (const DocRow& row : table.rows) {
      if (row.type == "table") {
        EXPECT_EQ(row.example, "see `[" + table.name + "." + row.key + "]`") << "[" << table.name << "] " << row.key;
        continue;
      }
      const auto equals = row.example.find(" = ");
      EXPECT_NE(equals, std::string::npos) << "[" << table.name << "] " << row.key << ": the example is key = value";
      if (equals == std::string::npos) continue;
      const std::string key = unquote(row.example.substr(0, equals), '"');
      if (row.key != archer::kAnyKey) {
        EXPECT_EQ(key, row.key) << "[" << table.name << "]: the example sets its own key";
      }
      std::string value = row.example.substr(equals + 3);
      if (row.type == "path") {
        const std::filesystem::path file = dir / (table.name + "." + row.key);
        std::ofstream(file) << "placeholder\n";
        // A secret file (password_file) must be private to its owner; the others do not mind.
        std::filesystem::permissions(file, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
        value = "\"" + file.string() + "\"";
      }
      text += row.example.substr(0, equals) + " = " + value + "\n";
    }
  }
  return text;
}

TEST(ConfigurationDoc, AFileOfTheExamplesLoads) {
  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() / ("archer-config-doc-test-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const std::string text = config_of_the_examples(dir);
  const archer::ConfigResult result = archer::parse_config(text, dir / "gw.toml");
  std::filesystem::remove_all(dir);
  ASSERT_TRUE(result.config) << ::testing::PrintToString(result.errors) << "\n" << text;
  // The examples are not the defaults, so these show they were read.
  const archer::Config& config = *result.config;
  EXPECT_EQ(config.mqtt.session_expiry, std::chrono::hours(2));
  EXPECT_DOUBLE_EQ(config.spool.high_water, 0.8);
  EXPECT_EQ(config.log.format, archer::log::Format::logfmt);
  ASSERT_EQ(config.ingest.size(), 1u);
  EXPECT_EQ(config.ingest[0].bind, (std::vector<std::pair<std::string, std::string>>{{"device", "device"}}));
  ASSERT_EQ(config.actuators.size(), 1u);
  EXPECT_EQ(config.actuators[0].name, "valves");
}

}  // namespace
