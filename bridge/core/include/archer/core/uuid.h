#pragma once
// UUIDv7 (RFC 9562): 48-bit Unix milliseconds, then 74 random bits. One generator hands out strictly
// increasing ids, even within a millisecond or when the wall clock steps back, so record ids sort in
// the order they were made. Thread-safe.
#include <array>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <string_view>

namespace archer {

struct Uuid {
  std::array<std::uint8_t, 16> bytes{};

  // Canonical lower-case text: 8-4-4-4-12 hex digits.
  std::string to_string() const;
  static std::optional<Uuid> parse(std::string_view text);
  std::int64_t unix_ms() const;
  int version() const { return bytes[6] >> 4; }
  auto operator<=>(const Uuid&) const = default;
};

class UuidV7Generator {
 public:
  using Clock = std::function<std::int64_t()>;  // Unix milliseconds

  UuidV7Generator();  // system clock, seeded from std::random_device
  UuidV7Generator(Clock clock, std::uint64_t seed);

  Uuid next();

 private:
  Clock clock_;
  std::mutex mutex_;
  std::mt19937_64 random_;
  std::int64_t last_ms_ = -1;
  // The 74 bits after the timestamp, as rand_a (12 bits) and rand_b (62 bits).
  std::uint16_t rand_a_ = 0;
  std::uint64_t rand_b_ = 0;
};

// The process-wide generator for record ids.
Uuid new_record_id();

}  // namespace archer
