#pragma once
// The one JSON string escaper of the project: archer-ctl's line-per-record output and the daemon's
// /status.json both write their JSON by hand with it.
#include <string>
#include <string_view>

namespace archer {

// `text` as a JSON string literal, quotes included. Bytes that are not valid UTF-8 are escaped as
// \u00XX of their byte value, so any payload prints as one valid JSON line.
std::string json_string(std::string_view text);

}  // namespace archer
