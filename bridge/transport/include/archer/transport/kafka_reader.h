#pragma once
// Reads a topic from a starting point to the end it had when reading began (or, following, on and
// on), without joining a consumer group: partitions are assigned by hand (a gateway's logs have one
// reader, and the group protocol adds seconds of rebalancing for nothing). Offsets can still be
// committed under a group id. Used by the actuator gateway, replay, redrive and tail.
//
// Errors are not silent: consume errors are counted and logged (rate-limited), and a read that makes
// no progress for `stall_limit` while records are still due returns early with stalled() set.
// Threading: read() on one thread; commit_async() from any thread (librdkafka's consumer is
// thread-safe).
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <librdkafka/rdkafkacpp.h>

#include "archer/core/config.h"
#include "archer/core/log.h"
#include "archer/transport/kafka_producer.h"

namespace archer::transport {

// What every reader starts from (no auto-commit; `group`, or a private one when empty); [kafka]
// goes on top.
KafkaProperties reader_defaults(const std::string& group);

class KafkaReader {
 public:
  enum class Start { committed, beginning, end };
  // `group` is where offsets are committed (may be empty: nothing committed). A topic that does not
  // exist is an error, unless `missing_is_empty`: then the reader reads nothing.
  static std::unique_ptr<KafkaReader> open(const KafkaConfig& config, const std::string& topic,
                                           const std::string& group, Start start, std::string& error,
                                           bool missing_is_empty = false);
  // From the given next offset per partition (partitions not given: from their beginning).
  static std::unique_ptr<KafkaReader> open_from(const KafkaConfig& config, const std::string& topic,
                                                const std::map<std::int32_t, std::int64_t>& from, std::string& error,
                                                bool missing_is_empty = false);
  ~KafkaReader();

  // Calls `handle` for each record up to the end the topic had at open(), then returns the count.
  // With `follow`, keeps reading new records until `stop` returns true. A read stopped early is
  // continued by the next call.
  std::uint64_t read(const std::function<void(const RdKafka::Message&)>& handle, bool follow,
                     const std::function<bool()>& stop);
  // Commits the positions reached by read() (for the group given to open()).
  bool commit(std::string& error);
  // Commits the given next-offsets to read, per partition, without waiting.
  void commit_async(const std::vector<std::pair<std::int32_t, std::int64_t>>& next_offsets);

  // Where reading starts (per partition; after Start::committed, the group's committed offsets or
  // the log's start) and where the topic ended at open().
  std::map<std::int32_t, std::int64_t> start_offsets() const;
  std::map<std::int32_t, std::int64_t> end_offsets() const;
  // Every partition has been read up to its end at open().
  bool caught_up() const { return caught_up_; }
  // read() returned early: no progress for stall_limit while records were still due.
  bool stalled() const { return stalled_; }
  void set_stall_limit(std::chrono::milliseconds limit) { stall_limit_ = limit; }
  std::uint64_t errors() const { return errors_; }
  const std::string& topic() const { return topic_; }

 private:
  static std::unique_ptr<KafkaReader> open_with(const KafkaConfig& config, const std::string& topic,
                                                const std::string& group, Start start,
                                                const std::map<std::int32_t, std::int64_t>* from, std::string& error,
                                                bool missing_is_empty);

  std::string topic_;
  std::unique_ptr<RdKafka::KafkaConsumer> consumer_;
  std::vector<std::unique_ptr<RdKafka::TopicPartition>> partitions_;
  std::vector<std::int64_t> start_offsets_;
  std::vector<std::int64_t> end_offsets_;
  std::vector<std::int64_t> next_offsets_;  // per partition: the next offset read() will hand over
  std::chrono::milliseconds stall_limit_{std::chrono::seconds(30)};
  bool caught_up_ = false;
  bool stalled_ = false;
  std::uint64_t errors_ = 0;
  log::RateLimit error_log_{std::chrono::seconds(10)};
};

}  // namespace archer::transport
