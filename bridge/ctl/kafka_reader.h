#pragma once
// Reads a topic once, from a starting point to the end it had when reading began, without joining
// a consumer group (partitions are assigned by hand). Used by redrive and tail.
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <librdkafka/rdkafkacpp.h>

#include "archer/core/config.h"

namespace archer::ctl {

class KafkaReader {
 public:
  enum class Start { committed, beginning, end };
  // `group` is where offsets are committed (may be empty: nothing committed).
  static std::unique_ptr<KafkaReader> open(const KafkaConfig& config, const std::string& topic,
                                           const std::string& group, Start start, std::string& error);
  ~KafkaReader();

  // Calls `handle` for each record up to the end the topic had at open(), then returns the count.
  // With `follow`, keeps reading new records until `stop` returns true.
  std::uint64_t read(const std::function<void(const RdKafka::Message&)>& handle, bool follow,
                     const std::function<bool()>& stop);
  // Commits the positions reached (for the group given to open()).
  bool commit(std::string& error);

 private:
  std::unique_ptr<RdKafka::KafkaConsumer> consumer_;
  std::vector<std::unique_ptr<RdKafka::TopicPartition>> partitions_;
  std::vector<std::int64_t> start_offsets_;
  std::vector<std::int64_t> end_offsets_;
};

}  // namespace archer::ctl
