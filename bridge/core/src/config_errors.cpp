#include "archer/core/config_errors.h"

#include <algorithm>
#include <tuple>

#include <fmt/format.h>

namespace archer {
namespace {

// "ingest[0].bind.device" -> "ingest[0].bind" -> "ingest[0]" -> "ingest" -> "". A quoted part
// (kafka."linger.ms") is one key, dots and all.
std::string_view parent_path(std::string_view key_path) {
  std::size_t cut = 0;
  bool quoted = false;
  for (std::size_t i = 0; i < key_path.size(); ++i) {
    if (key_path[i] == '"')
      quoted = !quoted;
    else if (!quoted && (key_path[i] == '.' || key_path[i] == '['))
      cut = i;
  }
  return key_path.substr(0, cut);
}

}  // namespace

std::string format_config_error(std::string_view file, SourcePosition where, std::string_view key,
                                std::string_view message) {
  return fmt::format("{}:{}:{}: {}: {}", file, where.line, where.column, key, message);
}

void ConfigErrors::add(SourcePosition where, std::string_view key, std::string_view message) {
  entries_.push_back({where, format_config_error(file_, where, key, message)});
}

std::vector<std::string> ConfigErrors::sorted() const {
  std::vector<Entry> entries = entries_;
  std::stable_sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
    return std::tie(a.where.line, a.where.column) < std::tie(b.where.line, b.where.column);
  });
  std::vector<std::string> out;
  out.reserve(entries.size());
  for (Entry& entry : entries) out.push_back(std::move(entry.text));
  return out;
}

void KeyPositions::add(std::string key_path, SourcePosition where) { positions_[std::move(key_path)] = where; }

SourcePosition KeyPositions::of(std::string_view key_path) const {
  for (std::string_view path = key_path; !path.empty(); path = parent_path(path)) {
    if (auto found = positions_.find(path); found != positions_.end()) return found->second;
  }
  return SourcePosition{};
}

}  // namespace archer
