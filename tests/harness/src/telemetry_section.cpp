#include "archer/testing/telemetry_section.h"

#include <fmt/format.h>

namespace archer::testing {

std::string telemetry_section(const TelemetrySection& section) {
  return fmt::format(R"([[ingest]]
name = "telemetry"
mqtt = "devices/{{device}}/telemetry"
qos = 1
schema = "{}/telemetry.bfbs"
formats = {}
topic = "{}"
key = "{{device}}"
bind = {{ device = "device" }}
dead_letter = "{}"
)",
                     ARCHER_SCHEMA_DIR, section.formats, section.topic, section.dead_letter);
}

std::string json_reading(const std::string& device, std::uint64_t seq) {
  return fmt::format(
      R"({{"device":"{0}","seq":{1},"reading_type":"EnvironmentReading","reading":{{"device":"{0}","seq":{1},"temperature_c":20.5,"humidity_pct":35.0,"co2_ppm":500}}}})",
      device, seq);
}

}  // namespace archer::testing
