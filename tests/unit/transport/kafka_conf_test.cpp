#include <gtest/gtest.h>

#include "archer/transport/kafka_producer.h"

namespace {

// A property librdkafka refuses ends up in a start's error and in --check-config's output: the
// value of a secret one never does.
TEST(KafkaConf, ARefusedSecretPropertyIsNamedWithoutItsValue) {
  archer::KafkaConfig config;
  config.properties = {{"bootstrap.servers", "127.0.0.1:9092"}, {"my.secret.token", "hunter2"}};
  std::string error;
  EXPECT_FALSE(archer::transport::make_kafka_conf({}, config, error));
  EXPECT_EQ(error.find("hunter2"), std::string::npos) << error;
  EXPECT_NE(error.find("[kafka] property 'my.secret.token' = '(hidden)'"), std::string::npos) << error;

  std::vector<archer::transport::RefusedProperty> refused;
  EXPECT_FALSE(archer::transport::make_kafka_conf({}, config, refused));
  ASSERT_EQ(refused.size(), 1u);
  EXPECT_EQ(refused[0].value, "(hidden)");
  EXPECT_EQ(refused[0].reason.find("hunter2"), std::string::npos) << refused[0].reason;
}

TEST(KafkaConf, ARefusedOrdinaryPropertyKeepsItsValueInTheMessage) {
  archer::KafkaConfig config;
  config.properties = {{"bootstrap.servers", "127.0.0.1:9092"}, {"linger.ms", "soon"}};
  std::string error;
  EXPECT_FALSE(archer::transport::make_kafka_conf({}, config, error));
  EXPECT_NE(error.find("[kafka] property 'linger.ms' = 'soon'"), std::string::npos) << error;
}

// /readyz's words: nothing within the grace, the outage, and why when Kafka refused the login.
TEST(KafkaConf, TheUnreachableReasonSaysWhenKafkaRefusesTheCredentials) {
  using namespace std::chrono_literals;
  EXPECT_EQ(archer::transport::kafka_unreachable_reason(2s, true), "");
  EXPECT_EQ(archer::transport::kafka_unreachable_reason(5s), "kafka: no broker reachable for 5 s");
  EXPECT_EQ(archer::transport::kafka_unreachable_reason(5s, true),
            "kafka: no broker reachable for 5 s (Kafka refuses the credentials: see the log)");
}

}  // namespace
