// What a device maker gets from the published schemas must be what the gateway accepts: a
// DeviceResponse made by flatc from device_response.fbs alone (JSON -> binary) decodes; one with
// another root's identifier is refused with the reason.
#include "archer/protocol/messages.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>

namespace archer::protocol {
namespace {

Bytes flatc_binary(const std::string& schema, const std::string& json) {
  const auto dir = std::filesystem::temp_directory_path() / ("archer-flatc-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "message.json") << json;
  const std::string command = std::string(FLATC) + " -b -o " + dir.string() + " " + ARCHER_SOURCE_DIR + "/schemas/" +
                              schema + " " + (dir / "message.json").string();
  EXPECT_EQ(std::system(command.c_str()), 0) << command;
  std::ifstream in(dir / "message.bin", std::ios::binary);
  Bytes bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::filesystem::remove_all(dir);
  return bytes;
}

TEST(Messages, AResponseMadeByFlatcFromThePublishedSchemaIsAccepted) {
  const Bytes bytes = flatc_binary("device_response.fbs",
                                   R"({"interaction_id": "i-1", "status": "REJECTED", "detail": "busy"})");
  std::string why;
  const auto response = decode_device_response(bytes, &why);
  ASSERT_TRUE(response) << why;
  EXPECT_EQ(response->interaction_id, InteractionId("i-1"));
  EXPECT_EQ(response->status, ResponseStatus::REJECTED);
  EXPECT_EQ(outcome_of(response->status), OutcomeStatus::REJECTED);
}

TEST(Messages, ACommandMadeByFlatcFromThePublishedSchemaIsWhatTheGatewaySends) {
  const Bytes made = flatc_binary("device_command.fbs",
                                  R"({"interaction_id": "i-1", "action": "set", "args": [{"name": "percent", "value": "5"}]})");
  const auto ours = decode_device_command(encode(DeviceCommand{InteractionId("i-1"), "set", {{"percent", "5"}}}));
  const auto theirs = decode_device_command(made);
  ASSERT_TRUE(ours);
  ASSERT_TRUE(theirs);
  EXPECT_EQ(theirs->interaction_id, ours->interaction_id);
  EXPECT_EQ(theirs->args, ours->args);
}

TEST(Messages, AResponseWithTheOldCommandSchemaIdentifierIsStillAccepted) {
  Bytes bytes = encode(DeviceResponse{InteractionId("i-1"), ResponseStatus::OK, "", {}});
  std::copy_n("ACMD", 4, bytes.begin() + 4);
  EXPECT_TRUE(decode_device_response(bytes));
}

TEST(Messages, EveryRefusalSaysWhy) {
  std::string why;
  EXPECT_FALSE(decode_device_response(encode(DeviceCommand{InteractionId("i"), "open", {}}), &why));
  EXPECT_EQ(why, "file identifier 'ADCM', expected 'ADRS' (DeviceResponse)");
  Bytes truncated = encode(DeviceResponse{InteractionId("i-1"), ResponseStatus::OK, "a detail", {}});
  truncated.resize(truncated.size() - 6);
  EXPECT_FALSE(decode_device_response(truncated, &why));
  EXPECT_EQ(why, "does not verify as a DeviceResponse (a field missing, out of bounds or of the wrong type)");
}

TEST(Messages, OutcomeOfEveryResponseStatus) {
  EXPECT_EQ(outcome_of(ResponseStatus::OK), OutcomeStatus::SUCCEEDED);
  EXPECT_EQ(outcome_of(ResponseStatus::REJECTED), OutcomeStatus::REJECTED);
  EXPECT_EQ(outcome_of(ResponseStatus::ERROR), OutcomeStatus::FAILED);
  EXPECT_EQ(outcome_of(static_cast<ResponseStatus>(42)), OutcomeStatus::FAILED);
}

TEST(Messages, AnEmptyMisalignedInputIsRefusedWithAReason) {
  const std::uint8_t storage[16] = {};
  std::string why;
  EXPECT_FALSE(decode_device_response(std::span<const std::uint8_t>(storage + 1, 0), &why));
  EXPECT_EQ(why, "0 bytes: too short for a DeviceResponse buffer");
}

TEST(Messages, StringsWithANulByteRoundTrip) {
  const std::string id("01J\0tail", 8);
  const auto response = decode_device_response(encode(DeviceResponse{InteractionId(id), ResponseStatus::OK, id, {}}));
  ASSERT_TRUE(response);
  EXPECT_EQ(response->interaction_id.str(), id);
  EXPECT_EQ(response->detail, id);
  const auto record = decode_transaction(
      encode(Transaction{InteractionId(id), CommandId(id), DeviceId(id), Phase::FAILED, 1, {}, 1, id, 0, 1}));
  ASSERT_TRUE(record);
  EXPECT_EQ(record->command_id.str(), id);
  EXPECT_EQ(record->detail, id);
}

TEST(Messages, ManyTablesAreRefused) {
  // A table per Arg: a Command holds at most 1023 of them (the verifier's 1024 tables, with the root).
  Command command{CommandId("c"), DeviceId("v"), "set", {}, 1, 0};
  command.args.assign(1023, {"k", "v"});
  EXPECT_TRUE(decode_command(encode(command)));
  command.args.emplace_back("k", "v");
  std::string why;
  EXPECT_FALSE(decode_command(encode(command), &why));
  EXPECT_EQ(why, "does not verify as a Command (a field missing, out of bounds or of the wrong type)");
}

}  // namespace
}  // namespace archer::protocol
