#include "archer/ingest/ingest_service.h"

#include <fmt/format.h>

#include "archer/core/log.h"

namespace archer::ingest {

std::unique_ptr<IngestService> IngestService::create(const Config& config, transport::KafkaProducer& producer,
                                                     Metrics& metrics, std::string& error) {
  std::unique_ptr<IngestService> service(new IngestService());
  for (const IngestSection& section : config.ingest) {
    auto pipeline = SectionPipeline::create(section, config.gateway.id, producer, metrics, error);
    if (!pipeline) return nullptr;
    service->sections_.push_back(std::move(pipeline));
  }
  return service;
}

IngestService::~IngestService() { stop(); }

std::vector<std::pair<std::string, int>> IngestService::subscriptions() const {
  std::vector<std::pair<std::string, int>> out;
  for (const auto& pipeline : sections_) {
    const IngestSection& section = pipeline->section();
    const std::string filter = section.mqtt.filter();
    out.emplace_back(section.share_group ? fmt::format("$share/{}/{}", *section.share_group, filter) : filter,
                     section.qos);
  }
  return out;
}

bool IngestService::offer(const mqtt::const_message_ptr& message) {
  std::vector<std::string_view> captures;
  for (const auto& pipeline : sections_) {
    if (pipeline->section().mqtt.match(message->get_topic(), captures)) {
      queue_.put(Item{pipeline.get(), message});
      return true;
    }
  }
  return false;
}

void IngestService::start() {
  worker_ = std::thread([this] { run(); });
}

void IngestService::stop() {
  if (!worker_.joinable()) return;
  queue_.put(Item{});
  worker_.join();
}

void IngestService::run() {
  while (true) {
    Item item = queue_.get();
    if (item.section == nullptr) return;
    item.section->process(incoming_from_mqtt(*item.message), abandon_waits_);
  }
}

void IngestService::log_stats() const {
  for (const auto& pipeline : sections_) {
    const auto& c = pipeline->counters();
    std::uint64_t rejected = 0;
    for (auto reason : {ValidationError::too_large, ValidationError::not_flatbuffers, ValidationError::schema_mismatch,
                        ValidationError::bad_json, ValidationError::bind_mismatch, ValidationError::bad_topic}) {
      rejected += pipeline->rejected(reason);
    }
    log::info("ingest", "{}: received {} accepted {} rejected {} delivered {} dead-lettered {} failed {} in flight {}",
              pipeline->section().name, c.received->value(), c.accepted->value(), rejected, c.delivered->value(),
              c.dead_letters_delivered->value(), c.delivery_failed->value(), c.in_flight->value());
  }
}

}  // namespace archer::ingest
