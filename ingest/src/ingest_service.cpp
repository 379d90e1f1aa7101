#include "archer/ingest/ingest_service.h"

#include <fmt/format.h>

#include "archer/core/clock.h"

namespace archer::ingest {
namespace {

constexpr std::size_t kReadBatch = 512;
constexpr auto kIdleWait = std::chrono::milliseconds(100);
// After catching up, the drainer lets readings gather this long, so spool reads and removals and
// producer calls come in batches rather than one LMDB transaction per reading (like linger.ms).
constexpr auto kGather = std::chrono::milliseconds(2);

}  // namespace

IngestService::IngestService(const Config& config, Metrics& metrics)
    : config_(&config),
      metrics_(metrics),
      spool_full_waits_(metrics.counter("archer_ingest_spool_full_waits_total",
                                        "Times MQTT intake paused because the spool was full")),
      spool_errors_(metrics.counter("archer_ingest_spool_errors_total",
                                    "Messages the spool could not store at once (held in memory, stored later)")),
      lost_(metrics.counter("archer_ingest_lost_total",
                            "Readings lost: held in memory and still not stored when the bridge stopped")),
      held_gauge_(metrics.gauge("archer_ingest_held_readings",
                                "Readings held in memory because the spool could not store them")),
      producers_replaced_(
          metrics.counter("archer_ingest_producers_replaced_total", "Ingest producers replaced after a fatal error")),
      corrupt_records_(metrics.counter("archer_ingest_spool_corrupt_total", "Spool records that did not decode")),
      orphaned_records_(metrics.counter("archer_ingest_spool_orphaned_total",
                                        "Spooled readings dropped because the config no longer has their section")),
      spool_max_bytes_(metrics.gauge("archer_spool_max_bytes", "The spool's limit ([spool] max_size)")),
      oldest_age_(metrics.gauge("archer_spool_oldest_record_age_seconds",
                                "Age of the oldest reading still in the spool (0 when empty)")) {}

std::unique_ptr<IngestService> IngestService::create(const Config& config, Metrics& metrics, std::string& error) {
  std::unique_ptr<IngestService> service(new IngestService(config, metrics));
  auto routes = std::make_shared<Routes>();
  for (const IngestSection& section : config.ingest) {
    auto pipeline = SectionPipeline::create(section, config.gateway.id, metrics, service.get(), error);
    if (!pipeline) return nullptr;
    routes->push_back({section.name, section.mqtt});
    service->sections_.push_back(std::move(pipeline));
  }
  service->routes_ = std::move(routes);
  if (config.ingest.empty()) return service;
  spool::SpoolOptions options;
  options.metrics = &metrics;
  options.sync_interval = config.spool.sync;
  service->spool_ = spool::Spool::open(config.spool, error, options);
  if (!service->spool_) {
    error = fmt::format("spool {}: {}", config.spool.dir.string(), error);
    return nullptr;
  }
  service->producer_ = transport::KafkaProducer::create(config.kafka, error, "ingest", &metrics, "ingest");
  if (!service->producer_) return nullptr;
  if (const auto records = service->spool_->size_records(); records > 0) {
    log::info("ingest", "spool {} holds {} reading(s) from before: they go to Kafka first", config.spool.dir.string(),
              records);
  }
  return service;
}

IngestService::~IngestService() { stop(std::chrono::milliseconds(0)); }

namespace {

// The topics the sections produce to (KafkaProducer::prepare).
std::vector<std::string> written_topics(const std::vector<IngestSection>& sections) {
  std::vector<std::string> out;
  for (const IngestSection& section : sections) {
    out.push_back(section.topic);
    out.push_back(section.dead_letter);
  }
  return out;
}

std::vector<std::pair<std::string, int>> subscriptions_of(const Config& config) {
  std::vector<std::pair<std::string, int>> out;
  for (const IngestSection& section : config.ingest) {
    const std::string filter = section.mqtt.filter();
    out.emplace_back(section.share_group ? fmt::format("$share/{}/{}", *section.share_group, filter) : filter,
                     section.qos);
  }
  return out;
}

}  // namespace

std::vector<std::pair<std::string, int>> IngestService::subscriptions() const {
  return subscriptions_of(*config_.load());
}

SectionPipeline* IngestService::section_named(std::string_view name) const {
  for (const auto& pipeline : sections_) {
    if (pipeline->section().name == name) return pipeline.get();
  }
  // A section removed by a reload: what it spooled still goes out through it (newest first).
  for (auto it = retired_sections_.rbegin(); it != retired_sections_.rend(); ++it) {
    if ((*it)->section().name == name) return it->get();
  }
  return nullptr;
}

bool IngestService::offer(const mqtt::const_message_ptr& message) {
  std::vector<std::string_view> captures;
  const Route* taker = nullptr;
  const std::shared_ptr<const Routes> routes = routes_.load();
  for (const Route& route : *routes) {
    if (route.mqtt.match(message->get_topic(), captures)) {
      taker = &route;
      break;
    }
  }
  if (taker == nullptr) return false;

  spool::SpoolRecord record = spool_record_from_mqtt(*message, taker->name, unix_ms());
  {
    // Behind readings already held in memory, so that per-device order holds.
    std::lock_guard lock(held_mutex_);
    if (!held_.empty()) {
      hold(std::move(record), held_why_);
      return true;
    }
  }
  spool::AppendResult result = spool_->append(record);
  if (result.status == spool::SpoolStatus::full) {
    // Never wait here: Paho's one callback thread serves every session of the process. The broker
    // is acknowledged when this returns, so the message is kept above the limit, and intake pauses
    // (the session disconnects; the broker queues for it) until the drainer has made room.
    result = spool_->append(record, spool::Spool::Admission::beyond_limit);
    pause_intake();
  }
  if (!result.ok()) {
    // The spool's disk is full or failing. The broker is acknowledged when this returns, so the
    // reading is held in memory and intake pauses until the drainer can store it.
    spool_errors_.add();
    std::uint64_t suppressed = 0;
    if (spool_error_log_limit_.allow(suppressed)) {
      log::error("ingest",
                 "spool could not store a message from '{}': {}; readings are held in memory and MQTT intake "
                 "pauses until the spool takes them ({} more since the last line)",
                 message->get_topic(), result.message, suppressed);
    }
    std::lock_guard lock(held_mutex_);
    hold(std::move(record), result.message);
    return true;
  }
  if (drainer_idle_.load(std::memory_order_relaxed)) wake_drainer_.notify_one();
  return true;
}

bool IngestService::reload(const Config& fresh, SubscriptionChanges& changes, std::string& error) {
  if (!spool_ && !fresh.ingest.empty()) {
    error = "the running bridge has no [[ingest]] section, so no spool: adding the first one needs a restart";
    return false;
  }
  std::vector<std::unique_ptr<SectionPipeline>> fresh_sections;
  for (const IngestSection& section : fresh.ingest) {
    auto pipeline = SectionPipeline::create(section, fresh.gateway.id, metrics_, this, error);
    if (!pipeline) return false;
    fresh_sections.push_back(std::move(pipeline));
  }
  // Routes: the new sections first, then every earlier route (a removed section, a former filter)
  // for what is still on its way.
  auto routes = std::make_shared<Routes>();
  for (const IngestSection& section : fresh.ingest) routes->push_back({section.name, section.mqtt});
  for (const Route& earlier : *routes_.load()) {
    const bool same = std::any_of(routes->begin(), routes->end(), [&](const Route& r) {
      return r.name == earlier.name && r.mqtt.text() == earlier.mqtt.text();
    });
    if (!same) routes->push_back(earlier);
  }
  const auto before = subscriptions_of(*config_.load());
  const auto after = subscriptions_of(fresh);
  changes = {};
  for (const auto& wanted : after) {
    if (std::find(before.begin(), before.end(), wanted) == before.end()) changes.added.push_back(wanted);
  }
  for (const auto& [filter, qos] : before) {
    const bool kept = std::any_of(after.begin(), after.end(), [&](const auto& s) { return s.first == filter; });
    if (!kept) changes.removed.push_back(filter);
  }
  {
    std::lock_guard lock(producer_mutex_);  // the drainer may be replacing it
    if (producer_) producer_->prepare(written_topics(fresh.ingest));
  }
  {
    std::lock_guard lock(mutex_);
    pending_sections_ = std::move(fresh_sections);
  }
  routes_ = std::move(routes);
  config_ = &fresh;
  wake_drainer_.notify_one();
  return true;
}

void IngestService::take_reloaded_sections() {
  std::lock_guard lock(mutex_);
  if (pending_sections_.empty()) return;
  for (auto& old : sections_) retired_sections_.push_back(std::move(old));
  sections_ = std::move(pending_sections_);
  pending_sections_.clear();
  log::info("ingest", "reloaded {} section(s): schemas and settings apply from the next reading", sections_.size());
}

void IngestService::set_intake_control(std::function<void(bool pause)> control) {
  intake_control_ = std::move(control);
}

void IngestService::hold(spool::SpoolRecord record, const std::string& why) {
  // Paho delivers at most the broker's in-flight window after the pause; the bound is for a broker
  // that does not stop.
  if (held_.size() >= kMaxHeld) {
    lost_.add();
    return;
  }
  held_why_ = why;
  held_.push_back(std::move(record));
  held_count_ = held_.size();
  held_gauge_.set(static_cast<double>(held_.size()));
  if (intake_paused_.exchange(true)) return;
  if (intake_control_) intake_control_(true);
}

void IngestService::store_held() {
  std::lock_guard lock(held_mutex_);
  while (!held_.empty()) {
    // Above the limit if need be: the broker has acknowledged these, the LMDB map has room.
    const spool::AppendResult result = spool_->append(held_.front(), spool::Spool::Admission::beyond_limit);
    if (!result.ok()) {
      held_why_ = result.message;
      break;
    }
    held_.pop_front();
  }
  held_count_ = held_.size();
  held_gauge_.set(static_cast<double>(held_.size()));
  if (held_.empty()) held_why_.clear();
}

void IngestService::pause_intake() {
  if (intake_paused_.exchange(true)) return;
  spool_full_waits_.add();
  std::uint64_t suppressed = 0;
  if (full_log_limit_.allow(suppressed)) {
    log::warn("ingest",
              "spool full ({} bytes in {} readings): MQTT intake paused until Kafka takes some ({} similar "
              "lines suppressed)",
              spool_->size_bytes(), spool_->size_records(), suppressed);
  }
  if (intake_control_) intake_control_(true);
}

void IngestService::resume_intake_when_room() {
  // Hysteresis: a quarter of the spool free before intake resumes, so it does not flap.
  if (!intake_paused_.load() || held_count_.load() > 0 ||
      spool_->size_bytes() + spool_->max_size() / 4 > spool_->max_size()) {
    return;
  }
  intake_paused_ = false;
  log::info("ingest", "spool has room again ({} bytes in {} readings): MQTT intake resumes", spool_->size_bytes(),
            spool_->size_records());
  if (intake_control_) intake_control_(false);
}

Readiness IngestService::ready() const {
  Readiness out;
  if (producer_failed_.load()) out.not_ready("ingest: its Kafka producer failed and is being replaced");
  if (const std::size_t held = held_count_.load(); held > 0) {
    std::lock_guard lock(held_mutex_);
    out.not_ready(
        fmt::format("spool: cannot store readings ({}); {} held in memory, MQTT intake paused", held_why_, held));
  } else if (intake_paused_.load()) {
    out.not_ready("ingest: the spool is full; MQTT intake is paused until Kafka takes some");
  } else if (spool_ && spool_->size_bytes() > static_cast<std::uint64_t>(config_.load()->spool.high_water *
                                                                         static_cast<double>(spool_->max_size()))) {
    out.not_ready(
        fmt::format("spool: {:.0f}% full (above the high-water mark of {:.0f}%)",
                    100.0 * static_cast<double>(spool_->size_bytes()) / static_cast<double>(spool_->max_size()),
                    100.0 * config_.load()->spool.high_water));
  }
  if (std::string away = kafka_unreachable_reason(); !away.empty()) out.not_ready(std::move(away));
  return out;
}

std::string IngestService::kafka_unreachable_reason() const {
  std::lock_guard lock(producer_mutex_);
  if (!producer_) return {};
  return transport::kafka_unreachable_reason(producer_->unreachable_for(), producer_->credentials_refused());
}

Readiness IngestService::health() const {
  Readiness out;
  if (!spool_) return out;  // no [[ingest]] section: no drainer
  {
    std::lock_guard lock(mutex_);
    if (drainer_done_) return out;
  }
  const bool waiting_for_kafka = [this] {
    std::lock_guard lock(producer_mutex_);
    return producer_ && producer_->waiting_for_room();
  }();
  if (drainer_beat_.stuck() && !waiting_for_kafka) {
    out.not_ready(fmt::format("ingest: the drainer has not turned for {} s",
                              std::chrono::duration_cast<std::chrono::seconds>(drainer_beat_.since()).count()));
  }
  return out;
}

void IngestService::refresh_metrics() {
  if (!spool_) return;
  spool_max_bytes_.set(static_cast<double>(spool_->max_size()));
  const std::optional<std::int64_t> oldest = spool_->oldest_received_ms();
  oldest_age_.set(oldest ? static_cast<double>(std::max<std::int64_t>(0, unix_ms() - *oldest)) / 1e3 : 0.0);
}

void IngestService::start() {
  if (!spool_) return;
  producer_->prepare(written_topics(config_.load()->ingest));
  drainer_ = std::thread([this] { run(); });
}

void IngestService::stop(std::chrono::milliseconds drain) {
  if (!drainer_.joinable()) return;
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    drain_deadline_ = std::chrono::steady_clock::now() + drain;
  }
  wake_drainer_.notify_one();
  {
    // A produce waiting for room in a full producer queue (Kafka away) is released at the deadline.
    std::unique_lock lock(mutex_);
    drainer_done_cv_.wait_until(lock, drain_deadline_, [this] { return drainer_done_; });
  }
  abandon_waits_ = true;
  drainer_.join();
  // Whatever the producer still holds gets the rest of the drain time; what Kafka acknowledges
  // now leaves the spool, the rest stays for the next start.
  const auto left =
      std::chrono::duration_cast<std::chrono::milliseconds>(drain_deadline_ - std::chrono::steady_clock::now());
  if (!producer_->fatal()) producer_->flush(std::max(left, std::chrono::milliseconds(0)));
  producer_->abandon();
  remove_acknowledged();
  store_held();
  if (const std::size_t held = held_count_.load(); held > 0) {
    lost_.add(held);
    log::error("ingest", "{} reading(s) held in memory are lost: the spool still cannot store them ({})", held,
               held_why_);
  }
  spool_->sync();
  if (const auto kept = spool_->size_records(); kept > 0) {
    log::warn("ingest", "{} reading(s) not yet in Kafka stay in the spool {} for the next start", kept,
              spool_->dir().string());
  }
}

void IngestService::on_record_delivered(std::uint64_t sequence, RdKafka::ErrorCode err) {
  std::lock_guard lock(mutex_);
  --in_flight_;
  // Purged records, and those a fatal producer failed, are sent again by the replacement producer;
  // any other answer is final (such an error has been counted and logged with the record's id).
  if (!sent_again(err)) acknowledged_.push_back(sequence);
  // The drainer only waits on acknowledgements when it is idle, at its in-flight limit or draining.
  if (drainer_idle_ || stopping_ || in_flight_ + 1 >= kMaxInFlight) wake_drainer_.notify_one();
}

void IngestService::remove_acknowledged() {
  std::vector<std::uint64_t> done;
  {
    std::lock_guard lock(mutex_);
    done.swap(acknowledged_);
  }
  if (done.empty()) return;
  const spool::RemoveResult removed = spool_->remove(done);
  std::uint64_t suppressed = 0;
  if (!removed.ok() && remove_error_log_limit_.allow(suppressed)) {
    log::error("ingest", "spool: cannot remove delivered readings: {} ({} more since the last line)", removed.message,
               suppressed);
  }
}

bool IngestService::replace_producer() {
  log::warn("ingest",
            "replacing the Kafka producer after a fatal error; the spool is sent again from its oldest reading");
  producer_->abandon();  // purges: those readings stay in the spool
  std::string error;
  auto fresh =
      transport::KafkaProducer::create(config_.load()->kafka, error, "ingest-replacement", &metrics_, "ingest");
  if (!fresh) {
    log::error("ingest", "cannot create a Kafka producer: {}", error);
    return false;
  }
  fresh->prepare(written_topics(config_.load()->ingest));
  {
    std::lock_guard lock(producer_mutex_);
    producer_.swap(fresh);
  }
  producers_replaced_.add();
  std::lock_guard lock(mutex_);
  in_flight_ = 0;
  return true;
}

void IngestService::run() {
  drain_spool();
  std::lock_guard lock(mutex_);
  drainer_done_ = true;
  drainer_done_cv_.notify_all();
}

void IngestService::drain_spool() {
  std::uint64_t cursor = 0;  // the last sequence handed to the producer
  while (!abandon_waits_) {
    drainer_beat_.beat();
    if (producer_->fatal()) {
      producer_failed_ = true;
      if (!replace_producer()) {
        std::unique_lock lock(mutex_);
        wake_drainer_.wait_for(lock, std::chrono::seconds(1));
        if (stopping_) return;
        continue;
      }
      producer_failed_ = false;
      cursor = 0;
    }
    remove_acknowledged();
    if (held_count_.load() > 0) store_held();
    resume_intake_when_room();
    take_reloaded_sections();
    {
      std::unique_lock lock(mutex_);
      if (stopping_ && (spool_->size_records() == in_flight_ || std::chrono::steady_clock::now() >= drain_deadline_)) {
        return;
      }
      // Half the spool at most is claimed (on its way to Kafka): the other half is where drop_oldest
      // can still make room while Kafka is away.
      if (in_flight_ >= kMaxInFlight || spool_->claimed_bytes() >= spool_->max_size() / 2) {
        wake_drainer_.wait_for(lock, kIdleWait);
        continue;
      }
    }
    spool::ReadResult batch = spool_->claim_from(cursor, kReadBatch);
    if (!batch.corrupt.empty()) {
      corrupt_records_.add(batch.corrupt.size());
      std::uint64_t suppressed = 0;
      if (corrupt_log_limit_.allow(suppressed)) {
        log::error("ingest", "spool: {} record(s) did not decode and are removed ({} more since the last line)",
                   batch.corrupt.size(), suppressed);
      }
      spool_->remove(batch.corrupt);
      cursor = std::max(cursor, batch.corrupt.back());
    }
    if (batch.records.empty()) {
      std::unique_lock lock(mutex_);
      if (acknowledged_.empty() && !stopping_) {
        drainer_idle_ = true;
        wake_drainer_.wait_for(lock, kIdleWait);
        drainer_idle_ = false;
      }
      continue;
    }
    for (const spool::Stored& stored : batch.records) {
      cursor = stored.sequence;
      SectionPipeline* pipeline = section_named(stored.record.route);
      if (pipeline == nullptr) {
        // Spooled through a route a reload has just added, before this batch took its sections.
        take_reloaded_sections();
        pipeline = section_named(stored.record.route);
      }
      if (pipeline == nullptr) {
        // A section renamed or removed since this reading was spooled.
        orphaned_records_.add();
        std::uint64_t suppressed = 0;
        if (orphan_log_limit_.allow(suppressed)) {
          log::error("ingest",
                     "spooled reading {} belongs to section '{}', which the config no longer has; dropped ({} more "
                     "since the last line)",
                     stored.sequence, stored.record.route, suppressed);
        }
        spool_->remove(std::span(&stored.sequence, 1));
        continue;
      }
      {
        std::lock_guard lock(mutex_);
        ++in_flight_;
      }
      const auto outcome =
          pipeline->process(incoming_from_spool(stored.record), *producer_, stored.sequence, abandon_waits_);
      if (outcome == SectionPipeline::Outcome::produce_failed) {
        std::lock_guard lock(mutex_);
        --in_flight_;
        // After a fatal error the next producer sends it again; at the drain deadline it stays spooled.
        if (producer_->fatal() || abandon_waits_) break;
        acknowledged_.push_back(stored.sequence);  // refused for good: counted and logged
      }
    }
    if (batch.records.size() < kReadBatch) {
      std::unique_lock lock(mutex_);
      wake_drainer_.wait_for(lock, kGather, [this] { return stopping_ || abandon_waits_.load(); });
    }
  }
}

void IngestService::log_stats() const {
  std::lock_guard lock(mutex_);
  for (const auto& pipeline : sections_) {
    const auto& c = pipeline->counters();
    log::info("ingest", "{}: received {} accepted {} rejected {} delivered {} dead-lettered {} failed {} in flight {}",
              pipeline->section().name, c.received->value(), c.accepted->value(), pipeline->rejected_total(),
              c.delivered->value(), c.dead_letters_delivered->value(), c.delivery_failed->value(),
              c.in_flight->value());
  }
  if (spool_) {
    log::info("ingest", "spool: {} reading(s), {} bytes of {}, {} dropped", spool_->size_records(),
              spool_->size_bytes(), spool_->max_size(), spool_->dropped());
  }
}

}  // namespace archer::ingest
