#pragma once
// The [[ingest]] section most tests give a bridge: section "telemetry" on the contract's telemetry
// topic, telemetry.bfbs, keyed and bound by the device capture; and a JSON reading it accepts.
#include <cstdint>
#include <string>

namespace archer::testing {

struct TelemetrySection {
  std::string topic = "raw.telemetry";
  std::string dead_letter = "dlq.telemetry";
  std::string formats = R"(["flatbuffers", "json"])";  // the TOML array as written in the file
};

std::string telemetry_section(const TelemetrySection& section = {});

// An EnvironmentReading of `device` with sequence `seq`, as JSON (strict; the enum by name).
std::string json_reading(const std::string& device, std::uint64_t seq);

}  // namespace archer::testing
