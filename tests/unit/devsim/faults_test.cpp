#include <map>
#include <random>

#include <gtest/gtest.h>

#include "archer/devsim/faults.h"
#include "archer/schemas/command_generated.h"
#include "archer/schemas/telemetry_generated.h"

namespace archer::devsim {
namespace {

TEST(RatioPickerTest, EveryPrefixIsExactToOne) {
  RatioPicker picker({0.1, 0.25, 0.05});
  std::vector<int> counts(4, 0);
  for (int n = 1; n <= 10000; ++n) {
    ++counts[picker.pick()];
    ASSERT_NEAR(counts[0], 0.1 * n, 1.0) << n;
    ASSERT_NEAR(counts[1], 0.25 * n, 1.0) << n;
    ASSERT_NEAR(counts[2], 0.05 * n, 1.0) << n;
  }
  EXPECT_EQ(counts[3], 6000);
}

TEST(RatioPickerTest, ZeroRatiosAreNeverPicked) {
  RatioPicker picker({0, 0});
  for (int i = 0; i < 100; ++i) EXPECT_EQ(picker.pick(), 2u);
}

TEST(FaultPickerTest, ProducesEachFaultAtItsRatio) {
  Options options;
  for (int f = 1; f < kFaultCount; ++f) options.fault_ratio[f] = 0.1;
  FaultPicker picker(options);
  std::map<Fault, int> counts;
  for (int i = 0; i < 1000; ++i) ++counts[picker.pick()];
  for (int f = 1; f < kFaultCount; ++f) EXPECT_NEAR(counts[static_cast<Fault>(f)], 100, 1) << fault_name(static_cast<Fault>(f));
  EXPECT_NEAR(counts[Fault::none], 400, 1);
}

TEST(FaultPayloadTest, EachKindIsRecognisablyWhatItClaims) {
  Device device("valve-0001", Kind::valve, 1);
  const Stamp stamp{1, 1, 1};
  std::mt19937_64 random(4);
  auto verifies = [](const std::string& bytes) {
    flatbuffers::Verifier verifier(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
    return archer::telemetry::VerifyTelemetryBuffer(verifier);
  };
  for (int i = 0; i < 50; ++i) {
    const std::string noise = fault_payload(Fault::random_bytes, device, stamp, false, 1000, random);
    EXPECT_FALSE(verifies(noise));
    EXPECT_NE(noise.substr(4, 4), "ATEL");
  }
  const std::string truncated = fault_payload(Fault::truncated, device, stamp, false, 1000, random);
  EXPECT_FALSE(verifies(truncated));
  EXPECT_EQ(truncated.substr(4, 4), "ATEL");

  const std::string command = fault_payload(Fault::wrong_schema, device, stamp, false, 1000, random);
  flatbuffers::Verifier command_verifier(reinterpret_cast<const std::uint8_t*>(command.data()), command.size());
  EXPECT_TRUE(archer::command::VerifyCommandBuffer(command_verifier));
  EXPECT_FALSE(verifies(command));

  const std::string other = fault_payload(Fault::wrong_device, device, stamp, false, 1000, random);
  ASSERT_TRUE(verifies(other));
  EXPECT_NE(archer::telemetry::GetTelemetry(other.data())->device()->str(), "valve-0001");
  EXPECT_NE(fault_payload(Fault::wrong_device, device, stamp, true, 1000, random).find("valve-0001-other"), std::string::npos);

  const std::string big = fault_payload(Fault::oversize, device, stamp, false, 300 * 1024, random);
  EXPECT_GT(big.size(), 300u * 1024);
  EXPECT_TRUE(verifies(big));

  const std::string bad = fault_payload(Fault::bad_json, device, stamp, true, 1000, random);
  EXPECT_EQ(bad + "}", device.encode_json(stamp, device.id()));
}

}  // namespace
}  // namespace archer::devsim
