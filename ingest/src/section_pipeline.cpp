#include "archer/ingest/section_pipeline.h"

#include <chrono>

#include <fmt/format.h>

#include "archer/core/clock.h"
#include "archer/ingest/topic_captures.h"
#include "archer/transport/kafka_headers.h"

namespace archer::ingest {
namespace {

constexpr ValidationError kAllErrors[] = {ValidationError::too_large,       ValidationError::not_flatbuffers,
                                          ValidationError::schema_mismatch, ValidationError::bad_json,
                                          ValidationError::bind_mismatch,   ValidationError::bad_topic};

std::size_t error_index(ValidationError error) { return static_cast<std::size_t>(error) - 1; }

}  // namespace

// The listener of one produced record: counts it and tells the hook, then goes.
class SectionPipeline::RecordDelivery : public transport::DeliveryListener {
 public:
  RecordDelivery(SectionPipeline& owner, bool dead_letter, std::uint64_t token, std::int64_t received_ms)
      : owner_(owner), dead_letter_(dead_letter), token_(token), received_ms_(received_ms) {}
  void on_delivery(const RdKafka::Message& message, RdKafka::ErrorCode err) override {
    owner_.on_delivery(message, err, dead_letter_, token_, received_ms_);
    delete this;
  }

 private:
  SectionPipeline& owner_;
  bool dead_letter_;
  std::uint64_t token_;
  std::int64_t received_ms_;
};

std::unique_ptr<SectionPipeline> SectionPipeline::create(const IngestSection& section, std::string gateway_id,
                                                         Metrics& metrics, DeliveryHook* hook, std::string& error) {
  SchemaLoadResult loaded = Schema::load(section.schema);
  if (!loaded) {
    error = fmt::format("ingest section '{}': {}", section.name, loaded.error);
    return nullptr;
  }
  std::optional<Validator> validator = Validator::create(loaded.schema, ValidatorSettings::from(section), error);
  if (!validator) return nullptr;
  return std::unique_ptr<SectionPipeline>(
      new SectionPipeline(section, std::move(gateway_id), std::move(*validator), metrics, hook));
}

SectionPipeline::SectionPipeline(const IngestSection& section, std::string gateway_id, Validator validator,
                                 Metrics& metrics, DeliveryHook* hook)
    : section_(section),
      gateway_id_(std::move(gateway_id)),
      validator_(std::move(validator)),
      hook_(hook),
      counters_{
          &metrics.counter("archer_ingest_received_total", "MQTT messages received", {{"section", section.name}}),
          &metrics.counter("archer_ingest_accepted_total", "Messages that passed validation",
                           {{"section", section.name}}),
          &metrics.counter("archer_ingest_delivered_total", "Records acknowledged by Kafka in the raw datalog",
                           {{"section", section.name}}),
          &metrics.counter("archer_ingest_dead_letters_delivered_total", "Dead letters acknowledged by Kafka",
                           {{"section", section.name}}),
          &metrics.counter("archer_ingest_delivery_failed_total", "Records Kafka failed to take for good",
                           {{"section", section.name}}),
          &metrics.gauge("archer_ingest_in_flight", "Records produced and not yet acknowledged",
                         {{"section", section.name}}),
          &metrics.histogram("archer_ingest_latency_seconds",
                             "From MQTT receipt to Kafka's acknowledgement of the raw datalog record",
                             {{"section", section.name}}),
      },
      recent_dead_letters_(metrics.dead_letters()) {
  for (ValidationError reason : kAllErrors) {
    rejected_.push_back(&metrics.counter("archer_ingest_rejected_total", "Messages sent to the dead-letter topic",
                                         {{"section", section.name}, {"reason", std::string(code_name(reason))}}));
  }
}

std::uint64_t SectionPipeline::rejected(ValidationError reason) const {
  return reason == ValidationError::none ? 0 : rejected_[error_index(reason)]->value();
}

std::uint64_t SectionPipeline::rejected_total() const {
  std::uint64_t total = 0;
  for (const Counter* counter : rejected_) total += counter->value();
  return total;
}

headers::RecordHeaders SectionPipeline::base_headers(const Incoming& in) const {
  headers::RecordHeaders out = headers::RecordHeaders::for_new_record(gateway_id_);
  out.add(headers::kSource, in.topic);
  out.add(headers::kSchema, validator_.schema().id());
  if (!in.causation.empty()) out.add(headers::kCausation, in.causation);
  if (!in.content_type.empty()) out.add(headers::kMqttContentType, in.content_type);
  for (const auto& [name, value] : in.user_properties) {
    // The W3C trace context keeps its own name so every consumer's tracer finds it.
    if (name == headers::kTraceparent)
      out.add(headers::kTraceparent, value);
    else
      out.add(std::string(headers::kMqttPrefix) + std::string(name), value);
  }
  return out;
}

SectionPipeline::Outcome SectionPipeline::process(const Incoming& in, transport::KafkaProducer& producer,
                                                  std::uint64_t token, const std::atomic<bool>& stop_waiting) {
  counters_.received->add();
  headers::RecordHeaders record_headers = base_headers(in);

  // Topic captures: every one must be a valid id (topic_captures.h says why all of them).
  const TopicCaptures captures = capture_topic(section_.mqtt, in.topic);
  ValidationError error = captures.ok() ? ValidationError::none : ValidationError::bad_topic;
  std::string detail = captures.problem;
  const std::vector<Capture>& bind_values = captures.values;
  const std::string key = error == ValidationError::none ? section_.key.render([&](std::string_view name) {
    for (const Capture& capture : bind_values) {
      if (capture.name == name) return capture.value;
    }
    return std::string_view{};
  })
                                                         : std::string{};

  if (error == ValidationError::none) {
    ValidationResult result = validator_.validate(in.payload, in.content_type, bind_values);
    if (result.ok()) {
      counters_.accepted->add();
      return produce(producer, section_.topic, key, result.bytes(), record_headers, false, token, in.received_ms,
                     stop_waiting);
    }
    error = result.error();
    detail = result.detail();
  }

  rejected_[error_index(error)]->add();
  recent_dead_letters_.add({unix_ms(),
                            {{"section", section_.name},
                             {"reason", std::string(code_name(error))},
                             {"detail", detail},
                             {"topic", std::string(in.topic)}}});
  std::uint64_t suppressed = 0;
  if (reject_log_limit_.allow(suppressed)) {
    log::warn("ingest", "{}: {} from '{}': {} ({} similar lines suppressed)", section_.name, code_name(error), in.topic,
              detail, suppressed);
  }
  record_headers.add(headers::kError, code_name(error));
  record_headers.add(headers::kErrorDetail, detail);
  record_headers.add(headers::kMqttQos, std::to_string(in.qos));
  record_headers.add(headers::kMqttRetain, in.retained ? "true" : "false");
  const Outcome outcome = produce(producer, section_.dead_letter, key, in.payload, record_headers, true, token,
                                  in.received_ms, stop_waiting);
  return outcome == Outcome::accepted ? Outcome::rejected : outcome;
}

SectionPipeline::Outcome SectionPipeline::produce(transport::KafkaProducer& producer, std::string_view topic,
                                                  std::string_view key, std::span<const std::uint8_t> value,
                                                  const headers::RecordHeaders& record_headers, bool dead_letter,
                                                  std::uint64_t token, std::int64_t received_ms,
                                                  const std::atomic<bool>& stop_waiting) {
  counters_.in_flight->add(1);
  auto* listener = new RecordDelivery(*this, dead_letter, token, received_ms);
  const RdKafka::ErrorCode err = producer.produce({topic, key, value, &record_headers, listener}, stop_waiting);
  if (err == RdKafka::ERR_NO_ERROR) return Outcome::accepted;
  delete listener;
  counters_.in_flight->add(-1);
  if (err == RdKafka::ERR__FATAL) return Outcome::produce_failed;  // not a loss: the next producer sends it
  counters_.delivery_failed->add();
  std::uint64_t suppressed = 0;
  if (produce_failure_log_limit_.allow(suppressed)) {
    log::error("ingest", "{}: record {} from '{}' could not be produced to {}: {} ({} more since the last line)",
               section_.name, record_headers.get(headers::kId), record_headers.get(headers::kSource), topic,
               RdKafka::err2str(err), suppressed);
  }
  return Outcome::produce_failed;
}

void SectionPipeline::on_delivery(const RdKafka::Message& message, RdKafka::ErrorCode err, bool dead_letter,
                                  std::uint64_t token, std::int64_t received_ms) {
  counters_.in_flight->add(-1);
  if (err == RdKafka::ERR_NO_ERROR) {
    (dead_letter ? counters_.dead_letters_delivered : counters_.delivered)->add();
    // Receipt time is kept in ms (it survives a restart in the spool), so is the latency's resolution.
    if (!dead_letter && received_ms > 0)
      counters_.latency->observe(static_cast<double>(std::max<std::int64_t>(0, unix_ms() - received_ms)) / 1e3);
  } else if (!sent_again(err)) {
    // A purge or a fatal producer is not a failure: the producer is replaced and the record sent again.
    counters_.delivery_failed->add();
    std::uint64_t suppressed = 0;
    if (delivery_failure_log_limit_.allow(suppressed)) {
      const auto found = transport::headers_of(message);
      log::error("ingest", "{}: record {} from '{}' was not delivered to {}: {} ({} more since the last line)",
                 section_.name, found.get(headers::kId), found.get(headers::kSource), message.topic_name(),
                 message.errstr(), suppressed);
    }
  }
  if (hook_ != nullptr) hook_->on_record_delivered(token, err);
}

}  // namespace archer::ingest
