#include "archer/core/log.h"

#include <unistd.h>

#include <cstdlib>
#include <ctime>
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

std::int64_t now_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
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
    const std::int64_t ms = now_ms();
    const std::time_t seconds = static_cast<std::time_t>(ms / 1000);
    std::tm utc{};
    gmtime_r(&seconds, &utc);
    line += fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z ", utc.tm_year + 1900, utc.tm_mon + 1,
                        utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec, ms % 1000);
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

bool RateLimit::allow(std::uint64_t& suppressed) {
  const std::int64_t now = now_ms();
  std::int64_t next = next_ms_.load(std::memory_order_relaxed);
  if (now >= next && next_ms_.compare_exchange_strong(next, now + interval_ms_, std::memory_order_relaxed)) {
    suppressed = suppressed_.exchange(0, std::memory_order_relaxed);
    return true;
  }
  suppressed_.fetch_add(1, std::memory_order_relaxed);
  return false;
}

}  // namespace archer::log
