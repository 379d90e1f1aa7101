#include "archer/transport/kafka_admin.h"

#include <librdkafka/rdkafka.h>

#include <algorithm>

#include <fmt/format.h>

#include "archer/core/secrets.h"
#include "archer/transport/kafka_log.h"

namespace archer::transport {
namespace {

struct QueueDeleter {
  void operator()(rd_kafka_queue_t* queue) const noexcept { rd_kafka_queue_destroy(queue); }
};
struct OptionsDeleter {
  void operator()(rd_kafka_AdminOptions_t* options) const noexcept { rd_kafka_AdminOptions_destroy(options); }
};
struct EventDeleter {
  void operator()(rd_kafka_event_t* event) const noexcept { rd_kafka_event_destroy(event); }
};
struct MetadataDeleter {
  void operator()(const rd_kafka_metadata_t* metadata) const noexcept { rd_kafka_metadata_destroy(metadata); }
};
using QueuePtr = std::unique_ptr<rd_kafka_queue_t, QueueDeleter>;
using OptionsPtr = std::unique_ptr<rd_kafka_AdminOptions_t, OptionsDeleter>;
using EventPtr = std::unique_ptr<rd_kafka_event_t, EventDeleter>;
using MetadataPtr = std::unique_ptr<const rd_kafka_metadata_t, MetadataDeleter>;

int as_ms(std::chrono::milliseconds timeout) { return static_cast<int>(std::max<long long>(timeout.count(), 1)); }

// Options with both timeouts at `timeout`; the operation timeout also makes CreateTopics wait
// until the controller has created the topics.
std::string make_options(rd_kafka_t* rk, rd_kafka_admin_op_t op, std::chrono::milliseconds timeout,
                         OptionsPtr& options) {
  options.reset(rd_kafka_AdminOptions_new(rk, op));
  char errstr[256];
  if (rd_kafka_AdminOptions_set_request_timeout(options.get(), as_ms(timeout), errstr, sizeof errstr) !=
      RD_KAFKA_RESP_ERR_NO_ERROR) {
    return errstr;
  }
  if (op == RD_KAFKA_ADMIN_OP_CREATETOPICS &&
      rd_kafka_AdminOptions_set_operation_timeout(options.get(), as_ms(timeout), errstr, sizeof errstr) !=
          RD_KAFKA_RESP_ERR_NO_ERROR) {
    return errstr;
  }
  return "";
}

// Waits for the one result event of an admin request on `queue`.
std::string wait_result(rd_kafka_queue_t* queue, rd_kafka_event_type_t type, std::chrono::milliseconds timeout,
                        EventPtr& event) {
  // librdkafka enforces the request timeout itself; the extra second only covers its reply.
  event.reset(rd_kafka_queue_poll(queue, as_ms(timeout + std::chrono::seconds(1))));
  if (!event) return "no answer from the cluster in time";
  if (rd_kafka_event_type(event.get()) != type) {
    return fmt::format("unexpected admin event {}", rd_kafka_event_name(event.get()));
  }
  if (rd_kafka_event_error(event.get()) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return rd_kafka_event_error_string(event.get());
  }
  return "";
}

}  // namespace

bool TopicMetadata::every_partition_led() const {
  return !partitions.empty() &&
         std::all_of(partitions.begin(), partitions.end(), [](const PartitionMetadata& p) { return p.leader >= 0; });
}

int TopicMetadata::replication() const {
  int smallest = 0;
  for (const auto& partition : partitions) {
    const int count = static_cast<int>(partition.replicas.size());
    if (smallest == 0 || count < smallest) smallest = count;
  }
  return smallest;
}

void KafkaAdmin::HandleDeleter::operator()(rd_kafka_s* handle) const noexcept { rd_kafka_destroy(handle); }

std::unique_ptr<KafkaAdmin> KafkaAdmin::create(const KafkaConfig& config, std::string& error) {
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  char errstr[512];
  for (const auto& [name, value] : config.properties) {
    if (rd_kafka_conf_set(conf, name.c_str(), value.c_str(), errstr, sizeof errstr) != RD_KAFKA_CONF_OK) {
      error = fmt::format("[kafka] property '{}' = '{}': {}", name, shown_value(name, value),
                          is_secret_property(name) ? without_secret(errstr, value) : std::string(errstr));
      rd_kafka_conf_destroy(conf);
      return nullptr;
    }
  }
  route_librdkafka_log(conf);
  // The handle only sends admin and metadata requests; a producer is the lightest kind.
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
  if (rk == nullptr) {  // conf is still ours on failure
    rd_kafka_conf_destroy(conf);
    error = fmt::format("cannot create a Kafka admin client: {}", errstr);
    return nullptr;
  }
  return std::unique_ptr<KafkaAdmin>(new KafkaAdmin(rk));
}

KafkaAdmin::~KafkaAdmin() = default;

std::string KafkaAdmin::metadata(const std::vector<std::string>& topics, ClusterMetadata& out,
                                 std::chrono::milliseconds timeout) {
  out = {};
  const rd_kafka_metadata_t* raw = nullptr;
  // Always every topic: a request naming a topic would have the broker create it where
  // auto.create.topics.enable is on.
  const rd_kafka_resp_err_t err = rd_kafka_metadata(handle_.get(), 1, nullptr, &raw, as_ms(timeout));
  MetadataPtr metadata(raw);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) return rd_kafka_err2str(err);
  for (int i = 0; i < metadata->broker_cnt; ++i) out.brokers.push_back(metadata->brokers[i].id);
  std::sort(out.brokers.begin(), out.brokers.end());
  out.controller = rd_kafka_controllerid(handle_.get(), 0);  // cached by the request above
  for (int i = 0; i < metadata->topic_cnt; ++i) {
    const rd_kafka_metadata_topic_t& topic = metadata->topics[i];
    if (!topics.empty() && std::find(topics.begin(), topics.end(), topic.topic) == topics.end()) continue;
    TopicMetadata& entry = out.topics[topic.topic];
    if (topic.err != RD_KAFKA_RESP_ERR_NO_ERROR) entry.error = rd_kafka_err2str(topic.err);
    for (int p = 0; p < topic.partition_cnt; ++p) {
      const rd_kafka_metadata_partition_t& partition = topic.partitions[p];
      PartitionMetadata& meta = entry.partitions.emplace_back();
      meta.id = partition.id;
      meta.leader = partition.err == RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE ? -1 : partition.leader;
      meta.replicas.assign(partition.replicas, partition.replicas + partition.replica_cnt);
      meta.isrs.assign(partition.isrs, partition.isrs + partition.isr_cnt);
    }
  }
  // A named topic the cluster does not list is unknown.
  for (const auto& name : topics) {
    if (!out.topics.contains(name)) out.topics[name].error = rd_kafka_err2str(RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART);
  }
  return "";
}

std::string KafkaAdmin::create_topics(const std::vector<NewTopic>& topics, std::map<std::string, std::string>& results,
                                      std::chrono::milliseconds timeout) {
  results.clear();
  if (topics.empty()) return "";
  std::vector<rd_kafka_NewTopic_t*> requests;
  auto destroy_requests = [&] { rd_kafka_NewTopic_destroy_array(requests.data(), requests.size()); };
  char errstr[512];
  for (const auto& topic : topics) {
    rd_kafka_NewTopic_t* request =
        rd_kafka_NewTopic_new(topic.name.c_str(), topic.partitions, topic.replication, errstr, sizeof errstr);
    if (request == nullptr) {
      destroy_requests();
      return fmt::format("topic {}: {}", topic.name, errstr);
    }
    requests.push_back(request);
    for (const auto& [name, value] : topic.configs) {
      if (rd_kafka_NewTopic_set_config(request, name.c_str(), value.c_str()) != RD_KAFKA_RESP_ERR_NO_ERROR) {
        destroy_requests();
        return fmt::format("topic {}: config {}={} refused", topic.name, name, value);
      }
    }
  }
  OptionsPtr options;
  if (std::string problem = make_options(handle_.get(), RD_KAFKA_ADMIN_OP_CREATETOPICS, timeout, options);
      !problem.empty()) {
    destroy_requests();
    return problem;
  }
  QueuePtr queue(rd_kafka_queue_new(handle_.get()));
  rd_kafka_CreateTopics(handle_.get(), requests.data(), requests.size(), options.get(), queue.get());
  destroy_requests();  // the request holds its own copies

  EventPtr event;
  if (std::string problem = wait_result(queue.get(), RD_KAFKA_EVENT_CREATETOPICS_RESULT, timeout, event);
      !problem.empty()) {
    return problem;
  }
  size_t count = 0;
  const rd_kafka_topic_result_t** created =
      rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(event.get()), &count);
  for (size_t i = 0; i < count; ++i) {
    const char* message = rd_kafka_topic_result_error_string(created[i]);
    results[rd_kafka_topic_result_name(created[i])] =
        rd_kafka_topic_result_error(created[i]) == RD_KAFKA_RESP_ERR_NO_ERROR
            ? ""
            : (message != nullptr ? message : rd_kafka_err2str(rd_kafka_topic_result_error(created[i])));
  }
  return "";
}

std::string KafkaAdmin::describe_topic_configs(const std::vector<std::string>& topics,
                                               std::map<std::string, TopicConfigs>& configs,
                                               std::map<std::string, std::string>& errors,
                                               std::chrono::milliseconds timeout) {
  configs.clear();
  errors.clear();
  if (topics.empty()) return "";
  std::vector<rd_kafka_ConfigResource_t*> resources;
  for (const auto& topic : topics)
    resources.push_back(rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, topic.c_str()));
  auto destroy_resources = [&] { rd_kafka_ConfigResource_destroy_array(resources.data(), resources.size()); };
  OptionsPtr options;
  if (std::string problem = make_options(handle_.get(), RD_KAFKA_ADMIN_OP_DESCRIBECONFIGS, timeout, options);
      !problem.empty()) {
    destroy_resources();
    return problem;
  }
  QueuePtr queue(rd_kafka_queue_new(handle_.get()));
  rd_kafka_DescribeConfigs(handle_.get(), resources.data(), resources.size(), options.get(), queue.get());
  destroy_resources();

  EventPtr event;
  if (std::string problem = wait_result(queue.get(), RD_KAFKA_EVENT_DESCRIBECONFIGS_RESULT, timeout, event);
      !problem.empty()) {
    return problem;
  }
  size_t count = 0;
  const rd_kafka_ConfigResource_t** described =
      rd_kafka_DescribeConfigs_result_resources(rd_kafka_event_DescribeConfigs_result(event.get()), &count);
  for (size_t i = 0; i < count; ++i) {
    const std::string name = rd_kafka_ConfigResource_name(described[i]);
    if (rd_kafka_ConfigResource_error(described[i]) != RD_KAFKA_RESP_ERR_NO_ERROR) {
      const char* message = rd_kafka_ConfigResource_error_string(described[i]);
      errors[name] = message != nullptr ? message : rd_kafka_err2str(rd_kafka_ConfigResource_error(described[i]));
      continue;
    }
    TopicConfigs& entries = configs[name];
    size_t entry_count = 0;
    const rd_kafka_ConfigEntry_t** list = rd_kafka_ConfigResource_configs(described[i], &entry_count);
    for (size_t e = 0; e < entry_count; ++e) {
      const char* value = rd_kafka_ConfigEntry_value(list[e]);
      entries[rd_kafka_ConfigEntry_name(list[e])] =
          ConfigValue{value != nullptr ? value : "", rd_kafka_ConfigEntry_is_default(list[e]) != 0};
    }
  }
  return "";
}

}  // namespace archer::transport
