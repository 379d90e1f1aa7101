#pragma once
// Sizes ("256KiB", "1GiB", "512", "64B") and durations ("500ms", "5s", "2m", "1h") as written in
// the config. Parsing is strict: a unit must be one of the listed ones, the number a plain integer.
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace archer {

// Returns the number of bytes, or nullopt with `error` saying what was wrong.
std::optional<std::uint64_t> parse_size(std::string_view text, std::string& error);

std::optional<std::chrono::milliseconds> parse_duration(std::string_view text, std::string& error);

// The shortest exact spelling: 262144 -> "256KiB", 90000ms -> "90s".
std::string format_size(std::uint64_t bytes);
std::string format_duration(std::chrono::milliseconds duration);

}  // namespace archer
