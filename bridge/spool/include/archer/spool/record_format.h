#pragma once
// The spool's record format: how one received MQTT message is stored as an LMDB value. Pure code
// (no I/O, no state, no LMDB), unit-tested on its own (tests/unit/spool/record_format_test.cpp) and
// fuzzed (tests/fuzz/spool_record_fuzzer.cpp). Records outlive the process that wrote them, so the
// layout is versioned and version 1 never changes.
//
// Version 1 (all integers little-endian):
//   u8 version(=1) | u8 flags (bits 0-1 qos, bit 2 retained) | i64 received_ms
//   | str route | str topic | str content_type | u32 n, n x (str name, str value) | str payload
// where str = u32 length + bytes. decode_record rejects anything truncated, trailing or unknown
// (another version, a flag bit above bit 2, qos 3). So exactly one encoding exists per record:
// whatever decodes re-encodes to the same bytes.
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace archer::spool {

// One MQTT message as it was received, plus which ingest section received it.
struct SpoolRecord {
  std::string route;    // opaque to the spool: the ingest section's name
  std::string topic;    // UTF-8 MQTT topic
  std::string payload;  // raw bytes, may contain NULs
  std::uint8_t qos = 0;
  bool retained = false;
  std::string content_type;
  std::vector<std::pair<std::string, std::string>> user_properties;  // arrival order; names may repeat
  std::int64_t received_ms = 0;                                      // Unix ms

  bool operator==(const SpoolRecord&) const = default;
};

// The spool keys each value by an 8-byte sequence number; the key counts against max_size too.
inline constexpr std::uint64_t kStoredKeySize = 8;

// False when the record has no version-1 encoding: qos > 2, or a field (or the number of user
// properties) over 2^32 - 1. encode_record must only be given encodable records.
bool encodable(const SpoolRecord& record);
std::string encode_record(const SpoolRecord& record);
// True and `out` replaced when `bytes` is exactly one version-1 record; false and `out` untouched
// otherwise. Never reads outside `bytes`; allocates a small multiple of bytes.size() at most (a
// property count is checked against the bytes left before anything is reserved for it).
bool decode_record(std::string_view bytes, SpoolRecord& out);
// Bytes a record counts against max_size: kStoredKeySize + encode_record(record).size().
std::uint64_t stored_size(const SpoolRecord& record);

}  // namespace archer::spool
