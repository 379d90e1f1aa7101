// The device side of the protocol, shared by archer-devsim and the test devices.
#include "archer/protocol/device_side.h"

#include <gtest/gtest.h>

namespace archer::protocol {
namespace {

mqtt::message_ptr request(const Bytes& payload, bool mqtt5) {
  auto message = mqtt::message::create("devices/v1/commands", payload.data(), payload.size(), 1, false);
  if (mqtt5) {
    message->set_properties(mqtt::properties{{mqtt::property::RESPONSE_TOPIC, std::string("replies/v1")},
                                             {mqtt::property::CORRELATION_DATA, mqtt::binary("corr-1")},
                                             {mqtt::property::USER_PROPERTY, std::string("traceparent"),
                                              std::string("00-0123456789abcdef0123456789abcdef-0123456789abcdef-01")}});
  }
  return message;
}

TEST(DeviceSide, AnMqtt5AnswerGoesToTheResponseTopicWithTheCorrelationAndTrace) {
  std::string why;
  auto read = read_request(*request(encode(DeviceCommand{InteractionId("i-1"), "open", {{"percent", "40"}}}), true),
                           "devices/v1/responses", why);
  ASSERT_TRUE(read) << why;
  EXPECT_EQ(read->command.interaction_id, InteractionId("i-1"));
  EXPECT_EQ(read->command.args, (Args{{"percent", "40"}}));
  const Bytes answer = encode(DeviceResponse{InteractionId("i-1"), ResponseStatus::OK, "done", {}});
  const auto reply = reply_message(*read, answer, true);
  EXPECT_EQ(reply->get_topic(), "replies/v1");
  EXPECT_EQ(reply->get_qos(), 1);
  EXPECT_EQ(mqtt::get<mqtt::binary>(reply->get_properties(), mqtt::property::CORRELATION_DATA), "corr-1");
  EXPECT_EQ(std::get<1>(mqtt::get<mqtt::string_pair>(reply->get_properties(), mqtt::property::USER_PROPERTY)),
            "00-0123456789abcdef0123456789abcdef-0123456789abcdef-01");
  EXPECT_EQ(decode_device_response(Bytes(reply->get_payload().begin(), reply->get_payload().end()))->detail, "done");
}

TEST(DeviceSide, A311AnswerGoesToTheDevicesOwnResponseTopic) {
  std::string why;
  auto read = read_request(*request(encode(DeviceCommand{InteractionId("i-2"), "close", {}}), false),
                           "devices/v1/responses", why);
  ASSERT_TRUE(read);
  const auto reply = reply_message(*read, encode(DeviceResponse{InteractionId("i-2"), ResponseStatus::OK, "", {}}), false);
  EXPECT_EQ(reply->get_topic(), "devices/v1/responses");
  EXPECT_TRUE(reply->get_properties().empty());
}

TEST(DeviceSide, AnUnreadableRequestSaysWhyAndKeepsWhereToAnswer) {
  std::string why;
  DeviceRequest unreadable;
  EXPECT_FALSE(read_request(*request(Bytes{1, 2, 3}, true), "devices/v1/responses", why, &unreadable));
  EXPECT_EQ(why, "3 bytes: too short for a DeviceCommand buffer");
  EXPECT_EQ(unreadable.reply_topic, "replies/v1");
  EXPECT_EQ(unreadable.correlation, "corr-1");
}

TEST(DeviceSide, AnsweredInteractionsForgetTheLeastRecentlyUsed) {
  AnsweredInteractions answered(2);
  answered.remember(InteractionId("a"), Bytes{1});
  answered.remember(InteractionId("b"), Bytes{2});
  ASSERT_NE(answered.find(InteractionId("a")), nullptr);  // a is now the most recent
  answered.remember(InteractionId("c"), Bytes{3});
  EXPECT_EQ(answered.find(InteractionId("b")), nullptr);
  EXPECT_EQ(*answered.find(InteractionId("a")), Bytes{1});
  EXPECT_EQ(*answered.find(InteractionId("c")), Bytes{3});
  EXPECT_EQ(answered.size(), 2u);
}

}  // namespace
}  // namespace archer::protocol
