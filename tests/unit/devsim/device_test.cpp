#include <fstream>
#include <iterator>
#include <string>

#include <flatbuffers/idl.h>
#include <gtest/gtest.h>

#include "archer/devsim/device.h"
#include "archer/schemas/telemetry_generated.h"

namespace archer::devsim {
namespace {

namespace tel = archer::telemetry;

const tel::Telemetry* verified(const std::string& bytes) {
  flatbuffers::Verifier verifier(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
  if (!tel::VerifyTelemetryBuffer(verifier)) return nullptr;
  return tel::GetTelemetry(bytes.data());
}

std::string read_bfbs() {
  std::ifstream in(std::string(ARCHER_SCHEMA_DIR) + "/telemetry.bfbs", std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

TEST(DeviceTest, IdsArePerKindWithFourDigitsAtLeast) {
  EXPECT_EQ(device_id(Kind::environment, 1, 10), "env-0001");
  EXPECT_EQ(device_id(Kind::valve, 12, 9999), "valve-0012");
  EXPECT_EQ(device_id(Kind::meter, 7, 20000), "meter-00007");
}

TEST(DeviceTest, ValveMovesAtFiniteSpeedTowardsItsTarget) {
  Device valve("valve-0001", Kind::valve, 1, 0, /*valve_speed=*/20);
  EXPECT_EQ(valve.valve_state(), ValveStateName::closed);
  valve.set_target(50);
  EXPECT_EQ(valve.valve_state(), ValveStateName::opening);
  valve.advance(1.0);
  EXPECT_DOUBLE_EQ(valve.state().position_pct, 20);
  EXPECT_EQ(valve.valve_state(), ValveStateName::opening);
  valve.advance(10.0);
  EXPECT_DOUBLE_EQ(valve.state().position_pct, 50);  // stops at the target
  EXPECT_EQ(valve.valve_state(), ValveStateName::open);
  valve.set_target(0);
  valve.advance(1.0);
  EXPECT_EQ(valve.valve_state(), ValveStateName::closing);
  EXPECT_DOUBLE_EQ(valve.state().position_pct, 30);
  valve.advance(5.0);
  EXPECT_EQ(valve.valve_state(), ValveStateName::closed);
  valve.set_target(150);
  EXPECT_DOUBLE_EQ(valve.state().target_pct, 100);
}

TEST(DeviceTest, MeterAccumulatesEnergyAndEnvironmentStaysPlausible) {
  Device meter("meter-0001", Kind::meter, 2);
  Device env("env-0001", Kind::environment, 3);
  double energy = meter.state().energy_wh;
  for (int i = 0; i < 3600; ++i) {
    meter.advance(1.0);
    env.advance(1.0);
    ASSERT_GE(meter.state().energy_wh, energy);
    energy = meter.state().energy_wh;
    ASSERT_GT(env.state().temperature_c, 5);
    ASSERT_LT(env.state().temperature_c, 40);
    ASSERT_GE(env.state().humidity_pct, 0);
    ASSERT_LE(env.state().humidity_pct, 100);
  }
  EXPECT_GT(energy, 0);
  meter.reset_energy();
  EXPECT_EQ(meter.state().energy_wh, 0);
}

TEST(DeviceTest, SeqStartsAtOneAndIncreases) {
  Device env("env-0001", Kind::environment, 1);
  EXPECT_EQ(env.next_seq(), 1u);
  EXPECT_EQ(env.next_seq(), 2u);
}

TEST(DeviceTest, BinaryTelemetryOfEveryKindVerifies) {
  const Stamp stamp{7, 1700000000000, 1700000000000123};
  for (Kind kind : {Kind::environment, Kind::valve, Kind::meter}) {
    Device device(device_id(kind, 1, 1), kind, 5);
    const std::string bytes = device.encode_binary(stamp, device.id());
    ASSERT_TRUE(flatbuffers::BufferHasIdentifier(bytes.data(), "ATEL"));
    const tel::Telemetry* root = verified(bytes);
    ASSERT_NE(root, nullptr) << kind_name(kind);
    EXPECT_EQ(root->device()->str(), device.id());
    EXPECT_EQ(root->seq(), 7u);
    switch (kind) {
      case Kind::environment:
        ASSERT_NE(root->reading_as_EnvironmentReading(), nullptr);
        EXPECT_EQ(root->reading_as_EnvironmentReading()->scheduled_at_us(), 1700000000000123);
        break;
      case Kind::valve:
        ASSERT_NE(root->reading_as_ValveReading(), nullptr);
        EXPECT_EQ(root->reading_as_ValveReading()->state(), tel::ValveState::CLOSED);
        break;
      case Kind::meter:
        ASSERT_NE(root->reading_as_MeterReading(), nullptr);
        EXPECT_EQ(root->reading_as_MeterReading()->sent_at_ms(), 1700000000000);
        break;
    }
  }
}

TEST(DeviceTest, JsonTelemetryParsesWithTheSchemaIntoTheSameReading) {
  flatbuffers::Parser parser;
  const std::string bfbs = read_bfbs();
  ASSERT_FALSE(bfbs.empty());
  ASSERT_TRUE(parser.Deserialize(reinterpret_cast<const std::uint8_t*>(bfbs.data()), bfbs.size()));
  const Stamp stamp{3, 1700000000000, 1700000000000999};
  for (Kind kind : {Kind::environment, Kind::valve, Kind::meter}) {
    Device device(device_id(kind, 2, 2), kind, 9);
    device.set_target(40);
    device.advance(1);
    const std::string json = device.encode_json(stamp, device.id());
    ASSERT_TRUE(parser.Parse(json.c_str())) << parser.error_ << "\n" << json;
    const std::string bytes(reinterpret_cast<const char*>(parser.builder_.GetBufferPointer()), parser.builder_.GetSize());
    const tel::Telemetry* root = verified(bytes);
    ASSERT_NE(root, nullptr) << json;
    EXPECT_EQ(root->device()->str(), device.id());
    EXPECT_EQ(root->seq(), 3u);
    if (kind == Kind::valve) {
      ASSERT_NE(root->reading_as_ValveReading(), nullptr);
      EXPECT_FLOAT_EQ(root->reading_as_ValveReading()->target_pct(), 40);
      EXPECT_EQ(root->reading_as_ValveReading()->state(), tel::ValveState::OPENING);
      EXPECT_NE(json.find(R"("state":"OPENING")"), std::string::npos);
    }
  }
}

}  // namespace
}  // namespace archer::devsim
