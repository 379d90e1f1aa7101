#pragma once
// One line per event on stderr: `2026-11-27T09:00:00.123Z warn  ingest: message`.
// Thread-safe; a line is written with a single write(2) so lines never interleave.
// systemd's journal adds its own timestamp, so ARCHER_LOG_TIMESTAMPS=0 turns ours off.
#include <atomic>
#include <chrono>
#include <cstdint>

#include <fmt/format.h>
#include <string_view>

namespace archer::log {

enum class Level { debug = 0, info = 1, warn = 2, error = 3 };

void set_level(Level level);
Level level();
// Parses "debug", "info", "warn", "error"; returns false on anything else.
bool parse_level(std::string_view text, Level& out);

void write(Level level, std::string_view component, std::string_view message);

template <class... Args>
void debug(std::string_view component, fmt::format_string<Args...> fmt, Args&&... args) {
  if (level() <= Level::debug) write(Level::debug, component, fmt::format(fmt, std::forward<Args>(args)...));
}
template <class... Args>
void info(std::string_view component, fmt::format_string<Args...> fmt, Args&&... args) {
  if (level() <= Level::info) write(Level::info, component, fmt::format(fmt, std::forward<Args>(args)...));
}
template <class... Args>
void warn(std::string_view component, fmt::format_string<Args...> fmt, Args&&... args) {
  if (level() <= Level::warn) write(Level::warn, component, fmt::format(fmt, std::forward<Args>(args)...));
}
template <class... Args>
void error(std::string_view component, fmt::format_string<Args...> fmt, Args&&... args) {
  write(Level::error, component, fmt::format(fmt, std::forward<Args>(args)...));
}

// Lets at most one line through per interval and counts the ones it held back, so a degraded data
// path (a dead letter per message, a broker away) logs a warning without flooding the journal.
class RateLimit {
 public:
  explicit RateLimit(std::chrono::milliseconds interval) : interval_ms_(interval.count()) {}
  // True when a line may be written now; `suppressed` is set to how many were held back since.
  bool allow(std::uint64_t& suppressed);
  // The same at a given time (Unix ms), for tests.
  bool allow(std::uint64_t& suppressed, std::int64_t now_ms);

 private:
  std::int64_t interval_ms_;
  std::atomic<std::int64_t> next_ms_{0};
  std::atomic<std::uint64_t> suppressed_{0};
};

}  // namespace archer::log
