// The gateway's Kafka producer (bridge/transport kafka_producer.h) against archer-devkafka: records go
// out through kept topic handles with their key, value and headers, and a record produced after a
// fatal error is reported as ERR__FATAL (to be sent again by the next producer), never as a refusal.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <librdkafka/rdkafka.h>

#include "archer/core/config.h"
#include "archer/core/headers.h"
#include "archer/testing/testing.h"
#include "archer/transport/kafka_producer.h"

namespace {

using namespace std::chrono_literals;
using archer::testing::DevKafka;
using archer::testing::DevKafkaOptions;
using archer::testing::KafkaConsumerForTest;
using archer::transport::KafkaProducer;

// Remembers the error of each delivery report.
class Deliveries : public archer::transport::DeliveryListener {
 public:
  void on_delivery(const RdKafka::Message&, RdKafka::ErrorCode err) override {
    std::lock_guard lock(mutex_);
    errors_.push_back(err);
    changed_.notify_all();
  }
  std::vector<RdKafka::ErrorCode> wait_for(std::size_t count, std::chrono::milliseconds timeout) {
    std::unique_lock lock(mutex_);
    changed_.wait_for(lock, timeout, [&] { return errors_.size() >= count; });
    return errors_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<RdKafka::ErrorCode> errors_;
};

std::unique_ptr<KafkaProducer> producer_for(const DevKafka& kafka) {
  archer::KafkaConfig config;
  config.properties.emplace_back("bootstrap.servers", kafka.bootstrap());
  std::string error;
  auto producer = KafkaProducer::create(config, error, "test");
  EXPECT_TRUE(producer) << error;
  return producer;
}

std::span<const std::uint8_t> bytes(const std::string& text) {
  return {reinterpret_cast<const std::uint8_t*>(text.data()), text.size()};
}

TEST(KafkaProducer, RecordsGoOutWithTheirKeyValueAndHeaders) {
  DevKafka kafka(DevKafkaOptions().with_topic("raw.test:3"));
  auto producer = producer_for(kafka);
  ASSERT_TRUE(producer);
  producer->prepare({"raw.test"});
  archer::headers::RecordHeaders headers = archer::headers::RecordHeaders::for_new_record("gw-1");
  headers.add(archer::headers::kSource, "devices/env-01/telemetry");
  Deliveries deliveries;
  const std::atomic<bool> never{false};
  const std::string value = "reading-1";
  ASSERT_EQ(producer->produce({"raw.test", "env-01", bytes(value), &headers, &deliveries}, never),
            RdKafka::ERR_NO_ERROR);
  ASSERT_EQ(deliveries.wait_for(1, 10s), std::vector{RdKafka::ERR_NO_ERROR});

  KafkaConsumerForTest consumer(kafka.bootstrap(), {"raw.test"});
  const auto records = consumer.consume_until(1, 10s);
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].key, "env-01");
  EXPECT_EQ(records[0].value, value);
  EXPECT_EQ(records[0].headers.at("archer-gateway"), "gw-1");
  EXPECT_EQ(records[0].headers.at("archer-source"), "devices/env-01/telemetry");
  EXPECT_EQ(records[0].headers.at("archer-id"), std::string(headers.get(archer::headers::kId)));
}

TEST(KafkaProducer, AProduceAfterAFatalErrorIsReportedAsFatalNotAsARefusal) {
  DevKafka kafka(DevKafkaOptions().with_topic("raw.test:3"));
  auto producer = producer_for(kafka);
  ASSERT_TRUE(producer);
  producer->prepare({"raw.test"});
  rd_kafka_test_fatal_error(producer->handle().c_ptr(), RD_KAFKA_RESP_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER, "test");
  Deliveries deliveries;
  const std::atomic<bool> never{false};
  const std::string value = "reading-2";
  EXPECT_EQ(producer->produce({"raw.test", "env-01", bytes(value), nullptr, &deliveries}, never), RdKafka::ERR__FATAL);
  EXPECT_TRUE(producer->fatal());
  producer->abandon();
}

}  // namespace
