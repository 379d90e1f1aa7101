#include "archer/transport/kafka_reader.h"

#include <unistd.h>

#include <chrono>
#include <thread>

#include <fmt/format.h>

#include "archer/transport/kafka_log.h"
#include "archer/transport/kafka_producer.h"

namespace archer::transport {
namespace {

constexpr int kRequestTimeoutMs = 10'000;

bool is_quiet(RdKafka::ErrorCode err) {
  // Nothing arrived in time, or a partition is at its end: the normal rhythm of reading.
  return err == RdKafka::ERR__TIMED_OUT || err == RdKafka::ERR__PARTITION_EOF;
}

// A partition's low and high watermarks. A real cluster answers "not leader" for a moment while a
// partition's leader moves, or after the topic was just created (its metadata already names the
// leader, which has not taken the partition yet): those answers are retried within the timeout.
RdKafka::ErrorCode query_offsets(RdKafka::KafkaConsumer& consumer, const std::string& topic, std::int32_t partition,
                                 std::int64_t& low, std::int64_t& high) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(kRequestTimeoutMs);
  for (;;) {
    const RdKafka::ErrorCode err = consumer.query_watermark_offsets(topic, partition, &low, &high, kRequestTimeoutMs);
    const bool transient = err == RdKafka::ERR_NOT_LEADER_FOR_PARTITION || err == RdKafka::ERR_LEADER_NOT_AVAILABLE ||
                           err == RdKafka::ERR_UNKNOWN_TOPIC_OR_PART;
    if (!transient || std::chrono::steady_clock::now() >= deadline) return err;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

}  // namespace

KafkaProperties reader_defaults(const std::string& group) {
  return {
      {"group.id", group.empty() ? fmt::format("archer-ctl-{}", ::getpid()) : group},
      {"enable.auto.commit", "false"},
      {"enable.auto.offset.store", "false"},
      {"log_level", "3"},
  };
}

std::unique_ptr<KafkaReader> KafkaReader::open(const KafkaConfig& config, const std::string& topic,
                                               const std::string& group, Start start, std::string& error,
                                               bool missing_is_empty) {
  return open_with(config, topic, group, start, nullptr, error, missing_is_empty);
}

std::unique_ptr<KafkaReader> KafkaReader::open_from(const KafkaConfig& config, const std::string& topic,
                                                    const std::map<std::int32_t, std::int64_t>& from,
                                                    std::string& error, bool missing_is_empty) {
  return open_with(config, topic, "", Start::beginning, &from, error, missing_is_empty);
}

std::unique_ptr<KafkaReader> KafkaReader::open_with(const KafkaConfig& config, const std::string& topic,
                                                    const std::string& group, Start start,
                                                    const std::map<std::int32_t, std::int64_t>* from,
                                                    std::string& error, bool missing_is_empty) {
  auto conf = make_kafka_conf(reader_defaults(group), config, error);
  if (!conf) return nullptr;
  route_librdkafka_log(conf->c_ptr_global());
  std::unique_ptr<KafkaReader> reader(new KafkaReader());
  reader->topic_ = topic;
  reader->consumer_.reset(RdKafka::KafkaConsumer::create(conf.get(), error));
  if (!reader->consumer_) return nullptr;

  std::string problem;
  std::unique_ptr<RdKafka::Topic> handle(RdKafka::Topic::create(reader->consumer_.get(), topic, nullptr, problem));
  RdKafka::Metadata* raw_metadata = nullptr;
  const RdKafka::ErrorCode err = reader->consumer_->metadata(false, handle.get(), &raw_metadata, kRequestTimeoutMs);
  std::unique_ptr<RdKafka::Metadata> metadata(raw_metadata);
  if (err != RdKafka::ERR_NO_ERROR || metadata->topics()->empty() ||
      metadata->topics()->front()->err() != RdKafka::ERR_NO_ERROR) {
    const auto topic_err =
        err != RdKafka::ERR_NO_ERROR || metadata->topics()->empty() ? err : metadata->topics()->front()->err();
    if (missing_is_empty && topic_err == RdKafka::ERR_UNKNOWN_TOPIC_OR_PART) {
      reader->caught_up_ = true;
      return reader;
    }
    error = fmt::format("topic '{}': {}", topic, RdKafka::err2str(topic_err));
    return nullptr;
  }
  std::vector<RdKafka::TopicPartition*> assignment;
  for (const RdKafka::PartitionMetadata* partition : *metadata->topics()->front()->partitions()) {
    std::int64_t low = 0;
    std::int64_t high = 0;
    if (const auto offsets_err = query_offsets(*reader->consumer_, topic, partition->id(), low, high);
        offsets_err != RdKafka::ERR_NO_ERROR) {
      error = fmt::format("topic '{}' partition {}: cannot read its offsets: {}", topic, partition->id(),
                          RdKafka::err2str(offsets_err));
      return nullptr;
    }
    std::int64_t begin = start == Start::end ? high : low;
    if (from != nullptr) {
      // A given offset outside [low, high] (retention moved the start, or a foreign snapshot) is clamped.
      if (auto given = from->find(partition->id()); given != from->end()) begin = std::clamp(given->second, low, high);
    }
    reader->partitions_.emplace_back(RdKafka::TopicPartition::create(topic, partition->id()));
    reader->start_offsets_.push_back(begin);
    reader->end_offsets_.push_back(high);
    assignment.push_back(reader->partitions_.back().get());
  }
  if (start == Start::committed) {
    if (const auto committed_err = reader->consumer_->committed(assignment, kRequestTimeoutMs);
        committed_err != RdKafka::ERR_NO_ERROR) {
      error = fmt::format("topic '{}': cannot read the committed offsets of group '{}': {}", topic, group,
                          RdKafka::err2str(committed_err));
      return nullptr;
    }
    for (std::size_t i = 0; i < assignment.size(); ++i) {
      // A committed offset below the log's start (retention) begins at the start.
      if (assignment[i]->offset() > reader->start_offsets_[i]) reader->start_offsets_[i] = assignment[i]->offset();
    }
  }
  for (std::size_t i = 0; i < assignment.size(); ++i) assignment[i]->set_offset(reader->start_offsets_[i]);
  reader->next_offsets_ = reader->start_offsets_;
  if (reader->consumer_->assign(assignment) != RdKafka::ERR_NO_ERROR) {
    error = fmt::format("topic '{}': cannot assign its partitions", topic);
    return nullptr;
  }
  return reader;
}

KafkaReader::~KafkaReader() {
  if (consumer_) consumer_->close();
}

std::map<std::int32_t, std::int64_t> KafkaReader::start_offsets() const {
  std::map<std::int32_t, std::int64_t> out;
  for (std::size_t i = 0; i < partitions_.size(); ++i) out[partitions_[i]->partition()] = start_offsets_[i];
  return out;
}

std::map<std::int32_t, std::int64_t> KafkaReader::end_offsets() const {
  std::map<std::int32_t, std::int64_t> out;
  for (std::size_t i = 0; i < partitions_.size(); ++i) out[partitions_[i]->partition()] = end_offsets_[i];
  return out;
}

std::uint64_t KafkaReader::read(const std::function<void(const RdKafka::Message&)>& handle, bool follow,
                                const std::function<bool()>& stop) {
  std::vector<std::int64_t>& next = next_offsets_;
  auto reached_end = [&] {
    for (std::size_t i = 0; i < next.size(); ++i) {
      if (next[i] < end_offsets_[i]) return false;
    }
    return true;
  };
  caught_up_ = caught_up_ || reached_end();
  stalled_ = false;
  std::uint64_t count = 0;
  auto last_progress = std::chrono::steady_clock::now();
  while (!stop() && (follow || !caught_up_)) {
    std::unique_ptr<RdKafka::Message> message(consumer_->consume(200));
    const auto now = std::chrono::steady_clock::now();
    if (message->err() != RdKafka::ERR_NO_ERROR) {
      if (!is_quiet(message->err())) {
        ++errors_;
        std::uint64_t suppressed = 0;
        if (error_log_.allow(suppressed)) {
          log::warn("kafka", "reading {}: {} ({} more since the last line)", topic_, message->errstr(), suppressed);
        }
      }
      if (!caught_up_ && !follow && now - last_progress >= stall_limit_) {
        stalled_ = true;
        log::error("kafka", "reading {}: no progress for {} ms with records still due; giving up this read", topic_,
                   stall_limit_.count());
        break;
      }
      continue;
    }
    last_progress = now;
    for (std::size_t i = 0; i < partitions_.size(); ++i) {
      if (partitions_[i]->partition() == message->partition()) next[i] = message->offset() + 1;
    }
    handle(*message);
    ++count;
    if (!caught_up_ && reached_end()) caught_up_ = true;
  }
  for (std::size_t i = 0; i < partitions_.size(); ++i) partitions_[i]->set_offset(next[i]);
  return count;
}

bool KafkaReader::commit(std::string& error) {
  std::vector<RdKafka::TopicPartition*> offsets;
  for (auto& partition : partitions_) {
    if (partition->offset() >= 0) offsets.push_back(partition.get());
  }
  if (offsets.empty()) return true;  // nothing read, or a missing topic
  const RdKafka::ErrorCode err = consumer_->commitSync(offsets);
  if (err != RdKafka::ERR_NO_ERROR) {
    error = RdKafka::err2str(err);
    return false;
  }
  return true;
}

void KafkaReader::commit_async(const std::vector<std::pair<std::int32_t, std::int64_t>>& next_offsets) {
  if (next_offsets.empty() || partitions_.empty()) return;
  std::vector<std::unique_ptr<RdKafka::TopicPartition>> owned;
  std::vector<RdKafka::TopicPartition*> offsets;
  for (const auto& [partition, offset] : next_offsets) {
    owned.emplace_back(RdKafka::TopicPartition::create(topic_, partition, offset));
    offsets.push_back(owned.back().get());
  }
  consumer_->commitAsync(offsets);
}

}  // namespace archer::transport
