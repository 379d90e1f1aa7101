#include <gtest/gtest.h>

#include "archer/devsim/commands.h"
#include "archer/schemas/command_generated.h"
#include "archer/schemas/device_response_generated.h"

namespace archer::devsim {
namespace {

namespace cmd = archer::command;

constexpr std::string_view kOwnResponseTopic = "devices/valve-0001/responses";

std::string command_bytes(const std::string& id, const std::string& action,
                          const std::vector<std::pair<std::string, std::string>>& args = {}) {
  flatbuffers::FlatBufferBuilder fbb;
  std::vector<flatbuffers::Offset<cmd::Arg>> offsets;
  for (const auto& [name, value] : args) offsets.push_back(cmd::CreateArgDirect(fbb, name.c_str(), value.c_str()));
  fbb.Finish(cmd::CreateDeviceCommandDirect(fbb, id.c_str(), action.c_str(), &offsets), "ADCM");
  return std::string(reinterpret_cast<const char*>(fbb.GetBufferPointer()), fbb.GetSize());
}

// A request as the gateway publishes it: MQTT 5 CorrelationData when `correlation` is not empty.
mqtt::message_ptr request(const std::string& payload, const std::string& correlation) {
  auto message = mqtt::message::create("devices/valve-0001/commands", payload, 1, false);
  if (!correlation.empty()) {
    message->set_properties(mqtt::properties{{mqtt::property::CORRELATION_DATA, mqtt::binary(correlation)}});
  }
  return message;
}

const cmd::DeviceResponse* response(const protocol::Bytes& bytes) {
  EXPECT_TRUE(flatbuffers::BufferHasIdentifier(bytes.data(), "ADRS"));
  flatbuffers::Verifier verifier(bytes.data(), bytes.size());
  EXPECT_TRUE(verifier.VerifyBuffer<cmd::DeviceResponse>("ADRS"));
  return flatbuffers::GetRoot<cmd::DeviceResponse>(bytes.data());
}

TEST(CommandsTest, ValveSetActsOnceAndARepeatGetsTheSameBytes) {
  Options options;
  CommandProcessor processor(options, 1);
  Device valve("valve-0001", Kind::valve, 1);
  protocol::AnsweredInteractions cache(100);
  const std::string bytes = command_bytes("id-1", "set", {{"percent", "40"}});
  Decision first = processor.handle(valve, cache, *request(bytes, "id-1"), kOwnResponseTopic);
  EXPECT_TRUE(first.valid);
  EXPECT_TRUE(first.performed);
  EXPECT_FALSE(first.duplicate);
  EXPECT_EQ(response(first.response)->status(), cmd::ResponseStatus::OK);
  EXPECT_EQ(response(first.response)->interaction_id()->str(), "id-1");
  EXPECT_DOUBLE_EQ(valve.state().target_pct, 40);

  valve.set_target(10);  // something else moved it since
  Decision again = processor.handle(valve, cache, *request(bytes, "id-1"), kOwnResponseTopic);
  EXPECT_TRUE(again.duplicate);
  EXPECT_FALSE(again.performed);
  EXPECT_EQ(again.response, first.response);
  EXPECT_DOUBLE_EQ(valve.state().target_pct, 10);  // not acted on twice
}

TEST(CommandsTest, OpenCloseDefaultsAndRejections) {
  Options options;
  CommandProcessor processor(options, 1);
  Device valve("valve-0001", Kind::valve, 1);
  protocol::AnsweredInteractions cache(100);
  EXPECT_TRUE(processor.handle(valve, cache, *request(command_bytes("a", "open"), ""), kOwnResponseTopic).performed);
  EXPECT_DOUBLE_EQ(valve.state().target_pct, 100);
  EXPECT_TRUE(processor.handle(valve, cache, *request(command_bytes("b", "close"), ""), kOwnResponseTopic).performed);
  EXPECT_DOUBLE_EQ(valve.state().target_pct, 0);
  Decision unknown = processor.handle(valve, cache, *request(command_bytes("c", "explode"), ""), kOwnResponseTopic);
  EXPECT_TRUE(unknown.rejected);
  EXPECT_FALSE(unknown.performed);
  EXPECT_EQ(response(unknown.response)->status(), cmd::ResponseStatus::REJECTED);
  EXPECT_NE(response(unknown.response)->detail()->str().find("explode"), std::string::npos);
  EXPECT_TRUE(processor.handle(valve, cache, *request(command_bytes("d", "set"), ""), kOwnResponseTopic).rejected);
  EXPECT_TRUE(
      processor.handle(valve, cache, *request(command_bytes("e", "set", {{"percent", "140"}}), ""), kOwnResponseTopic)
          .rejected);
  Device meter("meter-0001", Kind::meter, 1);
  EXPECT_TRUE(processor.handle(meter, cache, *request(command_bytes("f", "reset"), ""), kOwnResponseTopic).performed);
  EXPECT_EQ(meter.state().energy_wh, 0);
}

TEST(CommandsTest, GarbageIsAnsweredWithErrorUnderTheCorrelationData) {
  Options options;
  CommandProcessor processor(options, 1);
  Device valve("valve-0001", Kind::valve, 1);
  protocol::AnsweredInteractions cache(100);
  Decision d = processor.handle(valve, cache, *request("not a flatbuffer at all", "corr-9"), kOwnResponseTopic);
  EXPECT_FALSE(d.valid);
  EXPECT_EQ(response(d.response)->status(), cmd::ResponseStatus::ERROR);
  EXPECT_EQ(response(d.response)->interaction_id()->str(), "corr-9");
  ASSERT_NE(d.reply, nullptr);
  EXPECT_EQ(d.reply->get_topic(), kOwnResponseTopic);
  EXPECT_EQ(mqtt::get<mqtt::binary>(d.reply->get_properties(), mqtt::property::CORRELATION_DATA), "corr-9");
  EXPECT_NE(response(d.response)->detail()->str().find("expected 'ADCM'"), std::string::npos);  // says why
}

TEST(CommandsTest, TheReplyCarriesTheAnswerAndASilentDeviceHasNone) {
  Options options;
  options.no_answer_ratio = 0.5;
  CommandProcessor processor(options, 1);
  Device valve("valve-0001", Kind::valve, 1);
  protocol::AnsweredInteractions cache(100);
  int silent = 0;
  for (int i = 0; i < 4; ++i) {
    const std::string id = "q" + std::to_string(i);
    Decision d = processor.handle(valve, cache, *request(command_bytes(id, "ping"), ""), kOwnResponseTopic);
    if (!d.answer) {
      ++silent;
      EXPECT_EQ(d.reply, nullptr);
      continue;
    }
    ASSERT_NE(d.reply, nullptr);
    EXPECT_EQ(d.reply->get_topic(), kOwnResponseTopic);
    EXPECT_EQ(d.reply->get_qos(), 1);
    EXPECT_EQ(d.reply->get_payload(), std::string(d.response.begin(), d.response.end()));
    // MQTT 5 without CorrelationData in the request: the interaction id is the correlation.
    EXPECT_EQ(mqtt::get<mqtt::binary>(d.reply->get_properties(), mqtt::property::CORRELATION_DATA), id);
  }
  EXPECT_EQ(silent, 2);
}

TEST(CommandsTest, BehaviourRatiosAreExact) {
  Options options;
  options.reject_ratio = 0.2;
  options.no_answer_ratio = 0.1;
  options.late_ratio = 0.5;
  options.twice_ratio = 0.25;
  options.late_delay = std::chrono::milliseconds(1000);
  options.latency_min = options.latency_max = std::chrono::milliseconds(5);
  CommandProcessor processor(options, 1);
  Device valve("valve-0001", Kind::valve, 1);
  protocol::AnsweredInteractions cache(1000);
  int rejected = 0, silent = 0, late = 0, twice = 0;
  for (int i = 0; i < 100; ++i) {
    Decision d =
        processor.handle(valve, cache, *request(command_bytes("i" + std::to_string(i), "open"), ""), kOwnResponseTopic);
    rejected += d.rejected;
    silent += !d.answer;
    late += d.late;
    twice += d.copies == 2;
    EXPECT_EQ(d.delay.count(), d.late ? 1005 : 5);
  }
  EXPECT_EQ(rejected, 20);
  EXPECT_EQ(silent, 10);
  EXPECT_EQ(late, 45);  // of the 90 answered
  EXPECT_NEAR(twice, 22, 1);
}

}  // namespace
}  // namespace archer::devsim
