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
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafkacpp.h>

#include "archer/core/config.h"
#include "archer/core/headers.h"
#include "archer/core/log.h"
#include "archer/core/metrics.h"
#include "archer/transport/kafka_stats.h"

namespace archer::transport {

// Told the fate of each record, once. `err` is what to act on: ERR_NO_ERROR when delivered;
// ERR__FATAL for a record that failed because its producer hit a fatal error, whatever error the
// broker gave it (e.g. OUT_OF_ORDER_SEQUENCE_NUMBER after a whole cluster restart): the record is
// not refused, a new producer can send it again; otherwise message.err(). message.errstr() keeps
// the broker's own words for logs.
class DeliveryListener {
 public:
  virtual ~DeliveryListener() = default;
  virtual void on_delivery(const RdKafka::Message& message, RdKafka::ErrorCode err) = 0;
};

using KafkaProperties = std::vector<std::pair<std::string, std::string>>;

// A property librdkafka refused: from the defaults or from [kafka] (`from_config`), and why.
struct RefusedProperty {
  std::string name;
  std::string value;
  bool from_config = true;
  std::string reason;  // librdkafka's words
};

// Builds a librdkafka configuration: `defaults`, then the operator's [kafka] properties on top.
// Null when librdkafka refuses any property; `refused` then holds every one it refused.
std::unique_ptr<RdKafka::Conf> make_kafka_conf(const KafkaProperties& defaults, const KafkaConfig& config,
                                               std::vector<RefusedProperty>& refused);
// The same; `error` names the first refused property.
std::unique_ptr<RdKafka::Conf> make_kafka_conf(const KafkaProperties& defaults, const KafkaConfig& config,
                                               std::string& error);

// True for a produce or delivery error that can pass (Kafka away or slow, a full queue, a fatal error
// cured by a new producer, a purge): the record is worth sending again. False for a refusal for good
// (too large, not authorised, an invalid record).
bool is_retriable(RdKafka::ErrorCode err);

// What a producer of `role` starts from (see KafkaProducer); [kafka] goes on top.
KafkaProperties producer_defaults(std::string_view role);

// /readyz's words for a client whose statistics have shown no broker reachable for `away`: empty
// below a grace of a few seconds (one broker's reconnect is no outage), else
// "kafka: no broker reachable for N s", followed by "(Kafka refuses the credentials: see the log)"
// when `credentials_refused`.
std::string kafka_unreachable_reason(std::chrono::milliseconds away, bool credentials_refused = false);

class KafkaProducer {
 public:
  // Returns null and sets `error` when the configuration is refused. `role` names the producer in
  // logs and in its client.id ("archer-ingest").
  //
  // Fault testing: with ARCHER_TEST_FATAL_PRODUCER_AFTER=N (or ROLE:N) in the environment, the
  // producer of that role ("ingest" when none is named) raises a fatal error
  // (rd_kafka_test_fatal_error) after its N-th record, once per process.
  //
  // With `metrics`, librdkafka's statistics (every statistics.interval.ms, default 1 s) become the
  // archer_kafka_* gauges, labelled client=`client` (the role when empty).
  static std::unique_ptr<KafkaProducer> create(const KafkaConfig& config, std::string& error,
                                               std::string_view role = "gateway", Metrics* metrics = nullptr,
                                               std::string_view client = {});
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

  // Creates the handles of `topics` now, so that their metadata is fetched before the first record
  // (a record for a topic not yet known waits for it). Any topic not prepared gets its handle at
  // its first record.
  void prepare(const std::vector<std::string>& topics);

  // Enqueues a record. When the producer queue is full it waits (polling) until there is room or
  // `stop_waiting` becomes true. Returns NO_ERROR or the immediate error (the listener is then not
  // called: the caller owns the failure).
  RdKafka::ErrorCode produce(const Record& record, const std::atomic<bool>& stop_waiting);

  // Waits until every enqueued record has its delivery report, or the timeout passes.
  // Returns the number still outstanding.
  int flush(std::chrono::milliseconds timeout);
  int outstanding() const;

  // True once librdkafka raised a fatal error: this producer accepts nothing more and must be
  // replaced (librdkafka 2.0.2 can raise one for an idempotent producer after timeouts). Records not
  // acknowledged are purged on destruction, their listeners told ERR__PURGE_QUEUE.
  bool fatal() const { return events_.fatal.load(); }
  // Destroys without flushing: for a producer that hit a fatal error.
  void abandon();

  // How long the statistics have shown no broker reachable (KafkaStats::unreachable); 0 while one is.
  std::chrono::milliseconds unreachable_for() const;
  // True while the last login was refused (SASL credentials, TLS client certificate), until a
  // broker is up again.
  bool credentials_refused() const { return events_.credentials_refused.load(); }
  // True while a produce() waits for room in a full queue: a caller that waits is not stuck.
  bool waiting_for_room() const { return waiters_.load(std::memory_order_relaxed) > 0; }

  RdKafka::Producer& handle() { return *producer_; }

 private:
  class DeliveryDispatcher : public RdKafka::DeliveryReportCb {
   public:
    explicit DeliveryDispatcher(const KafkaProducer& owner) : owner_(owner) {}
    void dr_cb(RdKafka::Message& message) override;

   private:
    const KafkaProducer& owner_;
  };
  class EventLogger : public RdKafka::EventCb {
   public:
    void event_cb(RdKafka::Event& event) override;
    std::atomic<bool> fatal{false};
    // Steady-clock ns since when the statistics show no broker reachable; 0: reachable or unknown.
    std::atomic<std::int64_t> unreachable_since_ns{0};
    std::atomic<bool> credentials_refused{false};
    Metrics* metrics = nullptr;
    std::string client;

   private:
    void handle(RdKafka::Event& event);
    void refused_credentials(const std::string& text);
    // librdkafka reports a refused login at every reconnect: one line per interval says it.
    log::RateLimit authentication_limit_{std::chrono::seconds(30)};
    void take_stats(const std::string& json);
  };

  KafkaProducer() = default;
  void poll_loop();
  // The topic's handle, created at its first use and kept; null if librdkafka refuses the name.
  rd_kafka_topic_t* topic_handle(std::string_view name);

  struct TopicDestroy {
    void operator()(rd_kafka_topic_t* topic) const { rd_kafka_topic_destroy(topic); }
  };
  using TopicHandle = std::unique_ptr<rd_kafka_topic_t, TopicDestroy>;
  struct NameHash : std::hash<std::string_view> {
    using is_transparent = void;
  };

  DeliveryDispatcher dispatcher_{*this};
  EventLogger events_;
  std::unique_ptr<RdKafka::Producer> producer_;
  std::mutex topics_mutex_;  // produce() runs on any thread
  std::unordered_map<std::string, TopicHandle, NameHash, std::equal_to<>> topics_;
  std::atomic<bool> stopping_{false};
  std::atomic<int> waiters_{0};
  std::thread poll_thread_;
  std::atomic<std::int64_t> fatal_after_{-1};  // the test hook's countdown; -1: off
};

}  // namespace archer::transport
