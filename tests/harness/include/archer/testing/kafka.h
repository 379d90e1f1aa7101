#pragma once
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace RdKafka {
class KafkaConsumer;
}

namespace archer::testing {

struct Record {
  std::string topic;
  std::string key;  // "" for a null key
  std::string value;
  std::map<std::string, std::string> headers;  // a repeated header keeps its last value
  std::int32_t partition = -1;
  std::int64_t offset = -1;
};

// A consumer (unique group.id) reading every partition of `topics` from the beginning. It assign()s
// the partitions rather than subscribe(): the mock's group coordinator is slow (~3 s per join) and
// occasionally hangs a JoinGroup for ~25 s. The topics must exist (waits up to 10 s for them to
// appear in metadata; throws std::runtime_error otherwise). Offsets are not committed.
class KafkaConsumerForTest {
 public:
  KafkaConsumerForTest(const std::string& bootstrap, const std::vector<std::string>& topics,
                       const std::map<std::string, std::string>& extra_config = {});
  ~KafkaConsumerForTest();
  KafkaConsumerForTest(const KafkaConsumerForTest&) = delete;
  KafkaConsumerForTest& operator=(const KafkaConsumerForTest&) = delete;

  // Records until `count` arrived in this call or `timeout` passed. Consumer errors other than
  // partition EOF fail the test (ADD_FAILURE).
  std::vector<Record> consume_until(std::size_t count, std::chrono::milliseconds timeout);
  RdKafka::KafkaConsumer& consumer() { return *consumer_; }

 private:
  std::unique_ptr<RdKafka::KafkaConsumer> consumer_;
};

struct Delivered {
  std::int32_t partition = -1;
  std::int64_t offset = -1;
};

// Produces one record (acks=all) and waits for its delivery report. Throws std::runtime_error on a
// delivery error or timeout. partition -1 lets the partitioner choose (by key).
Delivered produce_sync(const std::string& bootstrap, const std::string& topic, const std::string& key,
                       const std::string& value, const std::map<std::string, std::string>& headers = {},
                       std::int32_t partition = -1,
                       std::chrono::milliseconds timeout = std::chrono::seconds(10));

// A unique name for topics, groups and client ids: "<prefix>-<pid>-<counter>".
std::string unique_name(const std::string& prefix);

}  // namespace archer::testing
