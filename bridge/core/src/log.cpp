#include "archer/core/log.h"

#include <unistd.h>

#include <cstdlib>
#include <string>

#include "archer/core/clock.h"
#include "archer/core/secrets.h"

namespace archer::log {
namespace {

std::atomic<Level> g_level{Level::info};
std::atomic<Format> g_format{Format::text};
// What the last RateLimit::allow() of this thread held back, for the thread's next line.
thread_local std::uint64_t t_suppressed = 0;

bool timestamps_enabled() {
  static const bool enabled = [] {
    const char* value = std::getenv("ARCHER_LOG_TIMESTAMPS");
    return value == nullptr || std::string_view(value) != "0";
  }();
  return enabled;
}

// The length of the UTF-8 sequence at `text[i]`, or 0 when it is not one (a stray continuation
// byte, an overlong form, a surrogate, beyond U+10FFFF, cut short).
std::size_t utf8_length(std::string_view text, std::size_t i) {
  const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(text[k]); };
  const unsigned char lead = byte(i);
  std::size_t length = 0;
  unsigned char min_second = 0x80, max_second = 0xBF;
  if (lead < 0x80) return 1;
  if (lead >= 0xC2 && lead <= 0xDF)
    length = 2;
  else if (lead >= 0xE0 && lead <= 0xEF) {
    length = 3;
    if (lead == 0xE0) min_second = 0xA0;  // overlong
    if (lead == 0xED) max_second = 0x9F;  // surrogates
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    length = 4;
    if (lead == 0xF0) min_second = 0x90;  // overlong
    if (lead == 0xF4) max_second = 0x8F;  // beyond U+10FFFF
  } else {
    return 0;
  }
  if (i + length > text.size()) return 0;
  if (byte(i + 1) < min_second || byte(i + 1) > max_second) return 0;
  for (std::size_t k = 2; k < length; ++k) {
    if (byte(i + k) < 0x80 || byte(i + k) > 0xBF) return 0;
  }
  return length;
}

// Escapes `text` for a double-quoted JSON or logfmt string: quotes, backslashes and control
// characters as JSON escapes, every byte that is not part of valid UTF-8 as U+FFFD.
void append_escaped(std::string& out, std::string_view text) {
  for (std::size_t i = 0; i < text.size();) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    switch (c) {
      case '"':
        out += "\\\"";
        ++i;
        continue;
      case '\\':
        out += "\\\\";
        ++i;
        continue;
      case '\n':
        out += "\\n";
        ++i;
        continue;
      case '\r':
        out += "\\r";
        ++i;
        continue;
      case '\t':
        out += "\\t";
        ++i;
        continue;
      default:
        break;
    }
    if (c < 0x20 || c == 0x7F) {
      out += fmt::format("\\u{:04x}", c);
      ++i;
      continue;
    }
    const std::size_t length = utf8_length(text, i);
    if (length == 0) {
      out += "\xEF\xBF\xBD";
      ++i;
      continue;
    }
    out.append(text.substr(i, length));
    i += length;
  }
}

void append_json_string(std::string& out, std::string_view text) {
  out += '"';
  append_escaped(out, text);
  out += '"';
}

// A logfmt value: bare when it can be, else quoted and escaped as JSON strings are.
void append_logfmt_value(std::string& out, std::string_view text) {
  std::string escaped;
  append_escaped(escaped, text);
  const bool bare = !text.empty() && escaped == text && text.find_first_of(" =") == std::string_view::npos;
  if (bare) {
    out += text;
    return;
  }
  out += '"';
  out += escaped;
  out += '"';
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

std::string_view level_name(Level level) {
  switch (level) {
    case Level::debug:
      return "debug";
    case Level::info:
      return "info";
    case Level::warn:
      return "warn";
    case Level::error:
      return "error";
  }
  return "?";
}

void set_format(Format format) { g_format.store(format, std::memory_order_relaxed); }
Format format() { return g_format.load(std::memory_order_relaxed); }

bool parse_format(std::string_view text, Format& out) {
  if (text == "text")
    out = Format::text;
  else if (text == "logfmt")
    out = Format::logfmt;
  else if (text == "json")
    out = Format::json;
  else
    return false;
  return true;
}

std::string_view format_name(Format format) {
  switch (format) {
    case Format::text:
      return "text";
    case Format::logfmt:
      return "logfmt";
    case Format::json:
      return "json";
  }
  return "?";
}

std::string format_line(Format format, std::string_view timestamp, Level level, std::string_view component,
                        std::string_view message, std::uint64_t suppressed) {
  std::string line;
  line.reserve(96 + message.size());
  switch (format) {
    case Format::text: {
      // Today's line, byte for byte: the message as it is, the level padded to five columns.
      if (!timestamp.empty()) {
        line += timestamp;
        line += ' ';
      }
      line += fmt::format("{:<5} ", level_name(level));
      line += component;
      line += ": ";
      line += message;
      break;
    }
    case Format::logfmt: {
      if (!timestamp.empty()) {
        line += "ts=";
        append_logfmt_value(line, timestamp);
        line += ' ';
      }
      line += "level=";
      line += level_name(level);
      line += " component=";
      append_logfmt_value(line, component);
      line += " msg=";
      append_logfmt_value(line, message);
      if (suppressed > 0) line += fmt::format(" suppressed={}", suppressed);
      break;
    }
    case Format::json: {
      line += '{';
      if (!timestamp.empty()) {
        line += "\"ts\":";
        append_json_string(line, timestamp);
        line += ',';
      }
      line += "\"level\":";
      append_json_string(line, level_name(level));
      line += ",\"component\":";
      append_json_string(line, component);
      line += ",\"msg\":";
      append_json_string(line, message);
      if (suppressed > 0) line += fmt::format(",\"suppressed\":{}", suppressed);
      line += '}';
      break;
    }
  }
  line += '\n';
  return line;
}

void drop_suppressed() { t_suppressed = 0; }

void write(Level level, std::string_view component, std::string_view message) {
  const std::uint64_t suppressed = t_suppressed;
  t_suppressed = 0;
  const std::string timestamp = timestamps_enabled() ? format_utc(unix_ms()) : std::string();
  // Whatever quotes a secret (a library's message, an error), the line never carries it.
  const std::string line =
      format_line(format(), timestamp, level, component, without_remembered_secrets(std::string(message)), suppressed);
  // One write(2) per line: concurrent lines never interleave. A failed write has nowhere to go.
  [[maybe_unused]] const auto written = ::write(STDERR_FILENO, line.data(), line.size());
}

bool RateLimit::allow(std::uint64_t& suppressed) { return allow(suppressed, unix_ms()); }

bool RateLimit::allow(std::uint64_t& suppressed, std::int64_t now) {
  std::int64_t next = next_ms_.load(std::memory_order_relaxed);
  if (now >= next && next_ms_.compare_exchange_strong(next, now + interval_ms_, std::memory_order_relaxed)) {
    suppressed = suppressed_.exchange(0, std::memory_order_relaxed);
    t_suppressed = suppressed;
    return true;
  }
  suppressed_.fetch_add(1, std::memory_order_relaxed);
  return false;
}

}  // namespace archer::log
