#pragma once
// Topic administration over librdkafka's Admin API (the C API: 2.0.2 has no C++ one): what the
// cluster's metadata lists, CreateTopics with topic configs, and DescribeConfigs of topics. Used by
// `archer-ctl topics` and the test harness; never on the gateway's data path.
//
// Errors are values: each call returns a message, empty on success. Every call blocks for at most
// its timeout. Threading: one thread at a time per KafkaAdmin.
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "archer/core/config.h"

struct rd_kafka_s;

namespace archer::transport {

struct PartitionMetadata {
  std::int32_t id = -1;
  std::int32_t leader = -1;  // -1: none right now
  std::vector<std::int32_t> replicas;
  std::vector<std::int32_t> isrs;
};

struct TopicMetadata {
  std::string error;  // "" when the broker knows the topic
  std::vector<PartitionMetadata> partitions;

  bool every_partition_led() const;
  // Replicas of each partition (the smallest count, when partitions differ).
  int replication() const;
};

struct ClusterMetadata {
  std::vector<std::int32_t> brokers;  // node ids, ascending
  std::int32_t controller = -1;       // -1: the cluster named none (librdkafka's mock cluster names none)
  std::map<std::string, TopicMetadata> topics;
};

struct NewTopic {
  std::string name;
  int partitions = 1;
  int replication = 1;
  std::vector<std::pair<std::string, std::string>> configs;
};

struct ConfigValue {
  std::string value;
  bool is_default = false;  // the broker's default, not set on the topic
};
using TopicConfigs = std::map<std::string, ConfigValue>;

class KafkaAdmin {
 public:
  // `config` is a [kafka] table (bootstrap.servers, security settings). Returns null and sets
  // `error` when librdkafka refuses the configuration.
  static std::unique_ptr<KafkaAdmin> create(const KafkaConfig& config, std::string& error);
  ~KafkaAdmin();
  KafkaAdmin(const KafkaAdmin&) = delete;
  KafkaAdmin& operator=(const KafkaAdmin&) = delete;

  // Brokers and the named topics (all topics when `topics` is empty). A topic the cluster does
  // not know is listed with its error (e.g. "Broker: Unknown topic or partition").
  std::string metadata(const std::vector<std::string>& topics, ClusterMetadata& out, std::chrono::milliseconds timeout);

  // Creates the topics; `results` gets one message per topic ("" when created). The returned
  // message is about the request as a whole (e.g. the broker does not support CreateTopics).
  std::string create_topics(const std::vector<NewTopic>& topics, std::map<std::string, std::string>& results,
                            std::chrono::milliseconds timeout);

  // Every config entry of each topic; a topic whose configs could not be read gets no entry in
  // `configs` and a message in `errors`.
  std::string describe_topic_configs(const std::vector<std::string>& topics,
                                     std::map<std::string, TopicConfigs>& configs,
                                     std::map<std::string, std::string>& errors, std::chrono::milliseconds timeout);

 private:
  struct HandleDeleter {
    void operator()(rd_kafka_s* handle) const noexcept;
  };
  explicit KafkaAdmin(rd_kafka_s* handle) : handle_(handle) {}

  std::unique_ptr<rd_kafka_s, HandleDeleter> handle_;
};

}  // namespace archer::transport
