// Writes the validator fuzzer's binary seeds into the directory given: valid readings of each
// kind, and a few broken ones. Run at build time, so no binary is committed.
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "archer/schemas/telemetry_generated.h"
#include "seed_files.h"

namespace {

using archer::fuzz::write_seed;

namespace tel = archer::telemetry;

std::vector<std::uint8_t> finish(flatbuffers::FlatBufferBuilder& fbb) {
  return {fbb.GetBufferPointer(), fbb.GetBufferPointer() + fbb.GetSize()};
}

}  // namespace

int main(int argc, char** argv) {
  const std::string dir = archer::fuzz::seed_dir(argc, argv);
  {
    flatbuffers::FlatBufferBuilder fbb;
    auto reading = tel::CreateEnvironmentReadingDirect(fbb, "env-1", 3, 1700000000000, 0, 21.5f, 40.0f, 415);
    tel::FinishTelemetryBuffer(
        fbb, tel::CreateTelemetryDirect(fbb, "env-1", 3, tel::Reading::EnvironmentReading, reading.Union()));
    auto bytes = finish(fbb);
    write_seed(dir, "env.bin", bytes);
    write_seed(dir, "env-truncated.bin",
               std::vector<std::uint8_t>(bytes.begin(), bytes.begin() + static_cast<long>(bytes.size() / 2)));
    bytes[4] = 'X';
    write_seed(dir, "env-wrong-ident.bin", bytes);
  }
  {
    flatbuffers::FlatBufferBuilder fbb;
    auto reading = tel::CreateValveReadingDirect(fbb, "env-1", 3, 0, 0, 40.0f, 60.0f, tel::ValveState::OPENING, 12.5f);
    tel::FinishTelemetryBuffer(
        fbb, tel::CreateTelemetryDirect(fbb, "env-1", 3, tel::Reading::ValveReading, reading.Union()));
    write_seed(dir, "valve.bin", finish(fbb));
  }
  {
    flatbuffers::FlatBufferBuilder fbb;
    auto reading = tel::CreateMeterReadingDirect(fbb, "env-1", 3, 0, 0, 12345.5, 230.0f, 229.5f);
    tel::FinishTelemetryBuffer(
        fbb, tel::CreateTelemetryDirect(fbb, "env-1", 3, tel::Reading::MeterReading, reading.Union()));
    write_seed(dir, "meter.bin", finish(fbb));
  }
  {
    flatbuffers::FlatBufferBuilder fbb;  // no device: a required field missing
    const auto start = fbb.StartTable();
    fbb.AddElement<std::uint64_t>(tel::Telemetry::VT_SEQ, 3, 0);
    fbb.Finish(flatbuffers::Offset<tel::Telemetry>(fbb.EndTable(start)), tel::TelemetryIdentifier());
    write_seed(dir, "no-device.bin", finish(fbb));
  }
  return 0;
}
