#pragma once
// Reads a topic once, from a starting point to the end it had when reading began, without joining
// a consumer group (partitions are assigned by hand: a gateway's logs have one reader, and the
// group protocol adds seconds of rebalancing for nothing). Offsets can still be committed under a
// group id. Used by the actuator gateway, replay, redrive and tail.
// Threading: read() on one thread; commit() from any thread (librdkafka's consumer is thread-safe).
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <librdkafka/rdkafkacpp.h>

#include "archer/core/config.h"

namespace archer::transport {

class KafkaReader {
 public:
  enum class Start { committed, beginning, end };
  // `group` is where offsets are committed (may be empty: nothing committed). A topic that does not
  // exist is an error, unless `missing_is_empty`: then the reader reads nothing.
  static std::unique_ptr<KafkaReader> open(const KafkaConfig& config, const std::string& topic,
                                           const std::string& group, Start start, std::string& error,
                                           bool missing_is_empty = false);
  ~KafkaReader();

  // Calls `handle` for each record up to the end the topic had at open(), then returns the count.
  // With `follow`, keeps reading new records until `stop` returns true.
  std::uint64_t read(const std::function<void(const RdKafka::Message&)>& handle, bool follow,
                     const std::function<bool()>& stop);
  // Commits the positions reached by read() (for the group given to open()).
  bool commit(std::string& error);
  // Commits the given next-offsets to read, per partition, without waiting.
  void commit_async(const std::vector<std::pair<std::int32_t, std::int64_t>>& next_offsets);

 private:
  std::unique_ptr<RdKafka::KafkaConsumer> consumer_;
  std::vector<std::unique_ptr<RdKafka::TopicPartition>> partitions_;
  std::vector<std::int64_t> start_offsets_;
  std::vector<std::int64_t> end_offsets_;
};

}  // namespace archer::transport
