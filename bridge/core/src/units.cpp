#include "archer/core/units.h"

#include <array>
#include <charconv>
#include <limits>
#include <utility>

#include <fmt/format.h>

namespace archer {
namespace {

struct Unit {
  std::string_view suffix;
  std::uint64_t factor;
};

// Splits "256KiB" into 256 and "KiB"; false when the number part is not a plain non-negative integer.
bool split_number(std::string_view text, std::uint64_t& number, std::string_view& suffix) {
  const char* begin = text.data();
  const char* end = begin + text.size();
  const auto [stop, ec] = std::from_chars(begin, end, number);
  if (ec != std::errc{} || stop == begin) return false;
  suffix = std::string_view(stop, static_cast<std::size_t>(end - stop));
  return true;
}

template <std::size_t N>
std::optional<std::uint64_t> scale(std::string_view text, const std::array<Unit, N>& units, std::string_view what,
                                   std::string_view examples, std::string& error) {
  std::uint64_t number = 0;
  std::string_view suffix;
  if (!split_number(text, number, suffix)) {
    error = fmt::format("'{}' is not a {}: expected a whole number with a unit, e.g. {}", text, what, examples);
    return std::nullopt;
  }
  for (const Unit& unit : units) {
    if (suffix != unit.suffix) continue;
    if (number > std::numeric_limits<std::uint64_t>::max() / unit.factor) {
      error = fmt::format("'{}' is too large a {}", text, what);
      return std::nullopt;
    }
    return number * unit.factor;
  }
  error = fmt::format("'{}' has an unknown unit '{}': expected {}", text, suffix, examples);
  return std::nullopt;
}

constexpr std::array<Unit, 5> kSizeUnits{{{"", 1}, {"B", 1}, {"KiB", 1ULL << 10}, {"MiB", 1ULL << 20}, {"GiB", 1ULL << 30}}};
constexpr std::array<Unit, 4> kDurationUnits{{{"ms", 1}, {"s", 1000}, {"m", 60'000}, {"h", 3'600'000}}};

}  // namespace

std::optional<std::uint64_t> parse_size(std::string_view text, std::string& error) {
  return scale(text, kSizeUnits, "size", "B, KiB, MiB or GiB (\"256KiB\")", error);
}

std::optional<std::chrono::milliseconds> parse_duration(std::string_view text, std::string& error) {
  const auto ms = scale(text, kDurationUnits, "duration", "ms, s, m or h (\"5s\")", error);
  if (!ms) return std::nullopt;
  if (*ms > static_cast<std::uint64_t>(std::numeric_limits<std::chrono::milliseconds::rep>::max())) {
    error = fmt::format("'{}' is too long a duration", text);
    return std::nullopt;
  }
  return std::chrono::milliseconds(static_cast<std::chrono::milliseconds::rep>(*ms));
}

std::string format_size(std::uint64_t bytes) {
  for (auto it = kSizeUnits.rbegin(); it != kSizeUnits.rend(); ++it) {
    if (it->factor > 1 && bytes != 0 && bytes % it->factor == 0) return fmt::format("{}{}", bytes / it->factor, it->suffix);
  }
  return fmt::format("{}B", bytes);
}

std::string format_duration(std::chrono::milliseconds duration) {
  const auto ms = static_cast<std::uint64_t>(duration.count());
  for (auto it = kDurationUnits.rbegin(); it != kDurationUnits.rend(); ++it) {
    if (ms != 0 && ms % it->factor == 0) return fmt::format("{}{}", ms / it->factor, it->suffix);
  }
  return fmt::format("{}ms", ms);
}

}  // namespace archer
