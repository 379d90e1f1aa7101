#pragma once
// Minimal JSON output for archer-ctl's line-per-record printing.
#include <string>
#include <string_view>

namespace archer::ctl {

// `text` as a JSON string literal, quotes included. Bytes that are not valid UTF-8 are escaped as
// \u00XX of their byte value, so any payload prints as one valid JSON line.
std::string json_string(std::string_view text);

}  // namespace archer::ctl
