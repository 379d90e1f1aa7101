#include "archer/core/id_check.h"

#include <fmt/format.h>

#include "archer/core/topic_template.h"

namespace archer {
namespace {

constexpr std::size_t kMaxIdBytes = 128;

// RFC 3629: no overlong forms, no surrogates, nothing above U+10FFFF.
bool is_utf8(std::string_view text) {
  std::size_t i = 0;
  while (i < text.size()) {
    const auto c = static_cast<unsigned char>(text[i]);
    std::size_t extra = 0;
    unsigned char low = 0x80;
    unsigned char high = 0xBF;
    if (c < 0x80) {
      ++i;
      continue;
    }
    if (c >= 0xC2 && c <= 0xDF) {
      extra = 1;
    } else if (c >= 0xE0 && c <= 0xEF) {
      extra = 2;
      if (c == 0xE0) low = 0xA0;   // overlong
      if (c == 0xED) high = 0x9F;  // surrogates
    } else if (c >= 0xF0 && c <= 0xF4) {
      extra = 3;
      if (c == 0xF0) low = 0x90;   // overlong
      if (c == 0xF4) high = 0x8F;  // above U+10FFFF
    } else {
      return false;
    }
    if (i + extra >= text.size()) return false;  // cut short
    for (std::size_t k = 1; k <= extra; ++k) {
      const auto next = static_cast<unsigned char>(text[i + k]);
      const unsigned char lo = k == 1 ? low : 0x80;
      const unsigned char hi = k == 1 ? high : 0xBF;
      if (next < lo || next > hi) return false;
    }
    i += extra + 1;
  }
  return true;
}

bool is_id_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
         c == ':' || c == '-';
}

}  // namespace

std::string id_problem(std::string_view value) {
  if (value.empty()) return "is empty";
  if (value.find('\0') != std::string_view::npos) return "contains a NUL byte";
  if (value.find('/') != std::string_view::npos) return "contains '/' (a topic level separator)";
  if (value.find('+') != std::string_view::npos) return "contains the MQTT wildcard '+'";
  if (value.find('#') != std::string_view::npos) return "contains the MQTT wildcard '#'";
  if (!is_utf8(value)) return "is not valid UTF-8";
  if (value.size() > kMaxIdBytes)
    return fmt::format("is {} bytes long, over the limit of {}", value.size(), kMaxIdBytes);
  for (char c : value) {
    if (!is_id_char(c)) return fmt::format("contains '{}' (allowed: A-Z a-z 0-9 . _ : -)", printable_id({&c, 1}));
  }
  // The two rules must agree; is_valid_id is the one the rest of the code base asks.
  return is_valid_id(value) ? "" : "is not a valid id";
}

std::string printable_id(std::string_view value, std::size_t max_bytes) {
  std::string out;
  const std::size_t shown = std::min(value.size(), max_bytes);
  for (std::size_t i = 0; i < shown; ++i) {
    const auto c = static_cast<unsigned char>(value[i]);
    if (c >= 0x20 && c < 0x7F && c != '\\') {
      out += static_cast<char>(c);
    } else {
      out += fmt::format("\\x{:02x}", c);
    }
  }
  if (shown < value.size()) out += fmt::format("... ({} bytes)", value.size());
  return out;
}

}  // namespace archer
