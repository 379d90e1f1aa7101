// Writes the spool-record fuzzer's seeds into the directory given: version-1 records made with the
// encoder itself, and one malformed on purpose. Run at build time, so no binary is committed.
#include <cstdio>
#include <fstream>
#include <string>

#include "archer/spool/record_format.h"
#include "seed_files.h"

namespace {

using archer::fuzz::write_seed;

using archer::spool::SpoolRecord;

}  // namespace

int main(int argc, char** argv) {
  const std::string dir = archer::fuzz::seed_dir(argc, argv);
  write_seed(dir, "empty", archer::spool::encode_record(SpoolRecord{}));
  SpoolRecord reading{"telemetry",  "devices/env-0001/telemetry", std::string("\x10\0\0\0ATEL", 8), 1, false, "", {},
                      1764000000000};
  write_seed(dir, "reading", archer::spool::encode_record(reading));
  SpoolRecord json{"telemetry",
                   "devices/env-0002/telemetry",
                   R"({"device":"env-0002","seq":1})",
                   1,
                   true,
                   "application/json",
                   {{"traceparent", "00-0123456789abcdef0123456789abcdef-0123456789abcdef-01"}},
                   1764000000001};
  write_seed(dir, "json", archer::spool::encode_record(json));
  SpoolRecord repeated = json;
  repeated.user_properties = {{"a", "1"}, {"a", "2"}, {"", ""}};
  write_seed(dir, "repeated-properties", archer::spool::encode_record(repeated));
  // A property count far beyond the bytes that follow.
  std::string broken = archer::spool::encode_record(SpoolRecord{});
  const std::size_t count_at = broken.size() - 8;  // u32 count, then the payload's u32 length
  broken.replace(count_at, 4, std::string(4, '\xff'));
  write_seed(dir, "property-count-too-large", broken);
  return 0;
}
