#include "archer/ingest/section_pipeline.h"

#include <chrono>

#include <fmt/format.h>

#include "archer/core/clock.h"
#include "archer/core/uuid.h"

namespace archer::ingest {
namespace {

constexpr ValidationError kAllErrors[] = {ValidationError::too_large, ValidationError::not_flatbuffers,
                                          ValidationError::schema_mismatch, ValidationError::bad_json,
                                          ValidationError::bind_mismatch, ValidationError::bad_topic};

std::size_t error_index(ValidationError error) { return static_cast<std::size_t>(error) - 1; }

}  // namespace

std::unique_ptr<SectionPipeline> SectionPipeline::create(const IngestSection& section, std::string gateway_id,
                                                         transport::KafkaProducer& producer, Metrics& metrics,
                                                         std::string& error) {
  SchemaLoadResult loaded = Schema::load(section.schema);
  if (!loaded) {
    error = fmt::format("ingest section '{}': {}", section.name, loaded.error);
    return nullptr;
  }
  std::optional<Validator> validator = Validator::create(loaded.schema, ValidatorSettings::from(section), error);
  if (!validator) return nullptr;
  return std::unique_ptr<SectionPipeline>(
      new SectionPipeline(section, std::move(gateway_id), std::move(*validator), producer, metrics));
}

SectionPipeline::SectionPipeline(const IngestSection& section, std::string gateway_id, Validator validator,
                                 transport::KafkaProducer& producer, Metrics& metrics)
    : section_(section),
      gateway_id_(std::move(gateway_id)),
      validator_(std::move(validator)),
      producer_(producer),
      counters_{
          &metrics.counter("archer_ingest_received_total", "MQTT messages received", {{"section", section.name}}),
          &metrics.counter("archer_ingest_accepted_total", "Messages that passed validation", {{"section", section.name}}),
          &metrics.counter("archer_ingest_delivered_total", "Records acknowledged by Kafka in the raw datalog",
                           {{"section", section.name}}),
          &metrics.counter("archer_ingest_dead_letters_delivered_total", "Dead letters acknowledged by Kafka",
                           {{"section", section.name}}),
          &metrics.counter("archer_ingest_delivery_failed_total", "Records Kafka failed to take for good",
                           {{"section", section.name}}),
          &metrics.gauge("archer_ingest_in_flight", "Records produced and not yet acknowledged", {{"section", section.name}}),
      },
      raw_delivery_(*this, *counters_.delivered),
      dead_letter_delivery_(*this, *counters_.dead_letters_delivered) {
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
    if (name == headers::kTraceparent) out.add(headers::kTraceparent, value);
    else out.add(std::string(headers::kMqttPrefix) + std::string(name), value);
  }
  return out;
}

SectionPipeline::Outcome SectionPipeline::process(const Incoming& in, const std::atomic<bool>& stop_waiting) {
  counters_.received->add();
  headers::RecordHeaders record_headers = base_headers(in);

  // Topic captures: each must be present, and those that make the key must be valid ids.
  std::vector<std::string_view> captures;
  ValidationError error = ValidationError::none;
  std::string detail;
  if (!section_.mqtt.match(in.topic, captures)) {
    error = ValidationError::bad_topic;
    detail = fmt::format("topic '{}' does not match '{}'", in.topic, section_.mqtt.text());
  }
  std::vector<Capture> bind_values;
  for (std::size_t i = 0; error == ValidationError::none && i < captures.size(); ++i) {
    const std::string& name = section_.mqtt.capture_names()[i];
    if (captures[i].empty()) {
      error = ValidationError::bad_topic;
      detail = fmt::format("{{{}}} is empty in topic '{}'", name, in.topic);
    } else if (!is_valid_id(captures[i]) && section_.key.uses(name)) {
      error = ValidationError::bad_topic;
      detail = fmt::format("{{{}}} = '{}' in topic '{}' is not a valid key ([A-Za-z0-9._:-]{{1,128}})", name,
                           captures[i], in.topic);
    }
    bind_values.push_back({name, captures[i]});
  }
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
      return produce(section_.topic, key, result.bytes(), record_headers, raw_delivery_, stop_waiting);
    }
    error = result.error();
    detail = result.detail();
  }

  rejected_[error_index(error)]->add();
  std::uint64_t suppressed = 0;
  if (reject_log_limit_.allow(suppressed)) {
    log::warn("ingest", "{}: {} from '{}': {} ({} similar lines suppressed)", section_.name, code_name(error), in.topic,
              detail, suppressed);
  }
  record_headers.add(headers::kError, code_name(error));
  record_headers.add(headers::kErrorDetail, detail);
  record_headers.add(headers::kMqttQos, std::to_string(in.qos));
  record_headers.add(headers::kMqttRetain, in.retained ? "true" : "false");
  const Outcome outcome =
      produce(section_.dead_letter, key, in.payload, record_headers, dead_letter_delivery_, stop_waiting);
  return outcome == Outcome::accepted ? Outcome::rejected : outcome;
}

SectionPipeline::Outcome SectionPipeline::produce(std::string_view topic, std::string_view key,
                                                  std::span<const std::uint8_t> value,
                                                  const headers::RecordHeaders& record_headers,
                                                  DeliveryCounter& listener, const std::atomic<bool>& stop_waiting) {
  counters_.in_flight->add(1);
  const RdKafka::ErrorCode err =
      producer_.produce({topic, key, value, &record_headers, &listener}, stop_waiting);
  if (err == RdKafka::ERR_NO_ERROR) return Outcome::accepted;
  counters_.in_flight->add(-1);
  counters_.delivery_failed->add();
  std::uint64_t suppressed = 0;
  if (produce_failure_log_limit_.allow(suppressed)) {
    log::error("ingest", "{}: record {} from '{}' could not be produced to {}: {} ({} more since the last line)",
               section_.name, record_headers.get(headers::kId), record_headers.get(headers::kSource), topic,
               RdKafka::err2str(err), suppressed);
  }
  return Outcome::produce_failed;
}

void SectionPipeline::DeliveryCounter::on_delivery(const RdKafka::Message& message) {
  owner_.counters_.in_flight->add(-1);
  if (message.err() == RdKafka::ERR_NO_ERROR) {
    delivered_.add();
    return;
  }
  owner_.counters_.delivery_failed->add();
  const auto found = headers::RecordHeaders::from_kafka(const_cast<RdKafka::Message&>(message).headers());
  // Not rate-limited: with no message timeout this is rare, and each line names a lost record.
  log::error("ingest", "{}: record {} from '{}' was not delivered to {}: {}", owner_.section_.name,
             found.get(headers::kId), found.get(headers::kSource), message.topic_name(), message.errstr());
}

}  // namespace archer::ingest
