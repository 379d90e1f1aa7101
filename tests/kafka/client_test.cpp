// Real clients (librdkafka 2.0.2, as the gateway uses it) against one combined Apache Kafka node
// shared by every test of this program, and the same round trip against archer-devkafka.
#include <gtest/gtest.h>
#include <librdkafka/rdkafkacpp.h>

#include <iostream>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "archer/testing/testing.h"
#include "archer/transport/kafka_admin.h"

namespace {

using namespace std::chrono_literals;
using namespace archer::testing;

ApacheKafka& shared_apache() { return dynamic_cast<ApacheKafka&>(shared_kafka(KafkaKind::apache)); }

#define SKIP_WITHOUT(kind)                                  \
  do {                                                      \
    std::string why_;                                       \
    if (!kafka_available(kind, why_)) GTEST_SKIP() << why_; \
  } while (false)

std::unique_ptr<RdKafka::Conf> conf(const std::map<std::string, std::string>& settings) {
  std::unique_ptr<RdKafka::Conf> c(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  std::string error;
  for (const auto& [name, value] : settings) {
    if (c->set(name, value, error) != RdKafka::Conf::CONF_OK) throw std::runtime_error(name + ": " + error);
  }
  return c;
}

TEST(ApacheKafkaNode, StartsAndAnswersMetadata) {
  SKIP_WITHOUT(KafkaKind::apache);
  ApacheKafka& kafka = shared_apache();
  std::string error;
  auto admin =
      archer::transport::KafkaAdmin::create(archer::KafkaConfig{{{"bootstrap.servers", kafka.bootstrap()}}}, error);
  ASSERT_NE(admin, nullptr) << error;
  archer::transport::ClusterMetadata metadata;
  ASSERT_EQ(admin->metadata({}, metadata, 5s), "");
  EXPECT_EQ(metadata.brokers, std::vector<std::int32_t>{1});
  const double rss_mib = static_cast<double>(kafka.rss_bytes(1)) / (1 << 20);
  std::cout << kafka.name() << ": one combined node answered metadata " << kafka.last_start_time().count()
            << " ms after its JVM started; RSS " << rss_mib << " MiB\n";
  RecordProperty("start_ms", static_cast<int>(kafka.last_start_time().count()));
  RecordProperty("rss_mib", static_cast<int>(rss_mib));
  EXPECT_GT(rss_mib, 0);
}

class RoundTrip : public ::testing::TestWithParam<KafkaKind> {};

TEST_P(RoundTrip, ProducedRecordsComeBackInOrderWithKeysAndHeaders) {
  SKIP_WITHOUT(GetParam());
  KafkaCluster& kafka = shared_kafka(GetParam());
  const std::string topic = unique_name("roundtrip");
  kafka.create_topic(topic, 3);

  std::string error;
  std::unique_ptr<RdKafka::Producer> producer(RdKafka::Producer::create(
      conf({{"bootstrap.servers", kafka.bootstrap()}, {"enable.idempotence", "true"}, {"linger.ms", "5"}}).get(),
      error));
  ASSERT_NE(producer, nullptr) << error;
  constexpr int kRecords = 300;
  for (int i = 0; i < kRecords; ++i) {
    const std::string key = "device-" + std::to_string(i % 7);
    const std::string value = std::to_string(i);
    RdKafka::Headers* headers = RdKafka::Headers::create();
    headers->add("archer-seq", value);
    ASSERT_EQ(
        producer->produce(topic, RdKafka::Topic::PARTITION_UA, RdKafka::Producer::RK_MSG_COPY,
                          const_cast<char*>(value.data()), value.size(), key.data(), key.size(), 0, headers, nullptr),
        RdKafka::ERR_NO_ERROR);
  }
  ASSERT_EQ(producer->flush(30000), RdKafka::ERR_NO_ERROR);

  KafkaConsumerForTest consumer(kafka.bootstrap(), {topic});
  const auto records = consumer.consume_until(kRecords, 30s);
  ASSERT_EQ(records.size(), static_cast<std::size_t>(kRecords)) << kafka.name();
  std::map<std::string, int> last_per_key;
  std::map<std::string, std::int32_t> partition_of_key;
  for (const auto& record : records) {
    const int seq = std::stoi(record.value);
    EXPECT_EQ(record.key, "device-" + std::to_string(seq % 7));
    EXPECT_EQ(record.headers.at("archer-seq"), record.value);
    auto [it, fresh] = partition_of_key.emplace(record.key, record.partition);
    EXPECT_EQ(it->second, record.partition) << "one key, one partition";
    if (last_per_key.contains(record.key)) {
      EXPECT_GT(seq, last_per_key[record.key]) << "per-key order";
    }
    last_per_key[record.key] = seq;
  }
}

INSTANTIATE_TEST_SUITE_P(Brokers, RoundTrip, ::testing::ValuesIn(all_kafka_kinds()), kafka_kind_name);

// A subscribe()d consumer goes through the real group coordinator (FindCoordinator, JoinGroup,
// SyncGroup with the classic protocol, which is all librdkafka 2.0.2 speaks), commits, and a
// second member of the group resumes from the commit.
TEST(ApacheKafkaNode, ConsumerGroupJoinsCommitsAndResumes) {
  SKIP_WITHOUT(KafkaKind::apache);
  ApacheKafka& kafka = shared_apache();
  const std::string topic = unique_name("group");
  const std::string group = unique_name("group");
  kafka.create_topic(topic, 2);
  for (int i = 0; i < 10; ++i) produce_sync(kafka.bootstrap(), topic, "k" + std::to_string(i), std::to_string(i));

  auto member = [&] {
    std::string error;
    std::unique_ptr<RdKafka::KafkaConsumer> consumer(
        RdKafka::KafkaConsumer::create(conf({{"bootstrap.servers", kafka.bootstrap()},
                                             {"group.id", group},
                                             {"auto.offset.reset", "earliest"},
                                             {"enable.auto.commit", "false"},
                                             {"session.timeout.ms", "6000"}})
                                           .get(),
                                       error));
    if (!consumer) throw std::runtime_error(error);
    if (consumer->subscribe({topic}) != RdKafka::ERR_NO_ERROR) throw std::runtime_error("subscribe");
    return consumer;
  };
  auto take = [](RdKafka::KafkaConsumer& consumer, std::size_t count, std::chrono::milliseconds timeout) {
    std::set<std::string> values;
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (values.size() < count && std::chrono::steady_clock::now() < deadline) {
      std::unique_ptr<RdKafka::Message> message(consumer.consume(100));
      if (message->err() == RdKafka::ERR_NO_ERROR) {
        values.insert(std::string(static_cast<const char*>(message->payload()), message->len()));
      }
    }
    return values;
  };

  {
    auto first = member();
    EXPECT_EQ(take(*first, 10, 30s).size(), 10u) << "the member joined and read every record";
    std::vector<RdKafka::TopicPartition*> assignment;
    ASSERT_EQ(first->assignment(assignment), RdKafka::ERR_NO_ERROR);
    EXPECT_EQ(assignment.size(), 2u) << "a lone member is given both partitions";
    RdKafka::TopicPartition::destroy(assignment);
    ASSERT_EQ(first->commitSync(), RdKafka::ERR_NO_ERROR);
    first->close();
  }
  for (int i = 10; i < 15; ++i) produce_sync(kafka.bootstrap(), topic, "k" + std::to_string(i), std::to_string(i));
  auto second = member();
  const auto resumed = take(*second, 5, 30s);
  EXPECT_EQ(resumed, (std::set<std::string>{"10", "11", "12", "13", "14"})) << "resumed from the commit";
  std::unique_ptr<RdKafka::Message> extra(second->consume(500));
  EXPECT_NE(extra->err(), RdKafka::ERR_NO_ERROR) << "nothing before the commit is read again";
  second->close();
}

TEST(ApacheKafkaNode, CreateTopicKeepsItsConfigs) {
  SKIP_WITHOUT(KafkaKind::apache);
  ApacheKafka& kafka = shared_apache();
  const std::string topic = unique_name("configs");
  kafka.create_topic(topic, 1, 1, {{"retention.ms", "-1"}, {"cleanup.policy", "compact"}});
  std::string error;
  auto admin =
      archer::transport::KafkaAdmin::create(archer::KafkaConfig{{{"bootstrap.servers", kafka.bootstrap()}}}, error);
  ASSERT_NE(admin, nullptr) << error;
  std::map<std::string, archer::transport::TopicConfigs> configs;
  std::map<std::string, std::string> errors;
  ASSERT_EQ(admin->describe_topic_configs({topic}, configs, errors, 10s), "");
  EXPECT_TRUE(errors.empty());
  EXPECT_EQ(configs[topic]["retention.ms"].value, "-1");
  EXPECT_FALSE(configs[topic]["retention.ms"].is_default);
  EXPECT_EQ(configs[topic]["cleanup.policy"].value, "compact");
  EXPECT_TRUE(configs[topic]["retention.bytes"].is_default);

  std::map<std::string, std::string> results;
  ASSERT_EQ(admin->create_topics({{topic, 1, 1, {}}}, results, 10s), "");
  EXPECT_NE(results[topic].find("already exists"), std::string::npos) << results[topic];
}

}  // namespace

namespace {

// Kafka 4.1 refuses small segments, so a test that wants to see compaction rolls segments by time
// (segment.ms) instead.
TEST(ApacheKafkaNode, SegmentsBelowOneMiBAreRefused) {
  SKIP_WITHOUT(KafkaKind::apache);
  ApacheKafka& kafka = shared_apache();
  try {
    kafka.create_topic(unique_name("segments"), 1, 1, {{"segment.bytes", "100000"}});
    ADD_FAILURE() << "a 100000-byte segment.bytes was accepted";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("segment.bytes"), std::string::npos) << e.what();
    std::cout << e.what() << "\n";
  }
  kafka.create_topic(unique_name("segments"), 1, 1, {{"segment.bytes", "1048576"}, {"segment.ms", "100"}});
}

}  // namespace
