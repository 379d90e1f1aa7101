#pragma once
// One line per event on stderr, in one of three formats (docs/operations.md, "Logs"):
//   text    2026-11-27T09:00:00.123Z warn  ingest: message                       (the default)
//   logfmt  ts=2026-11-27T09:00:00.123Z level=warn component=ingest msg="message"
//   json    {"ts":"2026-11-27T09:00:00.123Z","level":"warn","component":"ingest","msg":"message"}
// A line that came through a RateLimit holding lines back also carries suppressed=N in logfmt and
// json (the text line says it in its message, as every caller writes it).
// Thread-safe; a line is written with a single write(2) so lines never interleave.
// systemd's journal adds its own timestamp, so ARCHER_LOG_TIMESTAMPS=0 turns ours off (every format).
#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>

#include <fmt/format.h>
#include <string_view>

namespace archer::log {

enum class Level { debug = 0, info = 1, warn = 2, error = 3 };
enum class Format { text, logfmt, json };

void set_level(Level level);
Level level();
// Parses "debug", "info", "warn", "error"; returns false on anything else.
bool parse_level(std::string_view text, Level& out);
std::string_view level_name(Level level);

void set_format(Format format);
Format format();
// Parses "text", "logfmt", "json"; returns false on anything else.
bool parse_format(std::string_view text, Format& out);
std::string_view format_name(Format format);

// One line of `format`, with its '\n'. `timestamp` empty: no time field. `suppressed` > 0 adds
// the count a RateLimit held back. Values are escaped so that a line stays one line of valid
// UTF-8 whatever the message holds (control characters, quotes, bytes that are not UTF-8).
std::string format_line(Format format, std::string_view timestamp, Level level, std::string_view component,
                        std::string_view message, std::uint64_t suppressed = 0);

void write(Level level, std::string_view component, std::string_view message);
// Forgets the count a RateLimit handed this thread for its next line: a line filtered out by the
// level must not pass its count on to the next one.
void drop_suppressed();

template <class... Args>
void debug(std::string_view component, fmt::format_string<Args...> fmt, Args&&... args) {
  if (level() <= Level::debug) write(Level::debug, component, fmt::format(fmt, std::forward<Args>(args)...));
  else
    drop_suppressed();
}
template <class... Args>
void info(std::string_view component, fmt::format_string<Args...> fmt, Args&&... args) {
  if (level() <= Level::info) write(Level::info, component, fmt::format(fmt, std::forward<Args>(args)...));
  else
    drop_suppressed();
}
template <class... Args>
void warn(std::string_view component, fmt::format_string<Args...> fmt, Args&&... args) {
  if (level() <= Level::warn) write(Level::warn, component, fmt::format(fmt, std::forward<Args>(args)...));
  else
    drop_suppressed();
}
template <class... Args>
void error(std::string_view component, fmt::format_string<Args...> fmt, Args&&... args) {
  write(Level::error, component, fmt::format(fmt, std::forward<Args>(args)...));
}

// Lets at most one line through per interval and counts the ones it held back, so a degraded data
// path (a dead letter per message, a broker away) logs a warning without flooding the journal.
// When it lets a line through, the count is also handed to the calling thread's next log line,
// which carries it as the field suppressed=N (logfmt, json).
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
