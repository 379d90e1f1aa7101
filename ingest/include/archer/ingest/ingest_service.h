#pragma once
// The data ingestor: every [[ingest]] section of the config, fed by the gateway's MQTT session.
//
// Threading: offer() runs on Paho's callback thread and only hands the message to a bounded queue
// (it blocks when the queue is full, which stops Paho reading from the broker: backpressure).
// One worker thread validates and produces, in arrival order, so per-device order holds.
#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <mqtt/thread_queue.h>

#include "archer/core/config.h"
#include "archer/core/metrics.h"
#include "archer/ingest/section_pipeline.h"
#include "archer/transport/kafka_producer.h"

namespace archer::ingest {

class IngestService {
 public:
  // At most this many received messages wait for the worker; beyond it offer() blocks.
  static constexpr std::size_t kQueueCapacity = 1024;

  // Returns null and sets `error` when a section cannot start (e.g. its schema is unusable).
  static std::unique_ptr<IngestService> create(const Config& config, transport::KafkaProducer& producer,
                                               Metrics& metrics, std::string& error);
  ~IngestService();

  // (filter, qos) for each section, with $share/<group>/ when configured.
  std::vector<std::pair<std::string, int>> subscriptions() const;

  // Paho's thread: takes the message when one of the sections matches its topic.
  bool offer(const mqtt::const_message_ptr& message);

  void start();
  // After MQTT intake has stopped: processes what is queued, then ends the worker. When Kafka takes
  // nothing for `drain` (its producer queue stays full), what is still queued is given up, counted
  // as delivery failures and logged.
  void stop(std::chrono::milliseconds drain = std::chrono::seconds(30));

  // One info line per section: received, accepted, rejected, delivered, in flight.
  void log_stats() const;

  const std::vector<std::unique_ptr<SectionPipeline>>& sections() const { return sections_; }

 private:
  struct Item {
    SectionPipeline* section = nullptr;  // null: the worker stops
    mqtt::const_message_ptr message;
  };
  IngestService() = default;
  void run();

  std::vector<std::unique_ptr<SectionPipeline>> sections_;
  mqtt::thread_queue<Item> queue_{kQueueCapacity};
  std::atomic<bool> abandon_waits_{false};
  std::thread worker_;
};

}  // namespace archer::ingest
