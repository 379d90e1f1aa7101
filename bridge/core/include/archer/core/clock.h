#pragma once
// Wall-clock time as the records carry it: Unix milliseconds, and its UTC text form.
#include <cstdint>
#include <string>

namespace archer {

std::int64_t unix_ms();
// "2026-11-27T09:00:00.123Z"
std::string format_utc(std::int64_t unix_ms);

}  // namespace archer
