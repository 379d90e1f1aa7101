#include "archer/actuators/gateway.h"

#include <malloc.h>

#include <future>

#include <fmt/format.h>
#include <mqtt/async_client.h>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>

#include "archer/actuators/view_loader.h"
#include "archer/core/callback_guard.h"
#include "archer/core/clock.h"
#include "archer/core/log.h"
#include "archer/transport/kafka_headers.h"

namespace archer::actuators {
namespace {

constexpr auto kStopFlushTimeout = std::chrono::seconds(5);
constexpr auto kWatchInterval = std::chrono::seconds(1);

constexpr auto kRetryMin = std::chrono::milliseconds(100);
constexpr auto kRetryMax = std::chrono::seconds(5);
constexpr auto kLoadRetryMax = std::chrono::seconds(30);

}  // namespace

// Lets threads that outlive a moment of the gateway (delivery reports, publish completions, Paho's
// callbacks) post to its loop, and makes those posts no-ops once the gateway is gone.
class LoopMailbox {
 public:
  explicit LoopMailbox(boost::asio::io_context& io) : io_(&io) {}
  void post(std::function<void()> work) {
    std::lock_guard lock(mutex_);
    if (io_ != nullptr) boost::asio::post(*io_, [work = std::move(work)] { guarded("actuator loop", work); });
  }
  void close() {
    std::lock_guard lock(mutex_);
    io_ = nullptr;
  }

 private:
  std::mutex mutex_;
  boost::asio::io_context* io_;
};

namespace {

// librdkafka's delivery report for one record, handed to the loop.
class PostingDelivery : public transport::DeliveryListener {
 public:
  using Done = std::function<void(RdKafka::ErrorCode, std::string, std::int32_t, std::int64_t)>;
  PostingDelivery(std::shared_ptr<LoopMailbox> mailbox, Done done)
      : mailbox_(std::move(mailbox)), done_(std::move(done)) {}
  void on_delivery(const RdKafka::Message& message, RdKafka::ErrorCode err) override {
    guarded("actuator delivery report", [&] {
      mailbox_->post([done = std::move(done_), err, text = message.errstr(), partition = message.partition(),
                      offset = message.offset()] { done(err, text, partition, offset); });
    });
    delete this;
  }

 private:
  std::shared_ptr<LoopMailbox> mailbox_;
  Done done_;
};

// Paho's answer to one publish, handed to the loop.
class PostingPublish : public mqtt::iaction_listener {
 public:
  PostingPublish(std::shared_ptr<LoopMailbox> mailbox, std::function<void(bool, std::string)> done)
      : mailbox_(std::move(mailbox)), done_(std::move(done)) {}
  void on_success(const mqtt::token&) override { finish(true, {}); }
  void on_failure(const mqtt::token& token) override {
    finish(false, fmt::format("MQTT return code {}", token.get_return_code()));
  }

 private:
  void finish(bool ok, std::string error) {
    guarded("actuator publish completion", [&] {
      mailbox_->post([done = std::move(done_), ok, error = std::move(error)]() mutable { done(ok, std::move(error)); });
    });
    delete this;
  }
  std::shared_ptr<LoopMailbox> mailbox_;
  std::function<void(bool, std::string)> done_;
};

}  // namespace

struct ActuatorGateway::Pending {
  std::string topic;
  std::string key;
  Bytes value;
  headers::RecordHeaders headers;
  DeliveryDone done;
  int attempts = 0;
};

class ActuatorGateway::AsioTimer : public Timer {
 public:
  explicit AsioTimer(boost::asio::io_context& io) : timer_(io) {}
  void start(std::chrono::milliseconds after, std::function<void()> fire) override {
    timer_.expires_after(after);  // cancels a pending wait
    timer_.async_wait([fire = std::move(fire)](const boost::system::error_code& ec) {
      if (!ec) guarded("actuator timer", fire);
    });
  }
  void cancel() override { timer_.cancel(); }

 private:
  boost::asio::steady_timer timer_;
};

ActuatorGateway::ActuatorGateway(const Config& config, const ActuatorSection& section, transport::MqttSession& mqtt,
                                 PresenceTracker& presence, Metrics& metrics)
    : config_(config),
      section_(section),
      mqtt_(mqtt),
      presence_(presence),
      metrics_(metrics),
      mailbox_(std::make_shared<LoopMailbox>(io_)),
      protocol_(section_, *this, metrics),
      load_timer_(io_),
      watch_timer_(io_),
      pulse_timer_(io_),
      not_ready_(fmt::format("actuator {}: not started", section.name)),
      produce_retries_(metrics.counter("archer_actuator_produce_retries_total",
                                       "Records sent again to Kafka after a failure that can pass",
                                       {{"section", section.name}})),
      producers_replaced_(metrics.counter("archer_actuator_producers_replaced_total",
                                          "Actuator producers replaced after a fatal error",
                                          {{"section", section.name}})),
      snapshots_written_(metrics.counter("archer_actuator_snapshots_written_total",
                                         "Snapshot records written to snapshot.<gateway>",
                                         {{"section", section.name}})),
      start_records_read_(metrics.gauge("archer_actuator_start_records_read",
                                        "Transaction and event records read at the last start, after the snapshots",
                                        {{"section", section.name}})) {}

void ActuatorGateway::on_session_ready() {
  mailbox_->post([this] { protocol_.on_device_online({}); });
}

void ActuatorGateway::on_device_online(const std::string& device) {
  mailbox_->post([this, id = DeviceId(device)] { protocol_.on_device_online(id); });
}

ActuatorGateway::~ActuatorGateway() {
  stop(std::chrono::milliseconds(0));
  mailbox_->close();
}

std::pair<std::string, int> ActuatorGateway::subscription() const { return {section_.response.filter(), 1}; }

bool ActuatorGateway::offer(const mqtt::const_message_ptr& message) {
  std::vector<std::string_view> captures;
  if (!section_.response.match(message->get_topic(), captures)) return false;
  const mqtt::properties& properties = message->get_properties();
  std::string correlation;
  if (properties.contains(mqtt::property::CORRELATION_DATA)) {
    correlation = mqtt::get<mqtt::binary>(properties, mqtt::property::CORRELATION_DATA);
  }
  std::string traceparent;
  const std::size_t users = properties.count(mqtt::property::USER_PROPERTY);
  for (std::size_t i = 0; i < users; ++i) {
    auto [name, value] = mqtt::get<mqtt::string_pair>(properties, mqtt::property::USER_PROPERTY, i);
    if (name == headers::kTraceparent) traceparent = value;
  }
  const auto& payload = message->get_payload_ref();
  Bytes bytes(reinterpret_cast<const std::uint8_t*>(payload.data()),
              reinterpret_cast<const std::uint8_t*>(payload.data()) + payload.size());
  // Bounded: a flood of answers holds Paho's thread (and so the broker) rather than our memory.
  while (!inbox_.try_acquire_for(std::chrono::milliseconds(100))) {
    if (stopping_) return true;
  }
  mailbox_->post([this, topic = message->get_topic(), correlation = std::move(correlation), bytes = std::move(bytes),
                  traceparent = std::move(traceparent)]() mutable {
    inbox_.release();
    protocol_.on_response(topic, correlation, std::move(bytes), std::move(traceparent));
  });
  return true;
}

std::vector<std::string> ActuatorGateway::written_topics() const {
  return {section_.transactions, section_.events, section_.dead_letter, snapshot_topic(config_.gateway.id)};
}

bool ActuatorGateway::start(std::string& error) {
  producer_ =
      transport::KafkaProducer::create(config_.kafka, error, "actuators", &metrics_, "actuator:" + section_.name);
  if (!producer_) {
    error = fmt::format("actuator '{}': {}", section_.name, error);
    return false;
  }
  producer_->prepare(written_topics());
  set_state(fmt::format("actuator {}: loading its logs", section_.name));
  boost::asio::post(io_, [this] {
    pulse();
    load();
  });
  loop_thread_ = std::thread([this] {
    auto work = boost::asio::make_work_guard(io_);
    run_guarded("actuator loop", io_);
  });
  return true;
}

void ActuatorGateway::set_state(std::string reason) {
  std::lock_guard lock(state_mutex_);
  not_ready_ = std::move(reason);
}

Readiness ActuatorGateway::ready() const {
  Readiness out;
  {
    std::lock_guard lock(state_mutex_);
    if (!not_ready_.empty()) out.not_ready(not_ready_);
  }
  if (const std::string away = transport::kafka_unreachable_reason(
          std::chrono::milliseconds(kafka_unreachable_ms_.load()), kafka_credentials_refused_.load());
      !away.empty()) {
    out.not_ready(fmt::format("actuator {}: {}", section_.name, away));
  }
  return out;
}

Readiness ActuatorGateway::health() const {
  Readiness out;
  if (loop_thread_.joinable() && !stopping_ && loop_beat_.stuck()) {
    out.not_ready(fmt::format("actuator {}: its loop has not turned for {} s", section_.name,
                              std::chrono::duration_cast<std::chrono::seconds>(loop_beat_.since()).count()));
  }
  return out;
}

void ActuatorGateway::pulse() {
  loop_beat_.beat();
  kafka_unreachable_ms_ = producer_ ? producer_->unreachable_for().count() : 0;
  kafka_credentials_refused_ = producer_ && producer_->credentials_refused();
  pulse_timer_.expires_after(kWatchInterval);
  pulse_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (!ec) pulse();
  });
}

void ActuatorGateway::load() {
  if (stopping_) return;
  const auto started = std::chrono::steady_clock::now();
  const std::string group = fmt::format("archer.{}.{}", config_.gateway.id, section_.name);
  std::string error;
  LoadedState loaded;
  // Reading a long history holds the loop for seconds: the read beats for it.
  auto stop = [this] {
    loop_beat_.beat();
    return stopping_.load();
  };
  std::map<std::int32_t, std::int64_t> committed;
  bool ok = false;
  commands_ = transport::KafkaReader::open(config_.kafka, section_.commands, group,
                                           transport::KafkaReader::Start::committed, error);
  if (!commands_) {
    error = "command log " + error;
  } else {
    committed = commands_->start_offsets();
    ok = load_state(config_, section_, committed, loaded, error, stop);
  }
  if (stopping_) return;
  if (!ok) {
    const auto wait =
        std::min<std::chrono::milliseconds>(kLoadRetryMax, std::chrono::seconds(1 << std::min(load_failures_++, 5)));
    const std::string reason = fmt::format("actuator {}: cannot read its logs: {} (next try in {} s)", section_.name,
                                           error, std::chrono::duration_cast<std::chrono::seconds>(wait).count());
    log::error("actuator", "{}", reason);
    set_state(reason);
    commands_.reset();
    load_timer_.expires_after(wait);
    load_timer_.async_wait([this](const boost::system::error_code& ec) {
      if (!ec) load();
    });
    return;
  }
  const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started);
  log::info("actuator",
            "{}: ready in {} ms: {} snapshot(s), {} record(s) of {} and {} read after them ({} of finished commands "
            "skipped), {} exchange(s) and {} finished command(s) known; consuming {} as {}",
            section_.name, took.count(), loaded.snapshots_used, loaded.records_read, section_.transactions,
            section_.events, loaded.records_skipped, loaded.view.size(), loaded.view.outcomes(), section_.commands,
            group);
  start_records_read_.set(static_cast<double>(loaded.records_read));
  // Reading a long history goes through librdkafka's fetch buffers and queues (tens of MiB); what is
  // kept is only the work in progress. Give the freed memory back, so that RSS shows what is kept.
  ::malloc_trim(0);
  protocol_.restore(std::move(loaded.view), std::move(loaded.transactions), std::move(loaded.events), committed);
  loaded_ = true;
  load_failures_ = 0;
  set_state("");
  consumer_thread_ = std::thread([this] { consume(); });
  last_snapshot_at_ = std::chrono::steady_clock::now();
  watch();
}

void ActuatorGateway::consume() {
  bool told_caught_up = false;
  commands_->read(
      [this](const RdKafka::Message& message) {
        // Bounded hand-over: at most job_slots_ commands wait in the loop.
        while (!job_slots_.try_acquire_for(std::chrono::milliseconds(100))) {
          if (stopping_) return;
        }
        auto job = std::make_shared<Job>();
        job->position = {message.partition(), message.offset()};
        if (message.key() != nullptr) job->key = *message.key();
        const auto found = transport::headers_of(message);
        job->record_id = found.get(headers::kId);
        job->traceparent = found.get(headers::kTraceparent);
        job->raw.assign(static_cast<const std::uint8_t*>(message.payload()),
                        static_cast<const std::uint8_t*>(message.payload()) + message.len());
        job->command = protocol::decode_command(job->raw, &job->invalid);
        mailbox_->post([this, job] { protocol_.on_command(job); });
      },
      true,
      [this, &told_caught_up] {
        if (!told_caught_up && commands_->caught_up()) {
          told_caught_up = true;
          mailbox_->post([this] { protocol_.on_caught_up(); });
        }
        return stopping_.load();
      });
}

void ActuatorGateway::stop(std::chrono::milliseconds drain) {
  if (stopping_.exchange(true)) return;
  if (!loop_thread_.joinable()) return;
  // The whole stop runs on the loop thread, which owns the state: stop taking commands, let running
  // exchanges finish for `drain`, write a snapshot, flush.
  std::promise<void> stopped;
  const auto deadline = std::chrono::steady_clock::now() + drain;
  auto finish = [this, &stopped] {
    if (loaded_) write_snapshot();
    if (producer_ && !producer_->fatal()) producer_->flush(kStopFlushTimeout);
    stopped.set_value();
  };
  boost::asio::post(io_, [this, deadline, finish] {
    load_timer_.cancel();
    watch_timer_.cancel();
    pulse_timer_.cancel();
    protocol_.stop_taking();
    if (consumer_thread_.joinable()) consumer_thread_.join();
    auto check = std::make_shared<std::function<void()>>();
    *check = [this, deadline, finish, check] {
      if (protocol_.busy() == 0 || std::chrono::steady_clock::now() >= deadline) {
        if (protocol_.busy() > 0) {
          log::warn("actuator", "{}: {} exchange(s) unfinished at stop; they resume at the next start", section_.name,
                    protocol_.busy());
        }
        finish();
        *check = nullptr;  // breaks the cycle
        return;
      }
      auto timer = std::make_shared<boost::asio::steady_timer>(io_, std::chrono::milliseconds(20));
      timer->async_wait([check, timer](const boost::system::error_code&) {
        if (*check) (*check)();
      });
    };
    (*check)();
  });
  stopped.get_future().wait();
  io_.stop();
  loop_thread_.join();
}

void ActuatorGateway::watch() {
  watch_timer_.expires_after(kWatchInterval);
  watch_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec) return;
    // A fatal producer error with nothing to send would otherwise wait for the next record.
    if (producer_ && producer_->fatal()) replace_producer();
    if (std::chrono::steady_clock::now() - last_snapshot_at_ >= section_.snapshot_interval) {
      last_snapshot_at_ = std::chrono::steady_clock::now();
      write_snapshot();
    }
    watch();
  });
}

void ActuatorGateway::write_snapshot() {
  for (Snapshot& snapshot : protocol_.snapshot(config_.gateway.id)) {
    const std::int64_t time_ms = snapshot.time_ms;
    snapshot.time_ms = 0;
    Bytes unchanged = encode(snapshot);
    Bytes& last = last_snapshot_[snapshot.command_partition];
    if (unchanged == last) continue;  // nothing happened on this partition since the last one
    last = std::move(unchanged);
    snapshot.time_ms = time_ms;
    auto pending = std::make_shared<Pending>();
    pending->topic = snapshot_topic(config_.gateway.id);
    pending->key = snapshot_key(section_.name, snapshot.command_partition);
    pending->value = encode(snapshot);
    pending->headers = headers::RecordHeaders::for_new_record(config_.gateway.id);
    pending->done = [this, partition = snapshot.command_partition](const Delivery& delivery) {
      if (delivery.ok) {
        snapshots_written_.add();
        return;
      }
      last_snapshot_.erase(partition);  // written again next time
      log::warn("actuator", "{}: snapshot of partition {} not written: {}", section_.name, partition, delivery.error);
    };
    produce(std::move(pending));
  }
}

void ActuatorGateway::replace_producer() {
  log::warn("actuator", "{}: replacing the Kafka producer after a fatal error; what it held is sent again",
            section_.name);
  set_state(fmt::format("actuator {}: replacing its Kafka producer after a fatal error", section_.name));
  if (producer_) producer_->abandon();  // its records come back as purged, and are sent again
  std::string error;
  producer_ = transport::KafkaProducer::create(config_.kafka, error, "actuators-replacement", &metrics_,
                                               "actuator:" + section_.name);
  if (!producer_) {
    log::error("actuator", "{}: cannot create a Kafka producer: {}", section_.name, error);
    return;
  }
  producer_->prepare(written_topics());
  producers_replaced_.add();
  if (loaded_) set_state("");
}

void ActuatorGateway::produce(std::shared_ptr<Pending> pending) {
  if (!producer_ || producer_->fatal()) replace_producer();
  if (!producer_) {
    retry_later(pending, "no Kafka producer");
    return;
  }
  auto* listener = new PostingDelivery(mailbox_, [this, pending](RdKafka::ErrorCode err, std::string error,
                                                                 std::int32_t partition, std::int64_t offset) {
    on_delivery(pending, err, std::move(error), partition, offset);
  });
  static const std::atomic<bool> no_waiting{true};  // a full queue is a retry, never a stalled loop
  const RdKafka::ErrorCode err =
      producer_->produce({pending->topic, pending->key, pending->value, &pending->headers, listener}, no_waiting);
  if (err == RdKafka::ERR_NO_ERROR) return;
  delete listener;
  on_delivery(pending, err, RdKafka::err2str(err), -1, -1);
}

void ActuatorGateway::on_delivery(const std::shared_ptr<Pending>& pending, RdKafka::ErrorCode err, std::string error,
                                  std::int32_t partition, std::int64_t offset) {
  if (err == RdKafka::ERR_NO_ERROR) {
    pending->done(Delivery{true, "", partition, offset});
    return;
  }
  if (transport::is_retriable(err)) {
    retry_later(pending, fmt::format("{} ({})", error, RdKafka::err2str(err)));
    return;
  }
  pending->done(Delivery{false, fmt::format("{}: {}", pending->topic, error), -1, -1});
}

void ActuatorGateway::retry_later(const std::shared_ptr<Pending>& pending, std::string why) {
  produce_retries_.add();
  std::uint64_t suppressed = 0;
  if (retry_log_.allow(suppressed)) {
    log::warn("actuator", "{}: a record for {} waits to be sent again: {} ({} more since the last line)", section_.name,
              pending->topic, why, suppressed);
  }
  const auto wait = std::min<std::chrono::milliseconds>(kRetryMax, kRetryMin * (1 << std::min(pending->attempts++, 6)));
  auto timer = std::make_shared<boost::asio::steady_timer>(io_, wait);
  timer->async_wait([this, pending, timer](const boost::system::error_code& ec) {
    if (!ec) produce(pending);
  });
}

headers::RecordHeaders ActuatorGateway::headers_for(const RecordContext& context) const {
  auto out = headers::RecordHeaders::for_new_record(config_.gateway.id);
  if (!context.source.empty()) out.add(headers::kSource, context.source);
  if (!context.causation.empty()) out.add(headers::kCausation, context.causation);
  if (!context.traceparent.empty()) out.add(headers::kTraceparent, context.traceparent);
  return out;
}

void ActuatorGateway::write_transaction(const Transaction& entry, const RecordContext& context, DeliveryDone done) {
  auto pending = std::make_shared<Pending>();
  pending->topic = section_.transactions;
  pending->key = entry.device.str();
  pending->value = encode(entry);
  pending->headers = headers_for(context);
  pending->done = std::move(done);
  produce(std::move(pending));
}

void ActuatorGateway::write_outcome(const Bytes& outcome, const DeviceId& device, const RecordContext& context,
                                    DeliveryDone done) {
  auto pending = std::make_shared<Pending>();
  pending->topic = section_.events;
  pending->key = device.str();
  pending->value = outcome;
  pending->headers = headers_for(context);
  pending->headers.add(headers::kCommandOffset, format_command_offset(context.position));
  pending->done = std::move(done);
  produce(std::move(pending));
}

void ActuatorGateway::write_dead_letter(const Bytes& payload, std::string_view topic, std::string_view error,
                                        std::string_view detail, std::string_view correlation) {
  std::vector<std::string_view> captures;
  auto pending = std::make_shared<Pending>();
  pending->topic = section_.dead_letter;
  if (section_.response.match(topic, captures) && !captures.empty()) pending->key = std::string(captures.front());
  pending->value = payload;
  pending->headers = headers::RecordHeaders::for_new_record(config_.gateway.id);
  pending->headers.add(headers::kSource, topic);
  pending->headers.add(headers::kError, error);
  pending->headers.add(headers::kErrorDetail, detail);
  if (!correlation.empty()) pending->headers.add(headers::kMqttCorrelationData, correlation);
  pending->done = [this](const Delivery& delivery) {
    std::uint64_t suppressed = 0;
    if (!delivery.ok && retry_log_.allow(suppressed)) {
      log::error("actuator", "{}: dead letter not written: {} ({} more since the last line)", section_.name,
                 delivery.error, suppressed);
    }
  };
  produce(std::move(pending));
}

void ActuatorGateway::send_request(const DeviceId& device, const InteractionId& interaction, const Bytes& request,
                                   std::string_view traceparent, std::function<void(bool, std::string)> done) {
  auto message =
      mqtt::message::create(section_.request.render({device.str()}), request.data(), request.size(), 1, false);
  mqtt::properties properties{{mqtt::property::RESPONSE_TOPIC, section_.response.render({device.str()})},
                              {mqtt::property::CORRELATION_DATA, mqtt::binary(interaction.str())}};
  if (!traceparent.empty()) {
    properties.add({mqtt::property::USER_PROPERTY, std::string(headers::kTraceparent), std::string(traceparent)});
  }
  message->set_properties(properties);
  window_.submit([this, message, done = std::move(done)] {
    auto finished = [this, done](bool ok, std::string error) {
      window_.done();
      done(ok, std::move(error));
    };
    auto* listener = new PostingPublish(mailbox_, finished);
    try {
      mqtt_.client().publish(message, nullptr, *listener);
    } catch (const mqtt::exception& failure) {
      delete listener;
      boost::asio::post(io_, [finished, what = std::string(failure.what())] { finished(false, what); });
    }
  });
}

std::unique_ptr<Timer> ActuatorGateway::make_timer() { return std::make_unique<AsioTimer>(io_); }
bool ActuatorGateway::session_up() const { return mqtt_.connected(); }
bool ActuatorGateway::device_offline(const DeviceId& device) const { return presence_.is_offline(device.str()); }
void ActuatorGateway::commit(const OffsetTracker::Offsets& offsets) {
  if (commands_) commands_->commit_async(offsets);
}
void ActuatorGateway::job_finished() { job_slots_.release(); }
std::int64_t ActuatorGateway::now_ms() const { return unix_ms(); }

void ActuatorGateway::log_stats() const {
  protocol_.log_stats();
  if (const Readiness readiness = ready(); !readiness.ready()) log::info("actuator", "{}", readiness.text());
}

}  // namespace archer::actuators
