#pragma once
// The gateway's Kafka producer. One per process; thread-safe to produce from any thread.
//
// Defaults (the [kafka] table overrides any of them): enable.idempotence=true, acks=all, and no
// message timeout, so a record waits out a Kafka outage instead of being dropped; the bounded
// producer queue then pushes back on produce() and, through it, on MQTT intake.
//
// Threading: a poll thread owned by this class serves delivery reports and calls the listener
// given with each record on that thread; listeners must be quick and must not produce.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include <librdkafka/rdkafkacpp.h>

#include "archer/core/config.h"
#include "archer/core/headers.h"

namespace archer::transport {

// Told the fate of each record, once: delivered (err == NO_ERROR) or failed for good.
class DeliveryListener {
 public:
  virtual ~DeliveryListener() = default;
  virtual void on_delivery(const RdKafka::Message& message) = 0;
};

using KafkaProperties = std::vector<std::pair<std::string, std::string>>;

// Builds a librdkafka configuration: `defaults`, then the operator's [kafka] properties on top.
// Returns null and sets `error` (naming the property) when librdkafka rejects one.
std::unique_ptr<RdKafka::Conf> make_kafka_conf(const KafkaProperties& defaults, const KafkaConfig& config,
                                               std::string& error);

class KafkaProducer {
 public:
  // Returns null and sets `error` when the configuration is refused.
  static std::unique_ptr<KafkaProducer> create(const KafkaConfig& config, std::string& error);
  ~KafkaProducer();  // flushes for up to the close timeout, then stops the poll thread
  KafkaProducer(const KafkaProducer&) = delete;
  KafkaProducer& operator=(const KafkaProducer&) = delete;

  struct Record {
    std::string_view topic;
    std::string_view key;
    std::span<const std::uint8_t> value;
    const headers::RecordHeaders* headers = nullptr;
    DeliveryListener* listener = nullptr;  // must outlive the delivery report
  };

  // Enqueues a record. When the producer queue is full it waits (polling) until there is room or
  // `stop_waiting` becomes true. Returns NO_ERROR or the immediate error (the listener is then not
  // called: the caller owns the failure).
  RdKafka::ErrorCode produce(const Record& record, const std::atomic<bool>& stop_waiting);

  // Waits until every enqueued record has its delivery report, or the timeout passes.
  // Returns the number still outstanding.
  int flush(std::chrono::milliseconds timeout);
  int outstanding() const;

  RdKafka::Producer& handle() { return *producer_; }

 private:
  class DeliveryDispatcher : public RdKafka::DeliveryReportCb {
   public:
    void dr_cb(RdKafka::Message& message) override;
  };
  class EventLogger : public RdKafka::EventCb {
   public:
    void event_cb(RdKafka::Event& event) override;
  };

  KafkaProducer() = default;
  void poll_loop();

  DeliveryDispatcher dispatcher_;
  EventLogger events_;
  std::unique_ptr<RdKafka::Producer> producer_;
  std::atomic<bool> stopping_{false};
  std::thread poll_thread_;
};

}  // namespace archer::transport
