#include "archer/core/log.h"

#include "archer/core/clock.h"

#include <unistd.h>

#include <cstdlib>
#include <string>

namespace archer::log {
namespace {

std::atomic<Level> g_level{Level::info};

bool timestamps_enabled() {
  static const bool enabled = [] {
    const char* value = std::getenv("ARCHER_LOG_TIMESTAMPS");
    return value == nullptr || std::string_view(value) != "0";
  }();
  return enabled;
}

std::string_view level_name(Level level) {
  switch (level) {
    case Level::debug: return "debug";
    case Level::info: return "info ";
    case Level::warn: return "warn ";
    case Level::error: return "error";
  }
  return "?    ";
}

}  // namespace

void set_level(Level level) { g_level.store(level, std::memory_order_relaxed); }
Level level() { return g_level.load(std::memory_order_relaxed); }

bool parse_level(std::string_view text, Level& out) {
  if (text == "debug") out = Level::debug;
  else if (text == "info") out = Level::info;
  else if (text == "warn") out = Level::warn;
  else if (text == "error") out = Level::error;
  else return false;
  return true;
}

void write(Level level, std::string_view component, std::string_view message) {
  std::string line;
  line.reserve(64 + message.size());
  if (timestamps_enabled()) {
    line += format_utc(unix_ms());
    line += ' ';
  }
  line += level_name(level);
  line += ' ';
  line += component;
  line += ": ";
  line += message;
  line += '\n';
  // One write(2) per line: concurrent lines never interleave. A failed write has nowhere to go.
  [[maybe_unused]] const auto written = ::write(STDERR_FILENO, line.data(), line.size());
}

bool RateLimit::allow(std::uint64_t& suppressed) { return allow(suppressed, unix_ms()); }

bool RateLimit::allow(std::uint64_t& suppressed, std::int64_t now) {
  std::int64_t next = next_ms_.load(std::memory_order_relaxed);
  if (now >= next && next_ms_.compare_exchange_strong(next, now + interval_ms_, std::memory_order_relaxed)) {
    suppressed = suppressed_.exchange(0, std::memory_order_relaxed);
    return true;
  }
  suppressed_.fetch_add(1, std::memory_order_relaxed);
  return false;
}

}  // namespace archer::log
