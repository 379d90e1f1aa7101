// libFuzzer target for the spool's record format (archer/spool/record_format.h): whatever the
// bytes, decode_record must not crash, read out of bounds or leak; and since version 1 has exactly
// one encoding per record, whatever decodes must re-encode to the same bytes, count the same stored
// size, and stop decoding when one byte is cut off or added.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "archer/spool/record_format.h"

namespace {

using archer::spool::SpoolRecord;

void require(bool condition) {
  if (!condition) std::abort();
}

}  // namespace

// libFuzzer hands over an exact-size heap copy of the input, so ASan sees any read past its end.
extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  SpoolRecord record;
  if (!archer::spool::decode_record(bytes, record)) return 0;

  require(archer::spool::encodable(record));
  require(archer::spool::encode_record(record) == bytes);
  require(archer::spool::stored_size(record) == archer::spool::kStoredKeySize + size);

  // Decoding into a record that already holds data replaces all of it.
  SpoolRecord reused;
  reused.topic = "devices/previous/telemetry";
  reused.user_properties = {{"previous", "value"}};
  reused.qos = 2;
  require(archer::spool::decode_record(bytes, reused) && reused == record);

  SpoolRecord ignored;
  require(!archer::spool::decode_record(bytes.substr(0, size - 1), ignored));
  require(!archer::spool::decode_record(std::string(bytes) + '\0', ignored));
  return 0;
}
