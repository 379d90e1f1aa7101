#include "archer/spool/record_format.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

namespace archer::spool {
namespace {

using namespace std::string_literals;

SpoolRecord reading(std::uint64_t i, std::size_t payload_size = 128) {
  SpoolRecord r;
  r.route = "telemetry";
  r.topic = "devices/dev-" + std::to_string(i % 7) + "/telemetry";
  r.payload = std::to_string(i);
  r.payload.resize(payload_size, 'x');
  r.qos = 1;
  r.content_type = "application/x-flatbuffers";
  r.user_properties = {{"traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}};
  r.received_ms = 1'790'000'000'000 + static_cast<std::int64_t>(i);
  return r;
}

// Records whose encodings together reach every field of the layout, NULs and repeats included.
std::vector<SpoolRecord> varied_records() {
  std::vector<SpoolRecord> records;
  records.push_back(reading(4));
  SpoolRecord nuls = reading(5);
  nuls.route = "r\0ute"s;
  nuls.topic = "devices/\0/telemetry"s;
  nuls.content_type = "\0"s;
  nuls.user_properties = {{"n\0"s, "\0v"s}, {"n\0"s, ""}, {"", ""}};
  nuls.payload = "\0\0\0"s;
  nuls.qos = 2;
  nuls.retained = true;
  nuls.received_ms = -1;
  records.push_back(nuls);
  SpoolRecord empty;
  records.push_back(empty);
  return records;
}

TEST(SpoolCodec, RoundTripsEmptyPayload) {
  SpoolRecord r;
  r.topic = "a";
  SpoolRecord out;
  ASSERT_TRUE(decode_record(encode_record(r), out));
  EXPECT_EQ(out, r);
  EXPECT_TRUE(out.payload.empty());
}

TEST(SpoolCodec, RoundTripsBinaryPayloadWithNuls) {
  SpoolRecord r = reading(1);
  r.payload.assign("\0\x01\xff\0binary\0", 12);
  r.qos = 2;
  r.retained = true;
  r.received_ms = -5;
  SpoolRecord out;
  ASSERT_TRUE(decode_record(encode_record(r), out));
  EXPECT_EQ(out, r);
  EXPECT_EQ(out.payload.size(), 12U);
}

TEST(SpoolCodec, RoundTripsHundredUserPropertiesInOrderWithRepeats) {
  SpoolRecord r = reading(2);
  r.user_properties.clear();
  for (int i = 0; i < 100; ++i) {
    r.user_properties.emplace_back("name-" + std::to_string(i % 10), std::string(static_cast<std::size_t>(i), 'v'));
  }
  SpoolRecord out;
  ASSERT_TRUE(decode_record(encode_record(r), out));
  EXPECT_EQ(out, r);
  EXPECT_EQ(out.user_properties.size(), 100U);
}

TEST(SpoolCodec, RoundTripsUtf8Topic) {
  SpoolRecord r = reading(3);
  r.topic = "geräte/温度計/😀/telemetry";
  r.route = "télémétrie";
  SpoolRecord out;
  ASSERT_TRUE(decode_record(encode_record(r), out));
  EXPECT_EQ(out, r);
  EXPECT_EQ(stored_size(r), 8 + encode_record(r).size());
}

TEST(SpoolCodec, RejectsTruncatedTrailingAndUnknown) {
  const std::string bytes = encode_record(reading(4));
  SpoolRecord out;
  for (std::size_t n = 0; n < bytes.size(); ++n) EXPECT_FALSE(decode_record(bytes.substr(0, n), out)) << n;
  EXPECT_FALSE(decode_record(bytes + '\0', out));
  std::string bad_version = bytes;
  bad_version[0] = 2;
  EXPECT_FALSE(decode_record(bad_version, out));
  std::string bad_qos = bytes;
  bad_qos[1] = 3;
  EXPECT_FALSE(decode_record(bad_qos, out));
}

// Spools written by earlier builds must stay readable: version 1 is pinned byte for byte.
TEST(SpoolCodec, VersionOneLayoutIsPinned) {
  SpoolRecord r;
  r.route = "r";
  r.topic = "t";
  r.user_properties = {{"a", "b"}};
  r.payload = "\0x"s;
  r.qos = 1;
  r.retained = true;
  r.received_ms = 0x0102030405060708;
  const std::string expected =
      "\x01"                              // version
      "\x05"                              // flags: qos 1, retained
      "\x08\x07\x06\x05\x04\x03\x02\x01"  // received_ms
      "\x01\x00\x00\x00r"                 // route
      "\x01\x00\x00\x00t"                 // topic
      "\x00\x00\x00\x00"                  // content_type
      "\x01\x00\x00\x00"                  // one user property
      "\x01\x00\x00\x00"
      "a"
      "\x01\x00\x00\x00"
      "b"
      "\x02\x00\x00\x00\x00x"s;  // payload
  EXPECT_EQ(encode_record(r), expected);
  SpoolRecord out;
  ASSERT_TRUE(decode_record(expected, out));
  EXPECT_EQ(out, r);
  EXPECT_EQ(stored_size(r), kStoredKeySize + expected.size());
}

TEST(SpoolCodec, RoundTripsNulsInEveryFieldAndRepeatedPropertyNames) {
  for (const SpoolRecord& r : varied_records()) {
    const std::string bytes = encode_record(r);
    SpoolRecord out;
    ASSERT_TRUE(decode_record(bytes, out));
    EXPECT_EQ(out, r);
    EXPECT_EQ(encode_record(out), bytes);
    EXPECT_EQ(stored_size(r), kStoredKeySize + bytes.size());
  }
}

TEST(SpoolCodec, RejectsEveryTruncationOfEveryRecord) {
  for (const SpoolRecord& r : varied_records()) {
    const std::string bytes = encode_record(r);
    for (std::size_t n = 0; n < bytes.size(); ++n) {
      SpoolRecord out;
      EXPECT_FALSE(decode_record(std::string_view(bytes).substr(0, n), out)) << n << " of " << bytes.size();
    }
  }
}

TEST(SpoolCodec, RejectsTrailingBytesOfAnyValueAndLength) {
  const std::string bytes = encode_record(reading(6));
  for (std::size_t extra = 1; extra <= 16; ++extra) {
    for (int value : {0x00, 0x01, 0xff}) {
      SpoolRecord out;
      EXPECT_FALSE(decode_record(bytes + std::string(extra, static_cast<char>(value)), out)) << extra;
    }
  }
}

TEST(SpoolCodec, RejectsEveryVersionButOne) {
  std::string bytes = encode_record(reading(7));
  for (int version = 0; version <= 0xff; ++version) {
    bytes[0] = static_cast<char>(version);
    SpoolRecord out;
    EXPECT_EQ(decode_record(bytes, out), version == 1) << version;
  }
}

TEST(SpoolCodec, AcceptsOnlyKnownFlagBitsAndQosUpToTwo) {
  std::string bytes = encode_record(reading(8));
  for (int flags = 0; flags <= 0xff; ++flags) {
    bytes[1] = static_cast<char>(flags);
    SpoolRecord out;
    const bool known = (flags & ~0x7) == 0 && (flags & 0x3) != 3;
    ASSERT_EQ(decode_record(bytes, out), known) << flags;
    if (!known) continue;
    EXPECT_EQ(out.qos, flags & 0x3);
    EXPECT_EQ(out.retained, (flags & 0x4) != 0);
    EXPECT_EQ(encode_record(out), bytes);
  }
}

TEST(SpoolCodec, RejectsLengthsAndCountsBeyondTheBytes) {
  SpoolRecord r;
  r.topic = "t";
  const std::string bytes = encode_record(r);
  // Offsets in version 1: route length at 10, topic length at 14, property count at 23.
  std::string long_topic = bytes;
  long_topic.replace(14, 4, "\xff\xff\xff\xff");
  std::string many_properties = bytes;
  many_properties.replace(23, 4, "\xff\xff\xff\xff");
  std::string one_property_too_many = bytes;
  one_property_too_many.replace(23, 4, "\x01\x00\x00\x00"s);
  SpoolRecord out;
  EXPECT_FALSE(decode_record(long_topic, out));
  EXPECT_FALSE(decode_record(many_properties, out));
  EXPECT_FALSE(decode_record(one_property_too_many, out));
}

TEST(SpoolCodec, FailedDecodeLeavesTheOutputUntouched) {
  const SpoolRecord before = reading(9);
  SpoolRecord out = before;
  const std::string bytes = encode_record(reading(10));
  EXPECT_FALSE(decode_record(bytes.substr(0, bytes.size() - 1), out));
  EXPECT_EQ(out, before);
}

TEST(SpoolCodec, QosAboveTwoIsNotEncodable) {
  SpoolRecord r = reading(11);
  EXPECT_TRUE(encodable(r));
  r.qos = 3;
  EXPECT_FALSE(encodable(r));
}

}  // namespace
}  // namespace archer::spool
