#include "archer/transport/kafka_producer.h"

#include <cstdlib>

#include <fmt/format.h>
#include <librdkafka/rdkafka.h>

#include "archer/core/callback_guard.h"
#include "archer/core/log.h"
#include "archer/core/secrets.h"
#include "archer/transport/kafka_headers.h"

namespace archer::transport {
namespace {

constexpr auto kCloseFlushTimeout = std::chrono::seconds(10);

const KafkaProperties kProducerDefaults{
    {"enable.idempotence", "true"},
    {"acks", "all"},
    {"message.timeout.ms", "0"},  // never give up on a record: an outage is waited out
    {"linger.ms", "5"},
    {"compression.type", "none"},
    // Bounds the producer's memory; when full, produce() waits and intake pauses.
    {"queue.buffering.max.kbytes", "65536"},
    // Broker states, queue depth and RTT for the metrics and /readyz.
    {"statistics.interval.ms", "1000"},
};

}  // namespace

bool is_retriable(RdKafka::ErrorCode err) {
  switch (err) {
    case RdKafka::ERR__QUEUE_FULL:
    case RdKafka::ERR__FATAL:
    case RdKafka::ERR__PURGE_QUEUE:
    case RdKafka::ERR__PURGE_INFLIGHT:
    case RdKafka::ERR__MSG_TIMED_OUT:
    case RdKafka::ERR__TIMED_OUT:
    case RdKafka::ERR__TRANSPORT:
    case RdKafka::ERR__ALL_BROKERS_DOWN:
    case RdKafka::ERR_REQUEST_TIMED_OUT:
    case RdKafka::ERR_NOT_ENOUGH_REPLICAS:
    case RdKafka::ERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND:
    case RdKafka::ERR_LEADER_NOT_AVAILABLE:
    case RdKafka::ERR_NOT_LEADER_FOR_PARTITION:
    case RdKafka::ERR_NETWORK_EXCEPTION:
    case RdKafka::ERR_UNKNOWN_TOPIC_OR_PART:
      return true;
    default:
      return false;
  }
}

std::unique_ptr<RdKafka::Conf> make_kafka_conf(const KafkaProperties& defaults, const KafkaConfig& config,
                                               std::vector<RefusedProperty>& refused) {
  std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  const std::size_t refused_before = refused.size();
  auto set = [&](const std::string& name, const std::string& value, bool from_config) {
    std::string problem;
    if (conf->set(name, value, problem) != RdKafka::Conf::CONF_OK) {
      // What is refused ends up in messages: a credential's value never does.
      const bool secret = is_secret_property(name);
      refused.push_back({name, shown_value(name, value), from_config,
                         secret ? without_secret(std::move(problem), value) : std::move(problem)});
    }
  };
  for (const auto& [name, value] : defaults) set(name, value, false);
  for (const auto& [name, value] : config.properties) set(name, value, true);
  if (refused.size() != refused_before) return nullptr;
  return conf;
}

std::unique_ptr<RdKafka::Conf> make_kafka_conf(const KafkaProperties& defaults, const KafkaConfig& config,
                                               std::string& error) {
  std::vector<RefusedProperty> refused;
  auto conf = make_kafka_conf(defaults, config, refused);
  if (!conf) {
    const RefusedProperty& first = refused.front();
    error = fmt::format("{} property '{}' = '{}': {}", first.from_config ? "[kafka]" : "default", first.name,
                        first.value, first.reason);
  }
  return conf;
}

KafkaProperties producer_defaults(std::string_view role) {
  // The actuator gateway waits for the acknowledgement of the steps of an exchange in turn (OPENED
  // before the device is contacted, CLOSED before the outcome, the outcome before the device's next
  // command): the linger is paid at each. 1 ms still lets concurrent exchanges share a request (0
  // cost 50% more CPU per command for no shorter round trip).
  const bool waits_for_each = role.starts_with("actuators");
  KafkaProperties defaults;
  for (const auto& property : kProducerDefaults) {
    if (waits_for_each && property.first == "linger.ms") {
      defaults.emplace_back(property.first, "1");
    } else {
      defaults.push_back(property);
    }
  }
  defaults.emplace_back("client.id", fmt::format("archer-{}", role));
  return defaults;
}

std::unique_ptr<KafkaProducer> KafkaProducer::create(const KafkaConfig& config, std::string& error,
                                                     std::string_view role, Metrics* metrics, std::string_view client) {
  std::unique_ptr<KafkaProducer> producer(new KafkaProducer());
  producer->events_.metrics = metrics;
  producer->events_.client = std::string(client.empty() ? role : client);
  auto conf = make_kafka_conf(producer_defaults(role), config, error);
  if (!conf) return nullptr;
  if (const char* hook = std::getenv("ARCHER_TEST_FATAL_PRODUCER_AFTER"); hook != nullptr) {
    const std::string_view text(hook);
    const auto colon = text.find(':');
    const std::string_view hooked_role = colon == std::string_view::npos ? "ingest" : text.substr(0, colon);
    static std::atomic<bool> fired{false};
    if (hooked_role == role && !fired.exchange(true)) {
      producer->fatal_after_ =
          std::atoll(std::string(colon == std::string_view::npos ? text : text.substr(colon + 1)).c_str());
      log::warn("kafka", "test hook: the {} producer raises a fatal error after {} record(s)", role,
                producer->fatal_after_.load());
    }
  }
  std::string problem;
  if (conf->set("dr_cb", &producer->dispatcher_, problem) != RdKafka::Conf::CONF_OK ||
      conf->set("event_cb", &producer->events_, problem) != RdKafka::Conf::CONF_OK) {
    error = problem;
    return nullptr;
  }
  producer->producer_.reset(RdKafka::Producer::create(conf.get(), problem));
  if (!producer->producer_) {
    error = fmt::format("cannot create the Kafka producer: {}", problem);
    return nullptr;
  }
  producer->poll_thread_ = std::thread([p = producer.get()] { p->poll_loop(); });
  return producer;
}

void KafkaProducer::abandon() {
  if (!producer_) return;
  producer_->purge(RdKafka::Producer::PURGE_QUEUE | RdKafka::Producer::PURGE_INFLIGHT);
  producer_->poll(0);
  stopping_ = true;
  if (poll_thread_.joinable()) poll_thread_.join();
  producer_->poll(0);  // serve the purge reports
  {
    std::lock_guard lock(topics_mutex_);
    topics_.clear();  // before the handle they belong to
  }
  producer_.reset();
}

KafkaProducer::~KafkaProducer() {
  if (producer_ && !fatal()) {
    const int left = flush(kCloseFlushTimeout);
    if (left > 0) log::warn("kafka", "closing with {} record(s) not acknowledged by Kafka", left);
  }
  abandon();
}

void KafkaProducer::poll_loop() {
  while (!stopping_.load(std::memory_order_relaxed)) producer_->poll(100);
}

rd_kafka_topic_t* KafkaProducer::topic_handle(std::string_view name) {
  std::lock_guard lock(topics_mutex_);
  auto found = topics_.find(name);
  if (found != topics_.end()) return found->second.get();
  // A new handle asks for the topic's metadata at once, in the background.
  rd_kafka_topic_t* handle = rd_kafka_topic_new(producer_->c_ptr(), std::string(name).c_str(), nullptr);
  if (handle == nullptr) return nullptr;
  return topics_.emplace(std::string(name), TopicHandle(handle)).first->second.get();
}

void KafkaProducer::prepare(const std::vector<std::string>& topics) {
  for (const std::string& topic : topics) topic_handle(topic);
}

namespace {

rd_kafka_headers_t* to_c_headers(const headers::RecordHeaders& record_headers) {
  rd_kafka_headers_t* out = rd_kafka_headers_new(record_headers.entries().size());
  for (const auto& [name, value] : record_headers.entries()) {
    rd_kafka_header_add(out, name.data(), static_cast<ssize_t>(name.size()), value.data(),
                        static_cast<ssize_t>(value.size()));
  }
  return out;
}

// rd_kafka_produceva rather than the C++ API: the C++ produce() takes headers only with a topic name,
// which librdkafka then looks up for every record.
RdKafka::ErrorCode produce_to(rd_kafka_t* producer, rd_kafka_topic_t* topic, const KafkaProducer::Record& record,
                              rd_kafka_headers_t* headers) {
  rd_kafka_vu_t values[6];
  values[0].vtype = RD_KAFKA_VTYPE_RKT;
  values[0].u.rkt = topic;
  values[1].vtype = RD_KAFKA_VTYPE_MSGFLAGS;
  values[1].u.i = RD_KAFKA_MSG_F_COPY;
  values[2].vtype = RD_KAFKA_VTYPE_VALUE;
  values[2].u.mem = {const_cast<std::uint8_t*>(record.value.data()), record.value.size()};
  values[3].vtype = RD_KAFKA_VTYPE_KEY;
  values[3].u.mem = {const_cast<char*>(record.key.data()), record.key.size()};
  values[4].vtype = RD_KAFKA_VTYPE_OPAQUE;
  values[4].u.ptr = record.listener;
  std::size_t count = 5;
  if (headers != nullptr) {
    values[5].vtype = RD_KAFKA_VTYPE_HEADERS;
    values[5].u.headers = headers;
    count = 6;
  }
  rd_kafka_error_t* error = rd_kafka_produceva(producer, values, count);
  if (error == nullptr) return RdKafka::ERR_NO_ERROR;
  // After a fatal error, produceva gives that error's own code (e.g. OUT_OF_ORDER_SEQUENCE_NUMBER)
  // with the fatal flag, where the C++ API says ERR__FATAL: the record is not refused, the next
  // producer sends it.
  const auto code = rd_kafka_error_is_fatal(error) ? RdKafka::ERR__FATAL
                                                   : static_cast<RdKafka::ErrorCode>(rd_kafka_error_code(error));
  rd_kafka_error_destroy(error);
  return code;
}

}  // namespace

RdKafka::ErrorCode KafkaProducer::produce(const Record& record, const std::atomic<bool>& stop_waiting) {
  rd_kafka_topic_t* topic = topic_handle(record.topic);
  if (topic == nullptr) return static_cast<RdKafka::ErrorCode>(rd_kafka_last_error());
  while (true) {
    // librdkafka takes ownership of the headers only when the produce succeeds.
    rd_kafka_headers_t* headers = record.headers != nullptr ? to_c_headers(*record.headers) : nullptr;
    const auto err = produce_to(producer_->c_ptr(), topic, record, headers);
    if (err == RdKafka::ERR_NO_ERROR) {
      if (fatal_after_.load(std::memory_order_relaxed) >= 0 && fatal_after_.fetch_sub(1) == 1) {
        rd_kafka_test_fatal_error(producer_->c_ptr(), RD_KAFKA_RESP_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER,
                                  "ARCHER_TEST_FATAL_PRODUCER_AFTER");
      }
      return err;
    }
    if (headers != nullptr) rd_kafka_headers_destroy(headers);
    // The fatal event reaches the poll thread a moment later: callers must know now, so that a
    // record refused for this reason is sent again by the next producer rather than given up.
    if (err == RdKafka::ERR__FATAL) events_.fatal = true;
    if (err != RdKafka::ERR__QUEUE_FULL || stop_waiting.load(std::memory_order_relaxed)) return err;
    // Backpressure: the queue drains as Kafka acknowledges; the poll thread serves the reports.
    waiters_.fetch_add(1);
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    waiters_.fetch_sub(1);
  }
}

int KafkaProducer::flush(std::chrono::milliseconds timeout) {
  producer_->flush(static_cast<int>(timeout.count()));
  return producer_->outq_len();
}

int KafkaProducer::outstanding() const { return producer_->outq_len(); }

void KafkaProducer::DeliveryDispatcher::dr_cb(RdKafka::Message& message) {
  guarded("Kafka delivery report", [&] {
    auto* listener = static_cast<DeliveryListener*>(message.msg_opaque());
    if (listener == nullptr) return;
    RdKafka::ErrorCode err = message.err();
    // librdkafka sets the fatal error before it fails the records that caused it, so this sees it
    // (the error event reaches the poll thread only later).
    if (err != RdKafka::ERR_NO_ERROR && rd_kafka_fatal_error(owner_.producer_->c_ptr(), nullptr, 0) != 0) {
      err = RdKafka::ERR__FATAL;
    }
    listener->on_delivery(message, err);
  });
}

void KafkaProducer::EventLogger::event_cb(RdKafka::Event& event) {
  guarded("Kafka event", [&] { handle(event); });
}

void KafkaProducer::EventLogger::handle(RdKafka::Event& event) {
  switch (event.type()) {
    case RdKafka::Event::EVENT_ERROR:
      if (event.err() == RdKafka::ERR__AUTHENTICATION) {
        refused_credentials(event.str());
      } else if (event.fatal()) {
        fatal = true;
        log::error("kafka", "fatal producer error: {}: {}", RdKafka::err2str(event.err()), event.str());
      } else
        log::warn("kafka", "{}: {}", RdKafka::err2str(event.err()), event.str());
      break;
    case RdKafka::Event::EVENT_STATS:
      take_stats(event.str());
      break;
    case RdKafka::Event::EVENT_LOG:
      // A refused login comes as an error event too (above), with the hint.
      if (event.fac() == "FAIL" && event.str().find("authentication") != std::string::npos) break;
      if (event.severity() <= RdKafka::Event::EVENT_SEVERITY_WARNING)
        log::warn("kafka", "{}: {}", event.fac(), event.str());
      break;
    default:
      break;
  }
}

void KafkaProducer::EventLogger::refused_credentials(const std::string& text) {
  credentials_refused = true;
  std::uint64_t suppressed = 0;
  if (!authentication_limit_.allow(suppressed)) return;
  log::error("kafka",
             "Kafka refused the {} producer's credentials: check [kafka] \"sasl.username\" and \"sasl.password_file\" "
             "(or the client certificate and \"ssl.key.password_file\"); records wait in the spool meanwhile: {}{}",
             client, text, suppressed > 0 ? fmt::format(" ({} more since the last line)", suppressed) : "");
}

void KafkaProducer::EventLogger::take_stats(const std::string& json) {
  const std::optional<KafkaStats> stats = parse_kafka_stats(json);
  if (!stats) return;
  const std::int64_t now = std::chrono::steady_clock::now().time_since_epoch().count();
  if (!stats->unreachable()) {
    unreachable_since_ns = 0;
    if (stats->brokers_up() > 0) credentials_refused = false;
  } else if (unreachable_since_ns.load() == 0) {
    unreachable_since_ns = now;
  }
  if (metrics == nullptr) return;
  const Labels labels{{"client", client}};
  metrics->gauge("archer_kafka_queue_messages", "Records in the producer queue, not yet acknowledged", labels)
      .set(static_cast<double>(stats->queued_messages));
  metrics->gauge("archer_kafka_queue_bytes", "Bytes of the records in the producer queue", labels)
      .set(static_cast<double>(stats->queued_bytes));
  metrics->gauge("archer_kafka_brokers_up", "Brokers the producer is connected to", labels).set(stats->brokers_up());
  for (const KafkaBrokerStats& broker : stats->brokers) {
    if (broker.node_id < 0) continue;  // a bootstrap address, before its broker id is known
    const std::string id = std::to_string(broker.node_id);
    auto rtt = [&](const char* quantile) -> Gauge& {
      return metrics->gauge("archer_kafka_broker_rtt_seconds", "Round-trip time of requests to a broker",
                            {{"client", client}, {"broker", id}, {"quantile", quantile}});
    };
    rtt("0.5").set(broker.rtt_p50_seconds);
    rtt("0.99").set(broker.rtt_p99_seconds);
  }
}

std::string kafka_unreachable_reason(std::chrono::milliseconds away, bool credentials_refused) {
  constexpr std::chrono::seconds kGrace{3};
  if (away < kGrace) return {};
  return fmt::format("kafka: no broker reachable for {} s{}",
                     std::chrono::duration_cast<std::chrono::seconds>(away).count(),
                     credentials_refused ? " (Kafka refuses the credentials: see the log)" : "");
}

std::chrono::milliseconds KafkaProducer::unreachable_for() const {
  const std::int64_t since = events_.unreachable_since_ns.load();
  if (since == 0) return std::chrono::milliseconds(0);
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch() -
                                                               std::chrono::steady_clock::duration(since));
}

}  // namespace archer::transport
