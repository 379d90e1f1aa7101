#include "archer/actuators/gateway.h"

#include <chrono>
#include <condition_variable>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <fmt/format.h>
#include <mqtt/async_client.h>

#include "archer/core/clock.h"
#include "archer/core/log.h"
#include "archer/core/uuid.h"
#include "archer/transport/kafka_headers.h"

namespace archer::actuators {
namespace {

OutcomeStatus outcome_of(ResponseStatus status) {
  switch (status) {
    case ResponseStatus::OK: return OutcomeStatus::SUCCEEDED;
    case ResponseStatus::REJECTED: return OutcomeStatus::REJECTED;
    case ResponseStatus::ERROR: return OutcomeStatus::FAILED;
  }
  return OutcomeStatus::FAILED;
}

}  // namespace

// Lets threads that outlive a moment of the gateway (delivery reports, publish completions)
// post to its loop, and makes those posts no-ops once the gateway is gone.
class LoopMailbox {
 public:
  explicit LoopMailbox(boost::asio::io_context& io) : io_(&io) {}
  void post(std::function<void()> work) {
    std::lock_guard lock(mutex_);
    if (io_ != nullptr) boost::asio::post(*io_, std::move(work));
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

class PostingDelivery : public transport::DeliveryListener {
 public:
  PostingDelivery(std::shared_ptr<LoopMailbox> mailbox, std::function<void(bool)> done)
      : mailbox_(std::move(mailbox)), done_(std::move(done)) {}
  void on_delivery(const RdKafka::Message& message) override {
    const bool ok = message.err() == RdKafka::ERR_NO_ERROR;
    if (!ok) log::error("actuator", "a record to {} was not delivered: {}", message.topic_name(), message.errstr());
    mailbox_->post([done = std::move(done_), ok] {
      if (done) done(ok);
    });
    delete this;
  }

 private:
  std::shared_ptr<LoopMailbox> mailbox_;
  std::function<void(bool)> done_;
};

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
    mailbox_->post([done = std::move(done_), ok, error = std::move(error)]() mutable { done(ok, std::move(error)); });
    delete this;
  }
  std::shared_ptr<LoopMailbox> mailbox_;
  std::function<void(bool, std::string)> done_;
};

}  // namespace

struct ActuatorGateway::Job {
  std::int32_t partition = 0;
  std::int64_t offset = 0;
  std::string key;
  std::string record_id;    // the command record's archer-id: causation of everything it causes
  std::string traceparent;  // W3C trace context, carried to the device and back
  Bytes raw;
  std::optional<Command> command;
  bool queued = false;
};

struct ActuatorGateway::Interaction {
  Interaction(boost::asio::io_context& io, std::shared_ptr<Job> owner) : job(std::move(owner)), timer(io) {}
  std::shared_ptr<Job> job;
  std::string id;
  std::uint32_t attempt = 0;
  std::uint32_t max_attempts = 1;
  std::int64_t opened_ms = 0;
  bool waiting_online = false;
  bool closed = false;
  Bytes response;
  boost::asio::steady_timer timer;
};

ActuatorGateway::ActuatorGateway(const Config& config, const ActuatorSection& section,
                                 transport::KafkaProducer& producer, transport::MqttSession& mqtt,
                                 PresenceTracker& presence, Metrics& metrics)
    : config_(config), section_(section), producer_(producer), mqtt_(mqtt), presence_(presence) {
  const Labels labels{{"section", section.name}};
  auto outcome_counter = [&](const char* status) {
    return &metrics.counter("archer_actuator_outcomes_total", "Command outcomes written to the event log",
                            {{"section", section.name}, {"status", status}});
  };
  counters_ = Counters{
      &metrics.counter("archer_actuator_commands_total", "Commands read from the command log", labels),
      outcome_counter("SUCCEEDED"),
      outcome_counter("REJECTED"),
      outcome_counter("TIMED_OUT"),
      outcome_counter("FAILED"),
      outcome_counter("EXPIRED"),
      &metrics.counter("archer_actuator_resumed_total", "Interactions resumed from the transaction log", labels),
      &metrics.counter("archer_actuator_late_responses_total", "Responses after their interaction closed, or repeated", labels),
      &metrics.counter("archer_actuator_unmatched_responses_total", "Responses matching no interaction", labels),
      &metrics.gauge("archer_actuator_active_devices", "Devices with an exchange under way", labels),
  };
  mailbox_ = std::make_shared<LoopMailbox>(io_);
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
  const MQTTProperties& raw = properties.c_struct();
  for (int i = 0; i < raw.count; ++i) {
    const MQTTProperty& property = raw.array[i];
    if (property.identifier == MQTTPROPERTY_CODE_USER_PROPERTY &&
        std::string_view(property.value.data.data, static_cast<std::size_t>(property.value.data.len)) == headers::kTraceparent) {
      traceparent.assign(property.value.value.data, static_cast<std::size_t>(property.value.value.len));
    }
  }
  const auto& payload = message->get_payload_ref();
  Bytes bytes(reinterpret_cast<const std::uint8_t*>(payload.data()),
              reinterpret_cast<const std::uint8_t*>(payload.data()) + payload.size());
  mailbox_->post([this, topic = message->get_topic(), correlation = std::move(correlation), bytes = std::move(bytes),
                  traceparent = std::move(traceparent)]() mutable {
    on_response(topic, correlation, std::move(bytes), std::move(traceparent));
  });
  return true;
}

bool ActuatorGateway::start(std::string& error) {
  if (!load_view(config_.kafka, section_.transactions, section_.events, view_, error)) {
    error = fmt::format("actuator '{}': {}", section_.name, error);
    return false;
  }
  const std::string group = fmt::format("archer.{}.{}", config_.gateway.id, section_.name);
  commands_ = transport::KafkaReader::open(config_.kafka, section_.commands, group,
                                           transport::KafkaReader::Start::committed, error);
  if (!commands_) {
    error = fmt::format("actuator '{}': command log: {}", section_.name, error);
    return false;
  }
  log::info("actuator", "{}: {} exchange(s) known from {}; consuming {} as {}", section_.name, view_.size(),
            section_.transactions, section_.commands, group);
  presence_.on_online([mailbox = mailbox_, this](const std::string& device) {
    mailbox->post([this, device] { on_device_online(device); });
  });
  mqtt_.add_ready_listener([mailbox = mailbox_, this] { mailbox->post([this] { on_device_online(""); }); });
  loop_thread_ = std::thread([this] {
    auto work = boost::asio::make_work_guard(io_);
    io_.run();
  });
  consumer_thread_ = std::thread([this] { consume(); });
  return true;
}

void ActuatorGateway::stop(std::chrono::milliseconds drain) {
  if (stopping_.exchange(true)) return;
  if (consumer_thread_.joinable()) consumer_thread_.join();
  if (!loop_thread_.joinable()) return;
  // Running exchanges get `drain` to finish; the rest resume from the log at the next start.
  std::mutex mutex;
  std::condition_variable idle;
  bool done = false;
  const auto deadline = std::chrono::steady_clock::now() + drain;
  std::function<void()> check = [&] {
    if (busy_devices_.empty() || std::chrono::steady_clock::now() >= deadline) {
      std::lock_guard lock(mutex);
      done = true;
      idle.notify_all();
      return;
    }
    auto timer = std::make_shared<boost::asio::steady_timer>(io_, std::chrono::milliseconds(20));
    timer->async_wait([&check, timer](const boost::system::error_code&) { check(); });
  };
  boost::asio::post(io_, check);
  {
    std::unique_lock lock(mutex);
    idle.wait(lock, [&] { return done; });
  }
  if (!busy_devices_.empty()) {
    log::warn("actuator", "{}: {} exchange(s) unfinished at stop; they resume at the next start", section_.name,
              busy_devices_.size());
  }
  commit();
  io_.stop();
  loop_thread_.join();
}

void ActuatorGateway::consume() {
  commands_->read(
      [this](const RdKafka::Message& message) {
        // Bounded hand-over: at most job_slots_ commands wait in the loop.
        while (!job_slots_.try_acquire_for(std::chrono::milliseconds(100))) {
          if (stopping_) return;
        }
        auto job = std::make_shared<Job>();
        job->partition = message.partition();
        job->offset = message.offset();
        if (message.key() != nullptr) job->key = *message.key();
        const auto found = transport::headers_of(message);
        job->record_id = found.get(headers::kId);
        job->traceparent = found.get(headers::kTraceparent);
        job->raw.assign(static_cast<const std::uint8_t*>(message.payload()),
                        static_cast<const std::uint8_t*>(message.payload()) + message.len());
        job->command = decode_command(job->raw);
        mailbox_->post([this, job] { on_command(job); });
      },
      true, [this] { return stopping_.load(); });
}

void ActuatorGateway::on_command(std::shared_ptr<Job> job) {
  counters_.commands->add();
  unfinished_offsets_[job->partition].insert(job->offset);
  auto& next = next_offsets_[job->partition];
  next = std::max(next, job->offset + 1);
  if (!job->command || job->command->device.empty()) {
    const std::string id = job->command ? job->command->id : job->record_id;
    log::warn("actuator", "{}: record at {}:{} is not a valid Command; outcome FAILED", section_.name, job->partition,
              job->offset);
    emit_outcome(job, encode(Outcome{id, "", job->key, OutcomeStatus::FAILED, {}, 0, "not a valid Command"}));
    return;
  }
  if (job->record_id.empty()) job->record_id = job->command->id;
  const std::string& id = job->command->id;
  if (view_.has_outcome(id)) {
    finish(job);  // done before a restart: its outcome is in the event log
    return;
  }
  if (const Exchange* exchange = view_.by_command(id); exchange != nullptr && exchange->closed) {
    emit_outcome(job, *exchange->closed);  // CLOSED, but the outcome did not make it
    return;
  }
  job->queued = true;
  device_queues_[job->command->device].push_back(job);
  pump();
}

void ActuatorGateway::pump() {
  for (auto& [device, queue] : device_queues_) {
    if (stopping_ || static_cast<int>(busy_devices_.size()) >= section_.max_concurrent_devices) return;
    if (queue.empty() || busy_devices_.count(device) != 0) continue;
    busy_devices_.insert(device);
    counters_.active->set(static_cast<std::int64_t>(busy_devices_.size()));
    begin(queue.front());
  }
}

void ActuatorGateway::begin(const std::shared_ptr<Job>& job) {
  const Command& command = *job->command;
  const Exchange* existing = view_.by_command(command.id);
  auto interaction = std::make_shared<Interaction>(io_, job);
  const bool expired = command.deadline_ms != 0 && unix_ms() > command.deadline_ms;
  if (expired && existing == nullptr) {
    emit_outcome(job, encode(Outcome{command.id, "", command.device, OutcomeStatus::EXPIRED, {}, 0,
                                     "deadline passed before the command was sent"}));
    return;
  }
  if (existing != nullptr) {
    counters_.resumed->add();
    interaction->id = existing->interaction_id;
    interaction->attempt = existing->attempts;
    interaction->opened_ms = existing->opened_ms;
    interaction->max_attempts = std::max<std::uint32_t>(static_cast<std::uint32_t>(section_.retries) + 1, existing->attempts + 1);
    interactions_[interaction->id] = interaction;
    log::info("actuator", "{}: resuming interaction {} of command {} (attempt {})", section_.name, interaction->id,
              command.id, existing->attempts);
    if (existing->response) {
      interaction->response = *existing->response;
      const auto response = decode_device_response(interaction->response);
      close(interaction, response ? outcome_of(response->status) : OutcomeStatus::FAILED, response ? response->detail : "");
    } else if (expired) {
      close(interaction, OutcomeStatus::TIMED_OUT, "deadline passed before the device answered");
    } else {
      send_attempt(interaction);
    }
    return;
  }
  interaction->id = new_record_id().to_string();
  interaction->opened_ms = unix_ms();
  interaction->max_attempts = static_cast<std::uint32_t>(section_.retries) + 1;
  interactions_[interaction->id] = interaction;
  // Nothing reaches the device before Kafka holds the OPENED record.
  record(interaction, Phase::OPENED, 0, job->raw, "", [this, interaction](bool ok) {
    if (ok) send_attempt(interaction);
    else log::error("actuator", "{}: OPENED of command {} not stored; it resumes at the next start", section_.name,
                    interaction->job->command->id);
  });
}

void ActuatorGateway::send_attempt(const std::shared_ptr<Interaction>& interaction) {
  if (interaction->closed) return;
  const Command& command = *interaction->job->command;
  if (!mqtt_.connected() || presence_.is_offline(command.device)) {
    // Wait for the device (or for the gateway's own MQTT session) instead of burning retries:
    // until the deadline, or the whole retry budget.
    if (!interaction->waiting_online) {
      interaction->waiting_online = true;
      const auto budget = command.deadline_ms != 0
                              ? std::chrono::milliseconds(std::max<std::int64_t>(0, command.deadline_ms - unix_ms()))
                              : section_.timeout * static_cast<int>(interaction->max_attempts);
      interaction->timer.expires_after(budget);
      interaction->timer.async_wait([this, interaction, attempt = interaction->attempt](const boost::system::error_code& ec) {
        if (!ec) on_timeout(interaction, attempt);
      });
      log::info("actuator", "{}: {} is offline; command {} waits", section_.name,
                mqtt_.connected() ? "device " + command.device : std::string("the MQTT session"), command.id);
    }
    return;
  }
  interaction->waiting_online = false;
  const std::uint32_t attempt = ++interaction->attempt;
  const Bytes request = encode(DeviceCommand{interaction->id, command.action, command.args});
  const std::string request_topic = section_.request.render({command.device});
  const std::string response_topic = section_.response.render({command.device});

  auto message = mqtt::message::create(request_topic, request.data(), request.size(), 1, false);
  mqtt::properties properties{{mqtt::property::RESPONSE_TOPIC, response_topic},
                              {mqtt::property::CORRELATION_DATA, mqtt::binary(interaction->id)}};
  if (!interaction->job->traceparent.empty()) {
    properties.add({mqtt::property::USER_PROPERTY, std::string(headers::kTraceparent), interaction->job->traceparent});
  }
  message->set_properties(properties);
  publish(message, [this, interaction, attempt](bool ok, std::string error) {
    on_published(interaction, attempt, ok, std::move(error));
  });
  record(interaction, Phase::SENT, attempt, request, "");
  interaction->timer.expires_after(section_.timeout);
  interaction->timer.async_wait([this, interaction, attempt](const boost::system::error_code& ec) {
    if (!ec) on_timeout(interaction, attempt);
  });
}

void ActuatorGateway::publish(const mqtt::message_ptr& message, std::function<void(bool, std::string)> done) {
  if (publishes_in_flight_ >= kPublishWindow) {
    waiting_publishes_.emplace_back(message, std::move(done));
    return;
  }
  ++publishes_in_flight_;
  auto* listener = new PostingPublish(mailbox_, [this, done](bool ok, std::string error) {
    --publishes_in_flight_;
    done(ok, std::move(error));
    if (!waiting_publishes_.empty()) {
      auto [next, next_done] = std::move(waiting_publishes_.front());
      waiting_publishes_.pop_front();
      publish(next, std::move(next_done));
    }
  });
  try {
    mqtt_.client().publish(message, nullptr, *listener);
  } catch (const mqtt::exception& failure) {
    delete listener;
    --publishes_in_flight_;
    boost::asio::post(io_, [done = std::move(done), what = std::string(failure.what())] { done(false, what); });
  }
}

void ActuatorGateway::on_published(const std::shared_ptr<Interaction>& interaction, std::uint32_t attempt, bool ok,
                                   std::string error) {
  if (ok || interaction->closed || attempt != interaction->attempt) return;
  record(interaction, Phase::FAILED, attempt, {}, "publish failed: " + error);
  close(interaction, OutcomeStatus::FAILED, "publish to the device failed: " + error);
}

void ActuatorGateway::on_timeout(const std::shared_ptr<Interaction>& interaction, std::uint32_t attempt) {
  if (interaction->closed || attempt != interaction->attempt) return;
  if (interaction->waiting_online) {
    const bool device_offline = presence_.is_offline(interaction->job->command->device);
    record(interaction, Phase::TIMED_OUT, attempt, {}, device_offline ? "device offline" : "MQTT session down");
    close(interaction, OutcomeStatus::TIMED_OUT,
          device_offline ? "device offline until the deadline" : "no MQTT connection until the deadline");
    return;
  }
  if (interaction->attempt < interaction->max_attempts) {
    send_attempt(interaction);  // the same interaction id: the device answers a repeat without acting twice
    return;
  }
  record(interaction, Phase::TIMED_OUT, attempt, {}, fmt::format("no response after {} attempt(s)", attempt));
  close(interaction, OutcomeStatus::TIMED_OUT, fmt::format("no response after {} attempt(s)", attempt));
}

void ActuatorGateway::on_device_online(const std::string& device) {
  // An empty device: the MQTT session itself is back.
  for (auto& [id, interaction] : interactions_) {
    if (interaction->waiting_online && !interaction->closed && (device.empty() || interaction->job->command->device == device)) {
      interaction->timer.cancel();
      send_attempt(interaction);
    }
  }
}

void ActuatorGateway::on_response(const std::string& topic, const std::string& correlation, Bytes payload,
                                  std::string traceparent) {
  const auto response = decode_device_response(payload);
  if (!response) {
    counters_.unmatched_responses->add();
    log::warn("actuator", "{}: message on {} is not a DeviceResponse", section_.name, topic);
    return;
  }
  const std::string& id = correlation.empty() ? response->interaction_id : correlation;
  auto live = interactions_.find(id);
  if (live != interactions_.end() && !live->second->closed && live->second->response.empty()) {
    const auto& interaction = live->second;
    interaction->timer.cancel();
    interaction->response = payload;
    record(interaction, Phase::RESPONDED, interaction->attempt, std::move(payload), "");
    close(interaction, outcome_of(response->status), response->detail);
    return;
  }
  const Exchange* exchange = view_.by_interaction(id);
  if (exchange == nullptr) {
    counters_.unmatched_responses->add();
    log::warn("actuator", "{}: response on {} for unknown interaction '{}'", section_.name, topic, id);
    return;
  }
  // Not live. A repeat of an answer (duplicate) or an answer after the interaction closed without one
  // (late): recorded, changes nothing. The first answer
  // to an interaction that is open in the log but not resumed yet (it arrived while the gateway
  // was down): recorded as the response, so resuming closes it without asking the device again.
  const bool first_answer = !exchange->closed && !exchange->response && live == interactions_.end();
  if (!first_answer) counters_.late_responses->add();
  Transaction answer{exchange->interaction_id, exchange->command_id, exchange->device, Phase::RESPONDED,
                     exchange->attempts, std::move(payload), unix_ms(),
                     first_answer ? "" : exchange->response ? "duplicate" : "late"};
  view_.apply(answer);
  auto record_headers = headers::RecordHeaders::for_new_record(config_.gateway.id);
  record_headers.add(headers::kSource, topic);
  if (!traceparent.empty()) record_headers.add(headers::kTraceparent, traceparent);
  produce(section_.transactions, exchange->device, encode(answer), record_headers, {});
}

void ActuatorGateway::close(const std::shared_ptr<Interaction>& interaction, OutcomeStatus status, std::string detail) {
  interaction->closed = true;
  interaction->timer.cancel();
  const auto& job = interaction->job;
  const Bytes outcome = encode(Outcome{job->command->id, interaction->id, job->command->device, status,
                                       interaction->response, unix_ms() - interaction->opened_ms, std::move(detail)});
  record(interaction, Phase::CLOSED, interaction->attempt, outcome, "", [this, job, outcome](bool ok) {
    if (ok) emit_outcome(job, outcome);
    else log::error("actuator", "{}: CLOSED of command {} not stored; it resumes at the next start", section_.name,
                    job->command->id);
  });
}

void ActuatorGateway::emit_outcome(const std::shared_ptr<Job>& job, Bytes outcome) {
  const auto decoded = decode_outcome(outcome);
  const OutcomeStatus status = decoded ? decoded->status : OutcomeStatus::FAILED;
  produce(section_.events, job->command ? job->command->device : job->key, outcome, headers_for(*job),
          [this, job, status](bool ok) {
            if (!ok) return;  // not committed: the command is taken again at the next start
            switch (status) {
              case OutcomeStatus::SUCCEEDED: counters_.succeeded->add(); break;
              case OutcomeStatus::REJECTED: counters_.rejected->add(); break;
              case OutcomeStatus::TIMED_OUT: counters_.timed_out->add(); break;
              case OutcomeStatus::EXPIRED: counters_.expired->add(); break;
              default: counters_.failed->add(); break;
            }
            if (job->command) view_.note_outcome(job->command->id);
            finish(job);
          });
}

void ActuatorGateway::finish(const std::shared_ptr<Job>& job) {
  unfinished_offsets_[job->partition].erase(job->offset);
  if (job->queued) {
    const std::string& device = job->command->device;
    auto& queue = device_queues_[device];
    if (!queue.empty() && queue.front() == job) queue.pop_front();
    if (queue.empty()) device_queues_.erase(device);
    busy_devices_.erase(device);
    counters_.active->set(static_cast<std::int64_t>(busy_devices_.size()));
    for (auto it = interactions_.begin(); it != interactions_.end();) {
      it = it->second->job == job ? interactions_.erase(it) : std::next(it);
    }
  }
  job_slots_.release();
  commit();
  pump();
}

void ActuatorGateway::commit() {
  // Per partition, everything below the oldest unfinished command is done.
  std::vector<std::pair<std::int32_t, std::int64_t>> offsets;
  for (const auto& [partition, next] : next_offsets_) {
    const auto& unfinished = unfinished_offsets_[partition];
    const std::int64_t committable = unfinished.empty() ? next : *unfinished.begin();
    auto& committed = committed_offsets_[partition];
    if (committable > committed) {
      committed = committable;
      offsets.emplace_back(partition, committable);
    }
  }
  if (commands_) commands_->commit_async(offsets);
}

headers::RecordHeaders ActuatorGateway::headers_for(const Job& job, std::string_view source) const {
  auto out = headers::RecordHeaders::for_new_record(config_.gateway.id);
  if (!source.empty()) out.add(headers::kSource, source);
  if (!job.record_id.empty()) out.add(headers::kCausation, job.record_id);
  if (!job.traceparent.empty()) out.add(headers::kTraceparent, job.traceparent);
  return out;
}

void ActuatorGateway::record(const std::shared_ptr<Interaction>& interaction, Phase phase, std::uint32_t attempt,
                             Bytes payload, std::string detail, std::function<void(bool)> done) {
  const Job& job = *interaction->job;
  Transaction entry{interaction->id, job.command->id, job.command->device, phase, attempt, std::move(payload),
                    unix_ms(), std::move(detail)};
  const Bytes bytes = encode(entry);
  view_.apply(entry);
  const std::string source = phase == Phase::SENT        ? section_.request.render({job.command->device})
                             : phase == Phase::RESPONDED ? section_.response.render({job.command->device})
                                                         : std::string();
  produce(section_.transactions, job.command->device, bytes, headers_for(job, source), std::move(done));
}

void ActuatorGateway::produce(const std::string& topic, const std::string& key, const Bytes& value,
                              const headers::RecordHeaders& record_headers, std::function<void(bool)> done) {
  static const std::atomic<bool> keep_waiting{false};
  auto* listener = new PostingDelivery(mailbox_, std::move(done));
  const RdKafka::ErrorCode err = producer_.produce({topic, key, value, &record_headers, listener}, keep_waiting);
  if (err != RdKafka::ERR_NO_ERROR) {
    log::error("actuator", "{}: cannot produce to {}: {}", section_.name, topic, RdKafka::err2str(err));
    delete listener;
  }
}

void ActuatorGateway::log_stats() const {
  log::info("actuator", "{}: commands {} succeeded {} rejected {} timed out {} failed {} expired {} resumed {} late {} unmatched {}",
            section_.name, counters_.commands->value(), counters_.succeeded->value(), counters_.rejected->value(),
            counters_.timed_out->value(), counters_.failed->value(), counters_.expired->value(),
            counters_.resumed->value(), counters_.late_responses->value(), counters_.unmatched_responses->value());
}

}  // namespace archer::actuators
