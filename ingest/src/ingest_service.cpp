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

IngestService::~IngestService() { stop(std::chrono::milliseconds(0)); }

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

void IngestService::stop(std::chrono::milliseconds drain) {
  if (!worker_.joinable()) return;
  // The stop mark goes behind everything queued; if Kafka takes nothing until the deadline, the
  // worker stops waiting for producer room and what is left fails visibly instead of hanging.
  // (Paho C++ 1.2.0's thread_queue::try_put_for does not compile, hence the short poll.)
  const auto deadline = std::chrono::steady_clock::now() + drain;
  while (!queue_.try_put(Item{})) {
    if (std::chrono::steady_clock::now() >= deadline) {
      abandon_waits_ = true;
      log::error("ingest", "Kafka took nothing for {} ms while draining: {} queued reading(s) are given up",
                 drain.count(), queue_.size());
      queue_.put(Item{});
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
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
    log::info("ingest", "{}: received {} accepted {} rejected {} delivered {} dead-lettered {} failed {} in flight {}",
              pipeline->section().name, c.received->value(), c.accepted->value(), pipeline->rejected_total(), c.delivered->value(),
              c.dead_letters_delivered->value(), c.delivery_failed->value(), c.in_flight->value());
  }
}

}  // namespace archer::ingest
