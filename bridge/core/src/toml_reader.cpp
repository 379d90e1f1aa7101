#include "archer/core/toml_reader.h"

#include <algorithm>
#include <fstream>
#include <sstream>
#include <tuple>

#include <fmt/format.h>

#include "archer/core/units.h"

namespace archer {

SourcePosition position_of(const toml::source_region& region) {
  return SourcePosition{region.begin.line, region.begin.column};
}

TableReader::TableReader(const toml::table& table, std::string path, ConfigErrors& errors, KeyPositions* positions,
                         const std::vector<std::string_view>* accepted)
    : table_(table), path_(std::move(path)), errors_(errors), positions_(positions), accepted_(accepted) {
  if (positions_ != nullptr && !path_.empty()) positions_->add(path_, position_of(table_.source()));
}

std::string TableReader::key_path(std::string_view key) const {
  return path_.empty() ? std::string(key) : path_ + "." + std::string(key);
}

const toml::node* TableReader::node(std::string_view key) {
  if (accepted_ != nullptr && std::find(accepted_->begin(), accepted_->end(), key) == accepted_->end()) {
    errors_.add(position_of(table_.source()), key_path(key), "read by the loader but missing from its key table");
  }
  known_.insert(std::string(key));
  const toml::node* found = table_.get(key);
  if (found != nullptr && positions_ != nullptr) positions_->add(key_path(key), position_of(*found));
  return found;
}

void TableReader::error(std::string_view key, std::string_view message) {
  const toml::node* found = table_.get(key);
  errors_.add(position_of(found != nullptr ? found->source() : table_.source()), key_path(key), message);
}

void TableReader::missing(std::string_view key) {
  errors_.add(position_of(table_.source()), key_path(key), "required key is missing");
}

std::optional<std::string> TableReader::string(std::string_view key, bool required) {
  const toml::node* found = node(key);
  if (found == nullptr) {
    if (required) missing(key);
    return std::nullopt;
  }
  if (const auto* value = found->as_string()) return value->get();
  error(key, fmt::format("expected a string, found {}", type_name(*found)));
  return std::nullopt;
}

std::optional<std::int64_t> TableReader::integer(std::string_view key, std::int64_t min, std::int64_t max) {
  const toml::node* found = node(key);
  if (found == nullptr) return std::nullopt;
  const auto* value = found->as_integer();
  if (value == nullptr) {
    error(key, "expected an integer");
    return std::nullopt;
  }
  if (value->get() < min || value->get() > max) {
    error(key, fmt::format("{} is out of range [{}, {}]", value->get(), min, max));
    return std::nullopt;
  }
  return value->get();
}

std::optional<std::chrono::milliseconds> TableReader::duration(std::string_view key) {
  const toml::node* found = node(key);
  if (found == nullptr) return std::nullopt;
  const auto* value = found->as_string();
  if (value == nullptr) {
    error(key, "expected a duration string with a unit, e.g. \"5s\"");
    return std::nullopt;
  }
  std::string problem;
  auto parsed = parse_duration(value->get(), problem);
  if (!parsed) error(key, problem);
  return parsed;
}

std::optional<std::uint64_t> TableReader::size(std::string_view key) {
  const toml::node* found = node(key);
  if (found == nullptr) return std::nullopt;
  if (const auto* bytes = found->as_integer()) {
    if (bytes->get() >= 0) return static_cast<std::uint64_t>(bytes->get());
    error(key, "a size must not be negative");
    return std::nullopt;
  }
  const auto* value = found->as_string();
  if (value == nullptr) {
    error(key, "expected a size, e.g. \"256KiB\"");
    return std::nullopt;
  }
  std::string problem;
  auto parsed = parse_size(value->get(), problem);
  if (!parsed) error(key, problem);
  return parsed;
}

std::optional<TopicTemplate> TableReader::topic_template(std::string_view key, bool required) {
  auto text = string(key, required);
  if (!text) return std::nullopt;
  std::string problem;
  auto parsed = TopicTemplate::parse(*text, problem);
  if (!parsed) error(key, problem);
  return parsed;
}

const toml::table* TableReader::table(std::string_view key) {
  const toml::node* found = node(key);
  if (found == nullptr) return nullptr;
  if (const auto* value = found->as_table()) return value;
  error(key, "expected a table");
  return nullptr;
}

void TableReader::report_unknown_keys() {
  for (const auto& [key, value] : table_) {
    if (known_.count(std::string(key.str())) == 0) {
      errors_.add(position_of(key.source()), key_path(key.str()), "unknown key");
    }
  }
}

std::optional<std::string> read_config_text(const std::filesystem::path& file, std::string& error) {
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    error = fmt::format("{}: cannot be read", file.string());
    return std::nullopt;
  }
  std::ostringstream text;
  text << in.rdbuf();
  return std::move(text).str();
}

std::optional<toml::table> parse_toml(std::string_view text, const std::string& file, std::string& error) {
  try {
    return toml::parse(text, file);
  } catch (const toml::parse_error& failure) {
    error = fmt::format("{}:{}:{}: {}", file, failure.source().begin.line, failure.source().begin.column,
                        failure.description());
    return std::nullopt;
  }
}

std::vector<std::pair<const toml::key*, const toml::node*>> in_file_order(const toml::table& table) {
  std::vector<std::pair<const toml::key*, const toml::node*>> entries;
  for (const auto& [key, value] : table) entries.emplace_back(&key, &value);
  std::sort(entries.begin(), entries.end(), [](const auto& a, const auto& b) {
    return std::tie(a.first->source().begin.line, a.first->source().begin.column) <
           std::tie(b.first->source().begin.line, b.first->source().begin.column);
  });
  return entries;
}

std::optional<std::string> scalar_text(const toml::node& node) {
  if (const auto* text = node.as_string()) return text->get();
  if (const auto* number = node.as_integer()) return std::to_string(number->get());
  if (const auto* flag = node.as_boolean()) return std::string(flag->get() ? "true" : "false");
  if (const auto* real = node.as_floating_point()) return fmt::format("{}", real->get());
  return std::nullopt;
}

std::string_view type_name(const toml::node& node) {
  return toml::impl::node_type_friendly_names[static_cast<int>(node.type())];
}

}  // namespace archer
