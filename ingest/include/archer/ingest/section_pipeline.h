#pragma once
// One [[ingest]] section at work: topic captures, validation, record headers, and the produce to
// the raw datalog or, with the reason, to the dead-letter topic. Nothing leaves here without a
// record in one of the two topics, or a counted and logged produce failure.
//
// Threading: process() runs on one thread (the ingest drainer, or archer-ctl redrive): the JSON
// parser inside the validator is not shared. Delivery reports arrive on the producer's poll thread;
// they touch atomic counters and tell the DeliveryHook, if any.
#include <memory>
#include <string>

#include "archer/core/config.h"
#include "archer/core/log.h"
#include "archer/core/metrics.h"
#include "archer/ingest/incoming.h"
#include "archer/ingest/schema.h"
#include "archer/ingest/validator.h"
#include "archer/transport/kafka_producer.h"

namespace archer::ingest {

// A delivery error that does not end a record: it was purged, or failed by a producer that hit a
// fatal error. The replacement producer sends it again from the spool.
inline bool sent_again(RdKafka::ErrorCode err) {
  return err == RdKafka::ERR__PURGE_QUEUE || err == RdKafka::ERR__PURGE_INFLIGHT || err == RdKafka::ERR__FATAL;
}

// Told the fate of each record process() produced, with the token process() was given (the spool
// sequence, for the ingest service). Runs on the producer's poll thread.
class DeliveryHook {
 public:
  virtual ~DeliveryHook() = default;
  virtual void on_record_delivered(std::uint64_t token, RdKafka::ErrorCode err) = 0;
};

class SectionPipeline {
 public:
  // Loads the section's schema; returns null and sets `error` when it cannot be used.
  static std::unique_ptr<SectionPipeline> create(const IngestSection& section, std::string gateway_id, Metrics& metrics,
                                                 DeliveryHook* hook, std::string& error);

  const IngestSection& section() const { return section_; }

  enum class Outcome { accepted, rejected, produce_failed };
  // Validates `in` and produces it to the raw datalog or the dead-letter topic with `producer`.
  // Waits while the producer queue is full unless `stop_waiting` is set. When the outcome is not
  // produce_failed, the hook hears of `token` once Kafka has answered.
  Outcome process(const Incoming& in, transport::KafkaProducer& producer, std::uint64_t token,
                  const std::atomic<bool>& stop_waiting);

  struct Counters {
    Counter* received;
    Counter* accepted;
    Counter* delivered;
    Counter* dead_letters_delivered;
    Counter* delivery_failed;
    Gauge* in_flight;
    Histogram* latency;  // MQTT receipt -> Kafka ack of the raw datalog record
  };
  const Counters& counters() const { return counters_; }
  std::uint64_t rejected(ValidationError reason) const;
  std::uint64_t rejected_total() const;

 private:
  class RecordDelivery;

  SectionPipeline(const IngestSection& section, std::string gateway_id, Validator validator, Metrics& metrics,
                  DeliveryHook* hook);
  Outcome produce(transport::KafkaProducer& producer, std::string_view topic, std::string_view key,
                  std::span<const std::uint8_t> value, const headers::RecordHeaders& headers, bool dead_letter,
                  std::uint64_t token, std::int64_t received_ms, const std::atomic<bool>& stop_waiting);
  void on_delivery(const RdKafka::Message& message, RdKafka::ErrorCode err, bool dead_letter, std::uint64_t token,
                   std::int64_t received_ms);
  headers::RecordHeaders base_headers(const Incoming& in) const;

  IngestSection section_;
  std::string gateway_id_;
  Validator validator_;
  DeliveryHook* hook_;
  Counters counters_;
  std::vector<Counter*> rejected_;  // by ValidationError, from too_large on
  RecentEvents& recent_dead_letters_;
  log::RateLimit reject_log_limit_{std::chrono::seconds(10)};
  log::RateLimit produce_failure_log_limit_{std::chrono::seconds(1)};
  log::RateLimit delivery_failure_log_limit_{std::chrono::seconds(1)};  // the producer's poll thread
};

}  // namespace archer::ingest
