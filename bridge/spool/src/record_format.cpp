#include "archer/spool/record_format.h"

#include <algorithm>
#include <array>
#include <limits>

namespace archer::spool {
namespace {

constexpr std::uint8_t kFormatVersion = 1;
constexpr std::uint32_t kMaxField = std::numeric_limits<std::uint32_t>::max();
constexpr std::uint8_t kQosMask = 0x3;
constexpr std::uint8_t kRetainedBit = 0x4;
// Fixed part: version, flags, received_ms, the lengths of route, topic, content_type and payload,
// and the property count. Each property adds two lengths.
constexpr std::uint64_t kFixedSize = 1 + 1 + 8 + 4 * 4 + 4;
constexpr std::uint64_t kPropertyOverhead = 4 + 4;

void put_u32(std::string& out, std::uint32_t v) {
  std::array<char, 4> b{};
  for (std::size_t i = 0; i < b.size(); ++i) b[i] = static_cast<char>((v >> (8 * i)) & 0xffU);
  out.append(b.data(), b.size());
}

void put_u64(std::string& out, std::uint64_t v) {
  std::array<char, 8> b{};
  for (std::size_t i = 0; i < b.size(); ++i) b[i] = static_cast<char>((v >> (8 * i)) & 0xffU);
  out.append(b.data(), b.size());
}

void put_str(std::string& out, std::string_view s) {
  put_u32(out, static_cast<std::uint32_t>(s.size()));
  out.append(s);
}

// Reads little-endian integers and length-prefixed strings; every read checks what is left.
class Reader {
 public:
  explicit Reader(std::string_view bytes) : bytes_(bytes) {}
  bool u8(std::uint8_t& v) {
    if (remaining() < 1) return false;
    v = static_cast<std::uint8_t>(bytes_[pos_++]);
    return true;
  }
  bool u32(std::uint32_t& v) {
    if (remaining() < 4) return false;
    v = 0;
    for (std::size_t i = 0; i < 4; ++i) v |= std::uint32_t{static_cast<std::uint8_t>(bytes_[pos_ + i])} << (8 * i);
    pos_ += 4;
    return true;
  }
  bool u64(std::uint64_t& v) {
    if (remaining() < 8) return false;
    v = 0;
    for (std::size_t i = 0; i < 8; ++i) v |= std::uint64_t{static_cast<std::uint8_t>(bytes_[pos_ + i])} << (8 * i);
    pos_ += 8;
    return true;
  }
  bool str(std::string& s) {
    std::uint32_t n = 0;
    if (!u32(n) || remaining() < n) return false;
    s.assign(bytes_.substr(pos_, n));
    pos_ += n;
    return true;
  }
  std::size_t remaining() const { return bytes_.size() - pos_; }

 private:
  std::string_view bytes_;
  std::size_t pos_ = 0;
};

std::uint64_t encoded_size(const SpoolRecord& r) {
  std::uint64_t n = kFixedSize + r.route.size() + r.topic.size() + r.content_type.size() + r.payload.size();
  for (const auto& [name, value] : r.user_properties) n += kPropertyOverhead + name.size() + value.size();
  return n;
}

}  // namespace

bool encodable(const SpoolRecord& r) {
  auto fits = [](std::string_view s) { return s.size() <= kMaxField; };
  if (!fits(r.route) || !fits(r.topic) || !fits(r.content_type) || !fits(r.payload)) return false;
  if (r.user_properties.size() > kMaxField || r.qos > 2) return false;
  return std::all_of(r.user_properties.begin(), r.user_properties.end(),
                     [&](const auto& p) { return fits(p.first) && fits(p.second); });
}

std::string encode_record(const SpoolRecord& r) {
  std::string out;
  out.reserve(static_cast<std::size_t>(encoded_size(r)));
  out.push_back(static_cast<char>(kFormatVersion));
  out.push_back(static_cast<char>((r.qos & kQosMask) | (r.retained ? kRetainedBit : 0U)));
  put_u64(out, static_cast<std::uint64_t>(r.received_ms));
  put_str(out, r.route);
  put_str(out, r.topic);
  put_str(out, r.content_type);
  put_u32(out, static_cast<std::uint32_t>(r.user_properties.size()));
  for (const auto& [name, value] : r.user_properties) {
    put_str(out, name);
    put_str(out, value);
  }
  put_str(out, r.payload);
  return out;
}

bool decode_record(std::string_view bytes, SpoolRecord& out) {
  Reader in(bytes);
  std::uint8_t version = 0;
  std::uint8_t flags = 0;
  std::uint64_t received = 0;
  std::uint32_t properties = 0;
  SpoolRecord r;
  if (!in.u8(version) || version != kFormatVersion) return false;
  if (!in.u8(flags) || (flags & ~(kQosMask | kRetainedBit)) != 0 || (flags & kQosMask) == 3) return false;
  if (!in.u64(received) || !in.str(r.route) || !in.str(r.topic) || !in.str(r.content_type)) return false;
  if (!in.u32(properties) || properties > in.remaining() / kPropertyOverhead) return false;
  r.user_properties.resize(properties);
  for (auto& [name, value] : r.user_properties) {
    if (!in.str(name) || !in.str(value)) return false;
  }
  if (!in.str(r.payload) || in.remaining() != 0) return false;
  r.qos = static_cast<std::uint8_t>(flags & kQosMask);
  r.retained = (flags & kRetainedBit) != 0;
  r.received_ms = static_cast<std::int64_t>(received);
  out = std::move(r);
  return true;
}

std::uint64_t stored_size(const SpoolRecord& record) { return kStoredKeySize + encoded_size(record); }

}  // namespace archer::spool
