// One controller-only node and three brokers (Apache Kafka, KRaft), shared by the tests of this
// program: broker failures (SIGKILL, SIGSTOP), leader election, and the whole cluster stopped and
// started again. Each test leaves every node running for the next one.
#include <gtest/gtest.h>
#include <librdkafka/rdkafkacpp.h>

#include <algorithm>
#include <atomic>
#include <iostream>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "archer/testing/testing.h"
#include "archer/testing/three_brokers.h"

namespace {

using namespace std::chrono_literals;
using namespace archer::testing;

class Failover : public OnThreeBrokers {
 protected:
  // The partition's leader once metadata names one (it can lag a moment behind a topic's creation
  // while a broker of the previous test restarts); -1 after 30 s.
  int leader_of(const std::string& topic, int partition) {
    int leader = -1;
    wait_until(
        [&] {
          leader = kafka().leader(topic, partition);
          return leader >= 1;
        },
        30s, 100ms);
    return leader;
  }
};

// An idempotent producer (acks=all) that counts delivery reports.
class CountingProducer : public RdKafka::DeliveryReportCb {
 public:
  explicit CountingProducer(const std::string& bootstrap) {
    std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
    std::string error;
    for (const auto& [name, value] :
         std::map<std::string, std::string>{{"bootstrap.servers", bootstrap},
                                            {"enable.idempotence", "true"},
                                            {"acks", "all"},
                                            {"linger.ms", "5"},
                                            {"topic.metadata.refresh.interval.ms", "1000"},
                                            {"log_level", "2"}}) {  // a killed broker is expected
      conf->set(name, value, error);
    }
    conf->set("dr_cb", static_cast<RdKafka::DeliveryReportCb*>(this), error);
    producer_.reset(RdKafka::Producer::create(conf.get(), error));
    if (!producer_) throw std::runtime_error(error);
  }

  void dr_cb(RdKafka::Message& message) override {
    if (message.err() == RdKafka::ERR_NO_ERROR) {
      ++delivered;
    } else {
      ++failed;
      last_error = message.errstr();
    }
  }

  void produce(const std::string& topic, const std::string& key, const std::string& value) {
    while (producer_->produce(topic, RdKafka::Topic::PARTITION_UA, RdKafka::Producer::RK_MSG_COPY,
                              const_cast<char*>(value.data()), value.size(), key.data(), key.size(), 0,
                              nullptr) == RdKafka::ERR__QUEUE_FULL) {
      producer_->poll(10);
    }
    producer_->poll(0);
  }
  void poll(int ms) { producer_->poll(ms); }
  RdKafka::ErrorCode flush(std::chrono::milliseconds timeout) {
    return producer_->flush(static_cast<int>(timeout.count()));
  }

  std::atomic<int> delivered{0};
  std::atomic<int> failed{0};
  std::string last_error;

 private:
  std::unique_ptr<RdKafka::Producer> producer_;
};

TEST_F(Failover, ThreeBrokersAndAControllerStartAndAnswer) {
  EXPECT_EQ(kafka().broker_ids(), (std::vector<int>{1, 2, 3}));
  std::cout << kafka().name() << ": a controller and 3 brokers answered metadata " << kafka().last_start_time().count()
            << " ms after their JVMs started; RSS";
  for (int id : kafka().node_ids()) {
    const auto rss = kafka().rss_bytes(id);
    EXPECT_GT(rss, 0u) << "node " << id;
    std::cout << " node " << id << " " << rss / (1 << 20) << " MiB";
  }
  std::cout << "\n";
  RecordProperty("start_ms", static_cast<int>(kafka().last_start_time().count()));
}

// The leader of a replication-3 partition (min.insync.replicas 2) is killed while an idempotent
// producer writes: another replica is elected, and every record is there once, in per-key order.
TEST_F(Failover, KilledLeaderIsReplacedAndAnIdempotentProducerLosesNothing) {
  const std::string topic = unique_name("failover");
  kafka().create_topic(topic, 3, 3, {{"min.insync.replicas", "2"}});
  const int victim = leader_of(topic, 0);
  ASSERT_GE(victim, 1) << "no leader for " << topic;

  CountingProducer producer(kafka().bootstrap());
  constexpr int kRecords = 3000;
  constexpr int kKeys = 20;
  for (int i = 0; i < kRecords; ++i) {
    producer.produce(topic, "dev-" + std::to_string(i % kKeys), std::to_string(i));
    if (i == kRecords / 3) {
      // Let what is in flight reach the leader, so the kill falls in the middle of the stream.
      ASSERT_TRUE(wait_until(
          [&] {
            producer.poll(5);
            return producer.delivered >= kRecords / 4;
          },
          30s, 0ms));
      kafka().kill9(victim);
    }
    if (i % 100 == 0) producer.poll(1);
  }
  std::string state;
  EXPECT_TRUE(wait_until(
      [&] {
        const int leader = kafka().leader(topic, 0);
        state = std::to_string(leader);
        return leader >= 1 && leader != victim;
      },
      30s, 100ms))
      << "partition 0 still led by " << state;
  ASSERT_EQ(producer.flush(90s), RdKafka::ERR_NO_ERROR);
  EXPECT_EQ(producer.delivered, kRecords);
  EXPECT_EQ(producer.failed, 0) << producer.last_error;

  kafka().start(victim);
  KafkaConsumerForTest consumer(kafka().bootstrap(), {topic});
  const auto records = consumer.consume_until(kRecords, 60s);
  std::set<std::string> seen;
  std::map<std::string, int> last_per_key;
  int duplicates = 0;
  int out_of_order = 0;
  for (const auto& record : records) {
    if (!seen.insert(record.value).second) ++duplicates;
    const int seq = std::stoi(record.value);
    if (last_per_key.contains(record.key) && seq <= last_per_key[record.key]) ++out_of_order;
    last_per_key[record.key] = seq;
  }
  EXPECT_EQ(seen.size(), static_cast<std::size_t>(kRecords)) << "lost " << kRecords - seen.size();
  EXPECT_EQ(duplicates, 0);
  EXPECT_EQ(out_of_order, 0);
}

// A frozen broker (SIGSTOP) stops heartbeating: the controller fences it and its partitions get
// other leaders; thawed, it rejoins.
TEST_F(Failover, FrozenBrokerIsFencedAndRejoinsWhenThawed) {
  const std::string topic = unique_name("frozen");
  kafka().create_topic(topic, 1, 3);
  const int victim = leader_of(topic, 0);
  ASSERT_GE(victim, 1) << "no leader for " << topic;
  kafka().pause(victim);
  EXPECT_TRUE(wait_until(
      [&] {
        const int leader = kafka().leader(topic, 0);
        return leader >= 1 && leader != victim;
      },
      30s, 100ms));
  produce_sync(kafka().bootstrap(), topic, "k", "while frozen", {}, -1, 30s);
  kafka().resume(victim);
  EXPECT_TRUE(wait_until(
      [&] {
        const auto listed = kafka().brokers_in_metadata();
        return std::find(listed.begin(), listed.end(), victim) != listed.end();
      },
      30s, 100ms))
      << "broker " << victim << " did not rejoin";
  KafkaConsumerForTest consumer(kafka().bootstrap(), {topic});
  const auto records = consumer.consume_until(1, 30s);
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].value, "while frozen");
}

TEST_F(Failover, WholeClusterStoppedAndStartedKeepsItsRecords) {
  const std::string topic = unique_name("restart");
  kafka().create_topic(topic, 3, 3);
  for (int i = 0; i < 20; ++i) produce_sync(kafka().bootstrap(), topic, "k" + std::to_string(i), std::to_string(i));
  kafka().stop();
  for (int id : kafka().node_ids()) EXPECT_FALSE(kafka().running(id)) << "node " << id;
  kafka().start();
  std::cout << "the whole cluster answered again " << kafka().last_start_time().count() << " ms after its start\n";
  KafkaConsumerForTest consumer(kafka().bootstrap(), {topic});
  EXPECT_EQ(consumer.consume_until(20, 60s).size(), 20u);
}

}  // namespace
