// archer-devkafka is a real Kafka-protocol broker for librdkafka and kcat: round trips, and a leader
// broker taken down and brought back through the control channel.
#include <gtest/gtest.h>
#include <librdkafka/rdkafkacpp.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "archer/testing/testing.h"

namespace {

using namespace std::chrono_literals;
using archer::testing::DevKafka;
using archer::testing::DevKafkaOptions;
using archer::testing::KafkaConsumerForTest;
using archer::testing::Process;
using archer::testing::ProcessOptions;
using archer::testing::Record;
using archer::testing::TempDir;
using archer::testing::wait_until;

// An idempotent acks=all producer that counts its delivery reports (served by poll() on the test thread).
class CountingProducer : public RdKafka::DeliveryReportCb {
 public:
  explicit CountingProducer(const std::string& bootstrap) {
    std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
    std::string errstr;
    const std::map<std::string, std::string> settings{
        {"bootstrap.servers", bootstrap},       {"enable.idempotence", "true"},
        {"acks", "all"},                        {"message.timeout.ms", "60000"},
        {"reconnect.backoff.max.ms", "500"},    {"linger.ms", "5"},
        {"log_level", "3"},
    };
    for (const auto& [name, value] : settings) {
      EXPECT_EQ(conf->set(name, value, errstr), RdKafka::Conf::CONF_OK) << name << ": " << errstr;
    }
    conf->set("dr_cb", static_cast<RdKafka::DeliveryReportCb*>(this), errstr);
    producer_.reset(RdKafka::Producer::create(conf.get(), errstr));
    EXPECT_TRUE(producer_) << errstr;
  }
  ~CountingProducer() override {
    if (producer_) producer_->flush(5000);
  }

  void produce(const std::string& topic, const std::string& key, const std::string& value,
               std::int32_t partition = RdKafka::Topic::PARTITION_UA) {
    const auto err = producer_->produce(topic, partition, RdKafka::Producer::RK_MSG_COPY,
                                        const_cast<char*>(value.data()), value.size(), key.data(), key.size(), 0,
                                        nullptr);
    ASSERT_EQ(err, RdKafka::ERR_NO_ERROR) << RdKafka::err2str(err);
  }
  void poll() { producer_->poll(0); }
  bool wait_delivered(std::size_t count, std::chrono::milliseconds timeout) {
    return wait_until([&] { poll(); return delivered + failed >= count; }, timeout);
  }

  void dr_cb(RdKafka::Message& message) override {
    if (message.err() == RdKafka::ERR_NO_ERROR) {
      ++delivered;
    } else {
      ++failed;
      ADD_FAILURE() << "delivery failed: " << message.errstr();
    }
  }

  std::size_t delivered = 0;
  std::size_t failed = 0;

 private:
  std::unique_ptr<RdKafka::Producer> producer_;
};

// "key-3#17" -> (key-3, 17)
std::pair<std::string, int> split_value(const std::string& value) {
  const auto hash = value.find('#');
  return {value.substr(0, hash), std::stoi(value.substr(hash + 1))};
}

// Every value exactly once, and for every key in the order it was produced.
void expect_exactly_once_in_order(std::vector<Record> records, std::size_t expected) {
  ASSERT_EQ(records.size(), expected);
  std::set<std::string> seen;
  for (const auto& r : records) EXPECT_TRUE(seen.insert(r.value).second) << "duplicate " << r.value;
  std::sort(records.begin(), records.end(), [](const Record& a, const Record& b) {
    return std::tie(a.partition, a.offset) < std::tie(b.partition, b.offset);
  });
  std::map<std::string, int> last;  // key -> last sequence number seen
  std::map<std::string, std::int32_t> partition_of;
  for (const auto& r : records) {
    auto [key, seq] = split_value(r.value);
    EXPECT_EQ(key, r.key);
    auto it = partition_of.emplace(key, r.partition).first;
    EXPECT_EQ(it->second, r.partition) << "key " << key << " in two partitions";
    const auto previous = last.find(key);
    const int want = previous == last.end() ? 0 : previous->second + 1;
    EXPECT_EQ(seq, want) << "key " << key << " out of order at offset " << r.offset;
    last[key] = seq;
  }
}

TEST(DevKafka, IdempotentRoundTripKeepsEveryRecordOnceInKeyOrder) {
  DevKafka kafka(DevKafkaOptions{}.with_brokers(3).with_topic("roundtrip:3"));
  CountingProducer producer(kafka.bootstrap());
  constexpr int kRecords = 300;
  constexpr int kKeys = 10;
  for (int i = 0; i < kRecords; ++i) {
    const std::string key = "key-" + std::to_string(i % kKeys);
    producer.produce("roundtrip", key, key + "#" + std::to_string(i / kKeys));
  }
  ASSERT_TRUE(producer.wait_delivered(kRecords, 30s));
  EXPECT_EQ(producer.delivered, static_cast<std::size_t>(kRecords));

  KafkaConsumerForTest consumer(kafka.bootstrap(), {"roundtrip"});
  auto records = consumer.consume_until(kRecords, 30s);
  std::set<std::int32_t> partitions;
  for (const auto& r : records) partitions.insert(r.partition);
  EXPECT_EQ(partitions.size(), 3u) << "10 keys should spread over all 3 partitions";
  expect_exactly_once_in_order(records, kRecords);
  EXPECT_TRUE(consumer.consume_until(1, 500ms).empty()) << "more records than produced";
}

TEST(DevKafka, ProduceStallsWhileLeaderIsDownAndCompletesAfterUp) {
  DevKafka kafka(DevKafkaOptions{}.with_topic("failover:3"));
  kafka.set_leader("failover", 0, 2);
  CountingProducer producer(kafka.bootstrap());

  // Before the fault: the producer is connected and partition 0 (led by broker 2) takes records.
  constexpr int kBefore = 10;
  constexpr int kDuring = 50;
  for (int i = 0; i < kBefore; ++i) producer.produce("failover", "k", "k#" + std::to_string(i), 0);
  ASSERT_TRUE(producer.wait_delivered(kBefore, 15s));

  kafka.broker_down(2);
  for (int i = kBefore; i < kBefore + kDuring; ++i) producer.produce("failover", "k", "k#" + std::to_string(i), 0);
  // Asserting an absence: nothing may be delivered (or fail) while the leader is away.
  EXPECT_FALSE(wait_until([&] { producer.poll(); return producer.delivered + producer.failed > kBefore; }, 2s))
      << "delivered " << producer.delivered - kBefore << " records while the leader was down";

  kafka.broker_up(2);
  ASSERT_TRUE(producer.wait_delivered(kBefore + kDuring, 30s));
  EXPECT_EQ(producer.delivered, static_cast<std::size_t>(kBefore + kDuring));
  EXPECT_EQ(producer.failed, 0u);

  KafkaConsumerForTest consumer(kafka.bootstrap(), {"failover"});
  auto records = consumer.consume_until(kBefore + kDuring, 30s);
  for (const auto& r : records) EXPECT_EQ(r.partition, 0);
  expect_exactly_once_in_order(records, kBefore + kDuring);
  EXPECT_TRUE(consumer.consume_until(1, 500ms).empty()) << "more records than produced";
}

constexpr const char* kKcat = "/usr/bin/kcat";

TEST(DevKafka, KcatListsAllBrokers) {
  if (!std::filesystem::exists(kKcat)) GTEST_SKIP() << "no " << kKcat;
  DevKafka kafka;
  TempDir dir;
  Process list({kKcat, "-L", "-b", kafka.bootstrap()}, ProcessOptions{}.with_stderr_file(dir / "kcat.err"));
  const std::string out = list.read_all(15s);
  EXPECT_EQ(list.wait_exit(15s), 0) << archer::testing::read_file(dir / "kcat.err");
  EXPECT_NE(out.find(" 3 brokers:"), std::string::npos) << out;
  for (int id = 1; id <= 3; ++id) {
    EXPECT_NE(out.find("broker " + std::to_string(id) + " at 127.0.0.1:"), std::string::npos) << out;
  }
}

TEST(DevKafka, KcatProduceConsumeRoundTrip) {
  if (!std::filesystem::exists(kKcat)) GTEST_SKIP() << "no " << kKcat;
  DevKafka kafka(DevKafkaOptions{}.with_topic("kcat:1"));
  TempDir dir;
  std::string expected;
  {
    Process producer({kKcat, "-P", "-b", kafka.bootstrap(), "-t", "kcat", "-K", ":"},
                     ProcessOptions{}.with_stdin().with_stderr_file(dir / "kcat-P.err"));
    for (int i = 0; i < 5; ++i) {
      ASSERT_TRUE(producer.write_line("k" + std::to_string(i) + ":v" + std::to_string(i)));
      expected += "k" + std::to_string(i) + "=v" + std::to_string(i) + "\n";
    }
    producer.close_stdin();  // kcat -P flushes and exits at EOF
    EXPECT_EQ(producer.wait_exit(15s), 0) << archer::testing::read_file(dir / "kcat-P.err");
  }
  Process consumer({kKcat, "-C", "-b", kafka.bootstrap(), "-t", "kcat", "-o", "beginning", "-e", "-f", "%k=%s\n"},
                   ProcessOptions{}.with_stderr_file(dir / "kcat-C.err"));
  const std::string out = consumer.read_all(15s);
  EXPECT_EQ(consumer.wait_exit(15s), 0) << archer::testing::read_file(dir / "kcat-C.err");
  EXPECT_EQ(out, expected);
}

}  // namespace
