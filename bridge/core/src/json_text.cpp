#include "archer/core/json_text.h"

#include <fmt/format.h>

namespace archer {
namespace {

// Length of the valid UTF-8 sequence starting at text[i], or 0.
std::size_t utf8_length(std::string_view text, std::size_t i) {
  const auto byte = static_cast<unsigned char>(text[i]);
  std::size_t length = 0;
  if (byte < 0x80) return 1;
  if ((byte & 0xe0) == 0xc0 && byte >= 0xc2)
    length = 2;
  else if ((byte & 0xf0) == 0xe0)
    length = 3;
  else if ((byte & 0xf8) == 0xf0 && byte <= 0xf4)
    length = 4;
  else
    return 0;
  if (i + length > text.size()) return 0;
  for (std::size_t k = 1; k < length; ++k) {
    if ((static_cast<unsigned char>(text[i + k]) & 0xc0) != 0x80) return 0;
  }
  return length;
}

}  // namespace

std::string json_string(std::string_view text) {
  std::string out = "\"";
  for (std::size_t i = 0; i < text.size();) {
    const char c = text[i];
    const auto byte = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else if (byte < 0x20) {
      out += fmt::format("\\u{:04x}", byte);
    } else if (const std::size_t length = utf8_length(text, i); length > 1) {
      out.append(text.substr(i, length));
      i += length;
      continue;
    } else if (length == 0) {
      out += fmt::format("\\u{:04x}", byte);
    } else {
      out += c;
    }
    ++i;
  }
  out += '"';
  return out;
}

}  // namespace archer
