#pragma once
// The data ingestor: every [[ingest]] section of the config, fed by the gateway's MQTT session,
// with the durable spool between MQTT and Kafka.
//
//   Paho callback --append--> spool (LMDB, committed before the callback returns, so before the
//   PUBACK) --drainer--> validate --> Kafka raw datalog / dead letters --ack--> removed from spool
//
// Threading: offer() runs on Paho's callback thread and only appends to the spool, never waiting
// (Paho's callback thread serves every MQTT session of the process). When the spool is full
// (backpressure), the message is kept just above the limit and intake pauses: the telemetry session
// disconnects, keeping its session, and the broker queues for it until the drainer has made room. One drainer thread
// reads the spool in sequence order, validates and produces (per-device order holds), and removes what Kafka
// acknowledged. Delivery reports arrive on the producer's poll thread and only hand sequences back to the drainer.
//
// Failure: a fatal producer error (librdkafka 2.0.2 raises them for idempotent producers after
// timeouts) makes the drainer replace the producer and send again everything still in the spool,
// in order. What Kafka had already taken may then be written twice; nothing is lost.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <mqtt/message.h>

#include "archer/core/config.h"
#include "archer/core/heartbeat.h"
#include "archer/core/log.h"
#include "archer/core/metrics.h"
#include "archer/core/readiness.h"
#include "archer/ingest/section_pipeline.h"
#include "archer/spool/spool.h"
#include "archer/transport/kafka_producer.h"

namespace archer::ingest {

class IngestService : public DeliveryHook {
 public:
  // At most this many records are read from the spool and not yet acknowledged by Kafka.
  static constexpr std::uint64_t kMaxInFlight = 20'000;

  // Opens the spool and the ingest producer; null and `error` when something cannot start.
  static std::unique_ptr<IngestService> create(const Config& config, Metrics& metrics, std::string& error);
  ~IngestService() override;

  // (filter, qos) for each section, with $share/<group>/ when configured.
  std::vector<std::pair<std::string, int>> subscriptions() const;

  // Paho's thread: spools the message when one of the sections matches its topic.
  bool offer(const mqtt::const_message_ptr& message);

  void start();
  // After MQTT intake has stopped: delivers the spool to Kafka for up to `drain`, then stops. What is
  // not delivered stays in the spool for the next start.
  void stop(std::chrono::milliseconds drain = std::chrono::seconds(30));

  // What the telemetry session must subscribe to and unsubscribe from after a reload.
  struct SubscriptionChanges {
    std::vector<std::pair<std::string, int>> added;
    std::vector<std::string> removed;
  };

  // SIGHUP: takes the [[ingest]] sections of `fresh` (`fresh` must outlive the service): schemas
  // loaded again, validation settings, Kafka topics and keys from the next spooled reading on; added
  // sections take messages at once, and `changes` says what to subscribe to. A removed section (or
  // a section's former MQTT filter) keeps matching what is still on its way, so that nothing spooled
  // or in flight becomes unrouted: its readings go out through the section that spooled them.
  // Nothing is applied when a schema does not load (`error` says why).
  bool reload(const Config& fresh, SubscriptionChanges& changes, std::string& error);

  // Who pauses and resumes MQTT intake (the telemetry session) when the spool is full and when it
  // has room again. Before start(); called on Paho's thread (pause) and the drainer's (resume).
  void set_intake_control(std::function<void(bool pause)> control);

  void log_stats() const;
  // Not ready while the producer has failed and is not yet replaced, while the spool is above its
  // high-water mark or full, and while no Kafka broker has been reachable for a few seconds. Any thread.
  Readiness ready() const;
  // Not healthy when the drainer has stopped turning (Heartbeat), other than waiting for Kafka.
  Readiness health() const;
  // The gauges that are read rather than counted: spool limit and oldest record's age. Any thread.
  void refresh_metrics();

  // DeliveryHook (producer's poll thread)
  void on_record_delivered(std::uint64_t sequence, RdKafka::ErrorCode err) override;

 private:
  IngestService(const Config& config, Metrics& metrics);
  void run();
  void drain_spool();
  bool replace_producer();
  void remove_acknowledged();
  SectionPipeline* section_named(std::string_view name) const;
  void take_reloaded_sections();
  // /readyz's words about Kafka; empty while it is reachable.
  std::string kafka_unreachable_reason() const;
  void hold(spool::SpoolRecord record, const std::string& why);  // under held_mutex_
  void store_held();                                             // drainer, stop()
  void pause_intake();                                           // Paho's thread
  void resume_intake_when_room();                                // drainer

  // What offer() matches topics against, in order: the sections of the running config, then those of
  // earlier configs (removed, or with another filter), which still take what is on its way.
  struct Route {
    std::string name;
    TopicTemplate mqtt;
  };
  using Routes = std::vector<Route>;

  std::atomic<const Config*> config_;  // the running one; replaced by reload() on the main thread
  Metrics& metrics_;
  std::atomic<std::shared_ptr<const Routes>> routes_;               // read by offer() on Paho's thread
  std::vector<std::unique_ptr<SectionPipeline>> sections_;          // the drainer's; swapped under mutex_
  std::vector<std::unique_ptr<SectionPipeline>> pending_sections_;  // from reload(), under mutex_
  // Replaced pipelines stay alive: records they produced may still report their delivery, and a
  // removed section's spooled readings still go out through it (the drainer's).
  std::vector<std::unique_ptr<SectionPipeline>> retired_sections_;
  std::unique_ptr<spool::Spool> spool_;
  std::unique_ptr<transport::KafkaProducer> producer_;  // replaced by the drainer after a fatal error
  // Held while the drainer replaces producer_, so that ready() on another thread may read it.
  mutable std::mutex producer_mutex_;

  mutable std::mutex mutex_;
  std::condition_variable wake_drainer_;
  std::vector<std::uint64_t> acknowledged_;  // sequences Kafka took (or refused for good)
  std::uint64_t in_flight_ = 0;
  bool stopping_ = false;
  std::chrono::steady_clock::time_point drain_deadline_;
  bool drainer_done_ = false;
  std::atomic<bool> drainer_idle_{false};
  Heartbeat drainer_beat_;  // waiting for readings: offer() wakes it
  std::condition_variable drainer_done_cv_;

  std::atomic<bool> abandon_waits_{false};
  std::atomic<bool> producer_failed_{false};
  std::atomic<bool> intake_paused_{false};
  // Readings the spool could not store (its disk full, a storage error): kept in arrival order while
  // intake is paused, and stored by the drainer as soon as the spool takes them.
  static constexpr std::size_t kMaxHeld = 100'000;
  mutable std::mutex held_mutex_;
  std::deque<spool::SpoolRecord> held_;
  std::string held_why_;
  std::atomic<std::size_t> held_count_{0};
  std::function<void(bool)> intake_control_;
  std::thread drainer_;
  // Lines that can come once per message or batch: one per interval, with the count held back.
  log::RateLimit full_log_limit_{std::chrono::seconds(10)};
  log::RateLimit spool_error_log_limit_{std::chrono::seconds(1)};
  log::RateLimit remove_error_log_limit_{std::chrono::seconds(10)};
  log::RateLimit corrupt_log_limit_{std::chrono::seconds(10)};
  log::RateLimit orphan_log_limit_{std::chrono::seconds(10)};

  Counter& spool_full_waits_;
  Counter& spool_errors_;
  Counter& lost_;
  Gauge& held_gauge_;
  Counter& producers_replaced_;
  Counter& corrupt_records_;
  Counter& orphaned_records_;
  Gauge& spool_max_bytes_;
  Gauge& oldest_age_;
};

}  // namespace archer::ingest
