#include "archer/core/uuid.h"

#include <chrono>

namespace archer {
namespace {

constexpr std::uint64_t kRandBMask = (std::uint64_t{1} << 62) - 1;
constexpr std::uint16_t kRandAMask = 0x0fff;

std::int64_t system_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

std::string Uuid::to_string() const {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(36);
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out += '-';
    out += kHex[bytes[i] >> 4];
    out += kHex[bytes[i] & 0x0f];
  }
  return out;
}

std::optional<Uuid> Uuid::parse(std::string_view text) {
  if (text.size() != 36) return std::nullopt;
  Uuid uuid;
  std::size_t byte = 0;
  for (std::size_t i = 0; i < text.size();) {
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (text[i] != '-') return std::nullopt;
      ++i;
      continue;
    }
    const int high = hex_value(text[i]);
    const int low = hex_value(text[i + 1]);
    if (high < 0 || low < 0) return std::nullopt;
    uuid.bytes[byte++] = static_cast<std::uint8_t>(high << 4 | low);
    i += 2;
  }
  return uuid;
}

std::int64_t Uuid::unix_ms() const {
  std::int64_t ms = 0;
  for (std::size_t i = 0; i < 6; ++i) ms = ms << 8 | bytes[i];
  return ms;
}

UuidV7Generator::UuidV7Generator() : UuidV7Generator(system_ms, std::random_device{}()) {}

UuidV7Generator::UuidV7Generator(Clock clock, std::uint64_t seed) : clock_(std::move(clock)), random_(seed) {}

Uuid UuidV7Generator::next() {
  std::lock_guard lock(mutex_);
  const std::int64_t now = clock_();
  if (now > last_ms_) {
    last_ms_ = now;
    const std::uint64_t bits = random_();
    rand_a_ = static_cast<std::uint16_t>(bits & kRandAMask);
    // Leave headroom below the top of rand_b so increments within a millisecond rarely carry.
    rand_b_ = random_() & (kRandBMask >> 1);
  } else if (++rand_b_ > kRandBMask) {
    // Same millisecond (or the clock stepped back): count up from the last id so order holds.
    rand_b_ = 0;
    if (++rand_a_ > kRandAMask) {
      rand_a_ = 0;
      ++last_ms_;
    }
  }
  Uuid uuid;
  const auto ms = static_cast<std::uint64_t>(last_ms_);
  for (std::size_t i = 0; i < 6; ++i) uuid.bytes[i] = static_cast<std::uint8_t>(ms >> (8 * (5 - i)));
  uuid.bytes[6] = static_cast<std::uint8_t>(0x70 | (rand_a_ >> 8));
  uuid.bytes[7] = static_cast<std::uint8_t>(rand_a_);
  uuid.bytes[8] = static_cast<std::uint8_t>(0x80 | (rand_b_ >> 56));
  for (std::size_t i = 9; i < 16; ++i) uuid.bytes[i] = static_cast<std::uint8_t>(rand_b_ >> (8 * (15 - i)));
  return uuid;
}

Uuid new_record_id() {
  static UuidV7Generator generator;
  return generator.next();
}

}  // namespace archer
