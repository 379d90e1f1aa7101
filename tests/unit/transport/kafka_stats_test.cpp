#include "archer/transport/kafka_stats.h"

#include <gtest/gtest.h>

namespace archer::transport {
namespace {

// Shaped as librdkafka 2.0.2 writes it (abridged: the fields we read and a few around them).
std::string stats_with(const char* state_1, const char* state_2) {
  return std::string(R"({ "name": "rdkafka#producer-1", "type": "producer", "msg_cnt":7, "msg_size":700,
    "brokers":{
      "127.0.0.1:36141/1": { "name":"127.0.0.1:36141/1", "nodeid":1, "state":")") +
         state_1 + R"(", "rtt": { "min":6, "avg":51, "p50": 42000, "p99": 134000 } },
      "127.0.0.1:39319/bootstrap": { "name":"127.0.0.1:39319/bootstrap", "nodeid":-1, "state":")" +
         state_2 +
         R"(", "rtt": { "p50": 0, "p99": 0 } } },
    "topics":{} })";
}

TEST(KafkaStats, ReadsTheQueueAndEachBrokersStateAndRttInSeconds) {
  const auto stats = parse_kafka_stats(stats_with("UP", "INIT"));
  ASSERT_TRUE(stats);
  EXPECT_EQ(stats->queued_messages, 7);
  EXPECT_EQ(stats->queued_bytes, 700);
  ASSERT_EQ(stats->brokers.size(), 2u);
  EXPECT_EQ(stats->brokers[0].node_id, 1);
  EXPECT_DOUBLE_EQ(stats->brokers[0].rtt_p50_seconds, 0.042);
  EXPECT_DOUBLE_EQ(stats->brokers[0].rtt_p99_seconds, 0.134);
  EXPECT_EQ(stats->brokers[1].node_id, -1);
  EXPECT_EQ(stats->brokers_up(), 1);
  EXPECT_FALSE(stats->unreachable());
}

TEST(KafkaStats, UnreachableOnlyWhileConnectingWithNoBrokerUp) {
  EXPECT_TRUE(parse_kafka_stats(stats_with("TRY_CONNECT", "DOWN"))->unreachable());
  EXPECT_TRUE(parse_kafka_stats(stats_with("CONNECT", "INIT"))->unreachable());
  // An idle client with sparse connections: nothing wanted, so nothing known to be wrong.
  EXPECT_FALSE(parse_kafka_stats(stats_with("INIT", "INIT"))->unreachable());
  EXPECT_FALSE(parse_kafka_stats(stats_with("UP", "DOWN"))->unreachable());
}

TEST(KafkaStats, SomethingElseIsNotStatistics) {
  EXPECT_FALSE(parse_kafka_stats("not json"));
  EXPECT_FALSE(parse_kafka_stats(R"({"brokers":{}})"));
}

}  // namespace
}  // namespace archer::transport
