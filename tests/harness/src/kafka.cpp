#include "archer/testing/kafka.h"

#include <unistd.h>

#include <atomic>
#include <stdexcept>

#include <gtest/gtest.h>
#include <librdkafka/rdkafkacpp.h>

#include "archer/testing/wait.h"

namespace archer::testing {
namespace {

std::unique_ptr<RdKafka::Conf> make_conf(const std::map<std::string, std::string>& settings) {
  std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  std::string errstr;
  for (const auto& [name, value] : settings) {
    if (conf->set(name, value, errstr) != RdKafka::Conf::CONF_OK) {
      throw std::runtime_error("kafka config " + name + "=" + value + ": " + errstr);
    }
  }
  return conf;
}

Record to_record(RdKafka::Message& message) {
  Record record;
  record.topic = message.topic_name();
  if (message.key() != nullptr) record.key = *message.key();
  if (message.payload() != nullptr) {
    record.value.assign(static_cast<const char*>(message.payload()), message.len());
  }
  if (const RdKafka::Headers* headers = message.headers(); headers != nullptr) {
    for (const auto& header : headers->get_all()) {
      record.headers[header.key()] =
          header.value() != nullptr ? std::string(static_cast<const char*>(header.value()), header.value_size()) : "";
    }
  }
  record.partition = message.partition();
  record.offset = message.offset();
  return record;
}

class DeliveryWaiter : public RdKafka::DeliveryReportCb {
 public:
  void dr_cb(RdKafka::Message& message) override {
    err = message.err();
    error = message.errstr();
    delivered.partition = message.partition();
    delivered.offset = message.offset();
    done = true;
  }
  bool done = false;
  RdKafka::ErrorCode err = RdKafka::ERR_NO_ERROR;
  std::string error;
  Delivered delivered;
};

}  // namespace

std::string unique_name(const std::string& prefix) {
  static std::atomic<unsigned> counter{0};
  return prefix + "-" + std::to_string(getpid()) + "-" + std::to_string(++counter);
}

KafkaConsumerForTest::KafkaConsumerForTest(const std::string& bootstrap, const std::vector<std::string>& topics,
                                           const std::map<std::string, std::string>& extra_config) {
  std::map<std::string, std::string> settings{
      {"bootstrap.servers", bootstrap},
      {"group.id", unique_name("archer-test-group")},
      {"auto.offset.reset", "earliest"},
      {"enable.partition.eof", "false"},
      {"enable.auto.commit", "false"},
      {"topic.metadata.refresh.interval.ms", "1000"},
      {"reconnect.backoff.max.ms", "500"},
      {"log_level", "3"},
  };
  for (const auto& [name, value] : extra_config) settings[name] = value;
  auto conf = make_conf(settings);
  std::string errstr;
  consumer_.reset(RdKafka::KafkaConsumer::create(conf.get(), errstr));
  if (!consumer_) throw std::runtime_error("KafkaConsumer: " + errstr);

  // Every partition is assigned directly from the beginning instead of subscribe(): librdkafka 2.0.2's
  // mock group coordinator occasionally leaves a JoinGroup unanswered until the request times out
  // (~25 s), and an initial rebalance costs ~3 s even when it works.
  std::vector<RdKafka::TopicPartition*> partitions;
  for (const auto& topic : topics) {
    std::string why;
    const bool found = wait_until(
        [&] {
          std::unique_ptr<RdKafka::Topic> handle(RdKafka::Topic::create(consumer_.get(), topic, nullptr, why));
          RdKafka::Metadata* raw = nullptr;
          const auto err = consumer_->metadata(false, handle.get(), &raw, 2000);
          std::unique_ptr<RdKafka::Metadata> metadata(raw);
          if (err != RdKafka::ERR_NO_ERROR) {
            why = RdKafka::err2str(err);
            return false;
          }
          for (const auto* t : *metadata->topics()) {
            if (t->topic() != topic) continue;
            if (t->err() != RdKafka::ERR_NO_ERROR || t->partitions()->empty()) {
              why = RdKafka::err2str(t->err());
              return false;
            }
            for (const auto* p : *t->partitions()) {
              partitions.push_back(RdKafka::TopicPartition::create(topic, p->id(), RdKafka::Topic::OFFSET_BEGINNING));
            }
            return true;
          }
          why = "not in metadata";
          return false;
        },
        std::chrono::seconds(10), std::chrono::milliseconds(100));
    if (!found) {
      RdKafka::TopicPartition::destroy(partitions);
      throw std::runtime_error("KafkaConsumerForTest: topic " + topic + ": " + why);
    }
  }
  const auto err = consumer_->assign(partitions);
  RdKafka::TopicPartition::destroy(partitions);
  if (err != RdKafka::ERR_NO_ERROR) throw std::runtime_error("assign: " + RdKafka::err2str(err));
}

KafkaConsumerForTest::~KafkaConsumerForTest() {
  if (consumer_) consumer_->close();
}

std::vector<Record> KafkaConsumerForTest::consume_until(std::size_t count, std::chrono::milliseconds timeout) {
  std::vector<Record> records;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (records.size() < count) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    std::unique_ptr<RdKafka::Message> message(consumer_->consume(static_cast<int>(std::min<long long>(left.count(), 100))));
    switch (message->err()) {
      case RdKafka::ERR_NO_ERROR:
        records.push_back(to_record(*message));
        break;
      case RdKafka::ERR__TIMED_OUT:
      case RdKafka::ERR__PARTITION_EOF:
        break;
      default:
        // Transport errors while a broker is down are expected in fault tests; they are not fatal.
        if (message->err() != RdKafka::ERR__TRANSPORT && message->err() != RdKafka::ERR__ALL_BROKERS_DOWN) {
          ADD_FAILURE() << "consumer error: " << message->errstr();
        }
        break;
    }
  }
  return records;
}

Delivered produce_sync(const std::string& bootstrap, const std::string& topic, const std::string& key,
                       const std::string& value, const std::map<std::string, std::string>& headers,
                       std::int32_t partition, std::chrono::milliseconds timeout) {
  DeliveryWaiter waiter;
  auto conf = make_conf({{"bootstrap.servers", bootstrap},
                         {"acks", "all"},
                         {"message.timeout.ms", std::to_string(timeout.count())},
                         {"log_level", "3"}});
  std::string errstr;
  conf->set("dr_cb", static_cast<RdKafka::DeliveryReportCb*>(&waiter), errstr);
  std::unique_ptr<RdKafka::Producer> producer(RdKafka::Producer::create(conf.get(), errstr));
  if (!producer) throw std::runtime_error("Producer: " + errstr);

  RdKafka::Headers* kafka_headers = RdKafka::Headers::create();
  for (const auto& [name, header_value] : headers) kafka_headers->add(name, header_value);
  const auto err = producer->produce(topic, partition < 0 ? RdKafka::Topic::PARTITION_UA : partition,
                                     RdKafka::Producer::RK_MSG_COPY, const_cast<char*>(value.data()), value.size(),
                                     key.data(), key.size(), 0, kafka_headers, nullptr);
  if (err != RdKafka::ERR_NO_ERROR) {
    delete kafka_headers;  // only freed by librdkafka when produce() succeeds
    throw std::runtime_error("produce: " + RdKafka::err2str(err));
  }
  const auto deadline = std::chrono::steady_clock::now() + timeout + std::chrono::seconds(1);
  while (!waiter.done && std::chrono::steady_clock::now() < deadline) producer->poll(50);
  if (!waiter.done) throw std::runtime_error("produce_sync: no delivery report for " + topic);
  if (waiter.err != RdKafka::ERR_NO_ERROR) throw std::runtime_error("produce_sync: " + waiter.error);
  return waiter.delivered;
}

}  // namespace archer::testing
