#include "archer/actuators/gateway_protocol.h"

#include <algorithm>

#include <fmt/format.h>

#include "archer/core/headers.h"
#include "archer/core/id_check.h"
#include "archer/core/uuid.h"

namespace archer::actuators {

using protocol::decode_device_response;
using protocol::decode_outcome;
using protocol::DeviceCommand;
using protocol::encode;

struct GatewayProtocol::Interaction {
  explicit Interaction(std::shared_ptr<Job> owner) : job(std::move(owner)) {}
  std::shared_ptr<Job> job;
  InteractionId id;
  std::uint32_t attempt = 0;
  std::uint32_t max_attempts = 1;
  std::int64_t opened_ms = 0;
  bool waiting_online = false;
  bool closed = false;
  Bytes response;
  std::unique_ptr<Timer> timer;

  const Command& command() const { return *job->command; }
};

GatewayProtocol::GatewayProtocol(const ActuatorSection& section, ProtocolEffects& effects, Metrics& metrics)
    : section_(section), effects_(effects) {
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
      &metrics.counter("archer_actuator_late_responses_total", "Responses after their interaction closed, or repeated",
                       labels),
      &metrics.counter("archer_actuator_unmatched_responses_total", "Responses matching no interaction", labels),
      &metrics.counter("archer_actuator_invalid_responses_total",
                       "Device answers that are not a valid DeviceResponse (sent to the dead-letter topic)", labels),
      &metrics.counter("archer_actuator_wrong_device_responses_total",
                       "Answers to an interaction on another device's response topic (sent to the dead-letter topic)",
                       labels),
      &metrics.counter("archer_actuator_invalid_commands_total", "Command-log records that are not a valid Command",
                       labels),
      &metrics.counter("archer_actuator_records_refused_total",
                       "Transaction-log records Kafka refused for good (the exchange went on without them)", labels),
      &metrics.counter("archer_actuator_outcomes_lost_total",
                       "Outcomes Kafka refused for good (the command was given up)", labels),
      &metrics.gauge("archer_actuator_active_devices", "Devices with an exchange under way", labels),
      &metrics.histogram("archer_actuator_round_trip_seconds",
                         "From reading a command to Kafka's acknowledgement of its outcome in the event log", labels),
  };
}

GatewayProtocol::~GatewayProtocol() {
  for (auto& [id, interaction] : interactions_) {
    if (interaction->timer) interaction->timer->cancel();
  }
}

template <class... Args>
void GatewayProtocol::log_limited(log::RateLimit& limit, log::Level level, fmt::format_string<Args...> text,
                                  Args&&... args) {
  std::uint64_t suppressed = 0;
  if (level < log::level() || !limit.allow(suppressed)) return;
  log::write(level, "actuator",
             fmt::format("{}: {} ({} similar lines suppressed)", section_.name,
                         fmt::format(text, std::forward<Args>(args)...), suppressed));
}

void GatewayProtocol::restore(TransactionView view, LogOffsets transactions, LogOffsets events,
                              const std::map<std::int32_t, std::int64_t>& committed) {
  view_ = std::move(view);
  transactions_written_ = std::move(transactions);
  events_written_ = std::move(events);
  for (const auto& [partition, offset] : committed) offsets_.start_at(partition, offset);
}

void GatewayProtocol::note_written(LogOffsets& cover, const Delivery& delivery) {
  if (!delivery.ok || delivery.partition < 0) return;
  auto& next = cover[delivery.partition];
  next = std::max(next, delivery.offset + 1);
}

RecordContext GatewayProtocol::context_of(const Job& job, std::string_view source) const {
  return RecordContext{job.record_id, job.traceparent, source, job.position};
}

void GatewayProtocol::on_command(std::shared_ptr<Job> job) {
  counters_.commands->add();
  job->read_ms = effects_.now_ms();
  offsets_.taken(job->position.partition, job->position.offset);
  // A device that is not a valid id is never addressed: '/', '+' or '#' would make the request
  // another device's topic, or a publish the broker refuses.
  const std::string bad_device = job->command ? id_problem(job->command->device.str()) : std::string();
  if (!job->command || !bad_device.empty()) {
    counters_.invalid_commands->add();
    const std::string why =
        !job->command ? job->invalid
        : job->command->device.empty()
            ? "its device is empty"
            : fmt::format("its device '{}' {}", printable_id(job->command->device.str()), bad_device);
    log_limited(invalid_command_log_, log::Level::warn, "record at {}:{} is not a valid Command ({}); outcome FAILED",
                job->position.partition, job->position.offset, why);
    const CommandId id = job->command ? job->command->id : CommandId(job->record_id);
    emit_outcome(
        job, encode(Outcome{id, {}, DeviceId(job->key), OutcomeStatus::FAILED, {}, 0, "not a valid Command: " + why}));
    return;
  }
  if (job->record_id.empty()) job->record_id = job->command->id.str();
  const CommandId& id = job->command->id;
  view_.place(id, job->position);
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

void GatewayProtocol::stop_taking() { taking_ = false; }

void GatewayProtocol::pump() {
  for (auto& [device, queue] : device_queues_) {
    if (!taking_ || static_cast<int>(busy_devices_.size()) >= section_.max_concurrent_devices) return;
    if (queue.empty() || busy_devices_.count(device) != 0) continue;
    busy_devices_.insert(device);
    counters_.active->set(static_cast<double>(busy_devices_.size()));
    begin(queue.front());
  }
}

void GatewayProtocol::begin(const std::shared_ptr<Job>& job) {
  const Command& command = *job->command;
  const Exchange* existing = view_.by_command(command.id);
  const bool expired = command.deadline_ms != 0 && effects_.now_ms() > command.deadline_ms;
  if (expired && existing == nullptr) {
    emit_outcome(job, encode(Outcome{command.id,
                                     {},
                                     command.device,
                                     OutcomeStatus::EXPIRED,
                                     {},
                                     0,
                                     "deadline passed before the command was sent"}));
    return;
  }
  auto interaction = std::make_shared<Interaction>(job);
  interaction->timer = effects_.make_timer();
  if (existing != nullptr) {
    counters_.resumed->add();
    interaction->id = existing->interaction_id;
    interaction->attempt = existing->attempts;
    interaction->opened_ms = existing->opened_ms;
    interaction->max_attempts =
        std::max<std::uint32_t>(static_cast<std::uint32_t>(section_.retries) + 1, existing->attempts + 1);
    interactions_[interaction->id] = interaction;
    log_limited(progress_log_, log::Level::info, "resuming interaction {} of command {} (attempt {})", interaction->id,
                command.id, existing->attempts);
    if (existing->response) {
      interaction->response = *existing->response;
      const auto response = decode_device_response(interaction->response);
      close(interaction, response ? protocol::outcome_of(response->status) : OutcomeStatus::FAILED,
            response ? response->detail : "");
    } else if (expired) {
      close(interaction, OutcomeStatus::TIMED_OUT, "deadline passed before the device answered");
    } else {
      send_attempt(interaction);
    }
    return;
  }
  interaction->id = InteractionId(new_record_id().to_string());
  interaction->opened_ms = effects_.now_ms();
  interaction->max_attempts = static_cast<std::uint32_t>(section_.retries) + 1;
  interactions_[interaction->id] = interaction;
  // Nothing reaches the device before Kafka holds the OPENED record.
  record(interaction, Phase::OPENED, 0, job->raw, "", [this, interaction](bool ok, const std::string& error) {
    if (ok) {
      send_attempt(interaction);
      return;
    }
    // Kafka refused it for good (not a pause: those are waited out): no exchange can be recorded.
    interaction->closed = true;
    interaction->timer->cancel();
    emit_outcome(interaction->job, encode(Outcome{interaction->command().id,
                                                  interaction->id,
                                                  interaction->command().device,
                                                  OutcomeStatus::FAILED,
                                                  {},
                                                  0,
                                                  "the transaction log refused the command: " + error}));
  });
}

void GatewayProtocol::wait_until_reachable(const std::shared_ptr<Interaction>& interaction) {
  // Waits for the device (or for the gateway's own MQTT session) instead of spending retries: until
  // the deadline, or the whole retry budget.
  if (interaction->waiting_online) return;
  interaction->waiting_online = true;
  const Command& command = interaction->command();
  const auto budget =
      command.deadline_ms != 0
          ? std::chrono::milliseconds(std::max<std::int64_t>(0, command.deadline_ms - effects_.now_ms()))
          : section_.timeout * static_cast<int>(interaction->max_attempts);
  interaction->timer->start(budget,
                            [this, interaction, attempt = interaction->attempt] { on_timeout(interaction, attempt); });
  log_limited(progress_log_, log::Level::info, "{} is offline; command {} waits",
              effects_.session_up() ? "device " + command.device.str() : std::string("the MQTT session"), command.id);
}

void GatewayProtocol::send_attempt(const std::shared_ptr<Interaction>& interaction) {
  if (interaction->closed) return;
  const Command& command = interaction->command();
  if (!effects_.session_up() || effects_.device_offline(command.device)) {
    wait_until_reachable(interaction);
    return;
  }
  interaction->waiting_online = false;
  const std::uint32_t attempt = ++interaction->attempt;
  const Bytes request = encode(DeviceCommand{interaction->id, command.action, command.args});
  effects_.send_request(command.device, interaction->id, request, interaction->job->traceparent,
                        [this, interaction, attempt](bool ok, std::string error) {
                          on_published(interaction, attempt, ok, std::move(error));
                        });
  record(interaction, Phase::SENT, attempt, request, "");
  interaction->timer->start(section_.timeout, [this, interaction, attempt] { on_timeout(interaction, attempt); });
}

void GatewayProtocol::on_published(const std::shared_ptr<Interaction>& interaction, std::uint32_t attempt, bool ok,
                                   std::string error) {
  if (ok || interaction->closed || attempt != interaction->attempt) return;
  record(interaction, Phase::FAILED, attempt, {}, "publish failed: " + error);
  close(interaction, OutcomeStatus::FAILED, "publish to the device failed: " + error);
}

void GatewayProtocol::on_timeout(const std::shared_ptr<Interaction>& interaction, std::uint32_t attempt) {
  if (interaction->closed || attempt != interaction->attempt) return;
  if (interaction->waiting_online) {
    const bool device_offline = effects_.device_offline(interaction->command().device);
    record(interaction, Phase::TIMED_OUT, attempt, {}, device_offline ? "device offline" : "MQTT session down");
    close(interaction, OutcomeStatus::TIMED_OUT,
          device_offline ? "device offline until the deadline" : "no MQTT connection until the deadline");
    return;
  }
  if (interaction->attempt < interaction->max_attempts) {
    send_attempt(interaction);  // the same interaction id: the device answers a repeat without acting twice
    return;
  }
  const std::string why = fmt::format("no response after {} attempt(s)", attempt);
  record(interaction, Phase::TIMED_OUT, attempt, {}, why);
  close(interaction, OutcomeStatus::TIMED_OUT, why);
}

void GatewayProtocol::on_device_online(const DeviceId& device) {
  // Collected first: send_attempt may close an interaction and change the map.
  std::vector<std::shared_ptr<Interaction>> waiting;
  for (auto& [id, interaction] : interactions_) {
    if (interaction->waiting_online && !interaction->closed &&
        (device.empty() || interaction->command().device == device)) {
      waiting.push_back(interaction);
    }
  }
  for (const auto& interaction : waiting) {
    interaction->timer->cancel();
    send_attempt(interaction);
  }
}

void GatewayProtocol::reject_response(const std::string& topic, const std::string& correlation, const Bytes& payload,
                                      const std::string& why) {
  counters_.invalid_responses->add();
  log_limited(response_log_, log::Level::warn, "message on {} is not a valid DeviceResponse: {}; sent to {}", topic,
              why, section_.dead_letter);
  effects_.write_dead_letter(payload, topic, "bad_response", why, correlation);
  // An answer the gateway can pin to a live interaction closes it at once, with the reason; only
  // when it comes from the device the command was sent to (on_response says why).
  auto live = interactions_.find(InteractionId(correlation));
  if (correlation.empty() || live == interactions_.end() || live->second->closed) return;
  const auto& interaction = live->second;
  if (topic != section_.response.render({interaction->command().device.str()})) {
    counters_.wrong_device_responses->add();
    return;
  }
  record(interaction, Phase::FAILED, interaction->attempt, Bytes(payload), "invalid DeviceResponse: " + why);
  close(interaction, OutcomeStatus::FAILED, "the device answered with an invalid DeviceResponse: " + why);
}

void GatewayProtocol::refuse_wrong_device(const std::string& topic, const std::string& correlation,
                                          const Bytes& payload, const InteractionId& id, const DeviceId& addressed) {
  counters_.wrong_device_responses->add();
  const std::string why =
      fmt::format("answer to interaction {} of device {} arrived on '{}', not on that device's response topic '{}'", id,
                  addressed, printable_id(topic, 300), section_.response.render({addressed.str()}));
  log_limited(response_log_, log::Level::warn, "{}; not taken, sent to {}", why, section_.dead_letter);
  // Neither the answer nor a reason to end the exchange: the addressed device may still answer.
  effects_.write_dead_letter(payload, topic, "wrong_device", why, correlation);
}

void GatewayProtocol::on_response(const std::string& topic, const std::string& correlation, Bytes payload,
                                  std::string traceparent) {
  std::string why;
  const auto response = decode_device_response(payload, &why);
  if (!response) {
    reject_response(topic, correlation, payload, why);
    return;
  }
  const InteractionId id = correlation.empty() ? response->interaction_id : InteractionId(correlation);
  auto live = interactions_.find(id);
  const Exchange* exchange = view_.by_interaction(id);
  // Only the device the command was sent to may answer it: an interaction id is no secret (another
  // device may guess or overhear one), its response topic is, with the broker's ACL, the device's own.
  const DeviceId* addressed = live != interactions_.end() ? &live->second->command().device
                              : exchange != nullptr       ? &exchange->device
                                                          : nullptr;
  if (addressed != nullptr && topic != section_.response.render({addressed->str()})) {
    refuse_wrong_device(topic, correlation, payload, id, *addressed);
    return;
  }
  if (live != interactions_.end() && !live->second->closed && live->second->response.empty()) {
    answer(live->second, std::move(payload), *response);
    return;
  }
  if (exchange == nullptr) {
    counters_.unmatched_responses->add();
    log_limited(response_log_, log::Level::warn, "response on {} for unknown interaction '{}'", topic, id);
    return;
  }
  // Not live. The first answer to an interaction that is open in the log but not resumed yet (it
  // arrived while the gateway was down) is recorded as the response, so resuming closes it without
  // asking the device again; a repeat (duplicate) or an answer after the interaction closed without
  // one (late) is recorded and changes nothing.
  const bool first_answer =
      !exchange->closed && !exchange->answered && !exchange->finished && live == interactions_.end();
  record_unexpected_answer(*exchange, topic, std::move(payload), traceparent, first_answer);
}

void GatewayProtocol::answer(const std::shared_ptr<Interaction>& interaction, Bytes payload,
                             const protocol::DeviceResponse& response) {
  interaction->timer->cancel();
  interaction->response = payload;
  record(interaction, Phase::RESPONDED, interaction->attempt, std::move(payload), "");
  close(interaction, protocol::outcome_of(response.status), response.detail);
}

void GatewayProtocol::record_unexpected_answer(const Exchange& exchange, const std::string& topic, Bytes payload,
                                               const std::string& traceparent, bool first_answer) {
  if (!first_answer) counters_.late_responses->add();
  Transaction entry{exchange.interaction_id,
                    exchange.command_id,
                    exchange.device,
                    Phase::RESPONDED,
                    exchange.attempts,
                    std::move(payload),
                    effects_.now_ms(),
                    first_answer        ? ""
                    : exchange.answered ? "duplicate"
                                        : "late",
                    exchange.position.partition,
                    exchange.position.offset};
  const RecordContext context{"", traceparent, topic, exchange.position};
  // A finished exchange has nothing more to learn (and `exchange` must not be used past apply()).
  if (!exchange.finished) view_.apply(entry);
  effects_.write_transaction(entry, context, [this](const Delivery& delivery) {
    note_written(transactions_written_, delivery);
    if (!delivery.ok) counters_.records_refused->add();
  });
}

void GatewayProtocol::close(const std::shared_ptr<Interaction>& interaction, OutcomeStatus status, std::string detail) {
  interaction->closed = true;
  interaction->timer->cancel();
  const auto job = interaction->job;
  const Command& command = interaction->command();
  Bytes outcome = encode(Outcome{command.id, interaction->id, command.device, status, interaction->response,
                                 effects_.now_ms() - interaction->opened_ms, std::move(detail)});
  record(interaction, Phase::CLOSED, interaction->attempt, outcome, "",
         [this, job, outcome](bool, const std::string&) mutable {
           // Even when the transaction log refused CLOSED for good, the event log is the outcome's home.
           emit_outcome(job, std::move(outcome));
         });
}

void GatewayProtocol::emit_outcome(const std::shared_ptr<Job>& job, Bytes outcome) {
  const auto decoded = decode_outcome(outcome);
  const OutcomeStatus status = decoded ? decoded->status : OutcomeStatus::FAILED;
  const DeviceId device = job->command ? job->command->device : DeviceId(job->key);
  effects_.write_outcome(outcome, device, context_of(*job), [this, job, status](const Delivery& delivery) {
    note_written(events_written_, delivery);
    if (!delivery.ok) {
      counters_.outcomes_lost->add();
      log_limited(refused_log_, log::Level::error,
                  "the event log refused the outcome of the command at {}:{} for good ({}); it is given up",
                  job->position.partition, job->position.offset, delivery.error);
      finish(job);
      return;
    }
    switch (status) {
      case OutcomeStatus::SUCCEEDED:
        counters_.succeeded->add();
        break;
      case OutcomeStatus::REJECTED:
        counters_.rejected->add();
        break;
      case OutcomeStatus::TIMED_OUT:
        counters_.timed_out->add();
        break;
      case OutcomeStatus::EXPIRED:
        counters_.expired->add();
        break;
      default:
        counters_.failed->add();
        break;
    }
    counters_.round_trip->observe(static_cast<double>(std::max<std::int64_t>(0, effects_.now_ms() - job->read_ms)) /
                                  1e3);
    if (job->command) view_.note_outcome(job->command->id, job->position);
    finish(job);
  });
}

void GatewayProtocol::finish(const std::shared_ptr<Job>& job) {
  offsets_.finished(job->position.partition, job->position.offset);
  if (job->queued) {
    const DeviceId& device = job->command->device;
    auto& queue = device_queues_[device];
    if (!queue.empty() && queue.front() == job) queue.pop_front();
    if (queue.empty()) device_queues_.erase(device);
    busy_devices_.erase(device);
    counters_.active->set(static_cast<double>(busy_devices_.size()));
    for (auto it = interactions_.begin(); it != interactions_.end();) {
      it = it->second->job == job ? interactions_.erase(it) : std::next(it);
    }
  }
  effects_.job_finished();
  commit();
  pump();
}

void GatewayProtocol::commit() {
  const auto moved = offsets_.advance();
  if (moved.empty()) return;
  effects_.commit(moved);
  // Below the committed offsets nothing is read again: what the view holds there can go.
  view_.forget_below(offsets_.committed());
}

void GatewayProtocol::on_caught_up() {
  if (const std::size_t unplaced = view_.unplaced(); unplaced > 0) {
    log::info("actuator", "{}: forgetting {} exchange(s) of commands below the committed offsets", section_.name,
              unplaced);
  }
  view_.forget_unplaced();
}

void GatewayProtocol::record(const std::shared_ptr<Interaction>& interaction, Phase phase, std::uint32_t attempt,
                             Bytes payload, std::string detail, std::function<void(bool, const std::string&)> done) {
  const Job& job = *interaction->job;
  const Command& command = interaction->command();
  Transaction entry{interaction->id,
                    command.id,
                    command.device,
                    phase,
                    attempt,
                    std::move(payload),
                    effects_.now_ms(),
                    std::move(detail),
                    job.position.partition,
                    job.position.offset};
  view_.apply(entry);
  const std::string source = phase == Phase::SENT        ? section_.request.render({command.device.str()})
                             : phase == Phase::RESPONDED ? section_.response.render({command.device.str()})
                                                         : std::string();
  effects_.write_transaction(entry, context_of(job, source),
                             [this, phase, done = std::move(done)](const Delivery& delivery) {
                               note_written(transactions_written_, delivery);
                               if (!delivery.ok) {
                                 counters_.records_refused->add();
                                 log_limited(refused_log_, log::Level::error, "{} to {} refused for good: {}",
                                             protocol::name_of(phase), section_.transactions, delivery.error);
                               }
                               if (done) done(delivery.ok, delivery.error);
                             });
}

std::vector<Snapshot> GatewayProtocol::snapshot(const std::string& gateway_id) const {
  std::vector<Snapshot> out;
  if (view_.unplaced() > 0) return out;
  for (const auto& [partition, committed] : offsets_.committed()) {
    Snapshot snapshot;
    snapshot.gateway = gateway_id;
    snapshot.section = section_.name;
    snapshot.command_partition = partition;
    snapshot.committed_offset = std::max<std::int64_t>(committed, 0);
    snapshot.time_ms = effects_.now_ms();
    snapshot.transactions = transactions_written_;
    snapshot.events = events_written_;
    view_.visit(
        partition, snapshot.committed_offset, [&](const Exchange& exchange) { snapshot.exchanges.push_back(exchange); },
        [&](const CommandId& command, std::int64_t offset) { snapshot.done.emplace_back(command, offset); });
    out.push_back(std::move(snapshot));
  }
  return out;
}

void GatewayProtocol::log_stats() const {
  log::info(
      "actuator",
      "{}: commands {} succeeded {} rejected {} timed out {} failed {} expired {} resumed {} late {} unmatched {} "
      "invalid responses {} wrong device {}; {} exchange(s) and {} finished command(s) in view",
      section_.name, counters_.commands->value(), counters_.succeeded->value(), counters_.rejected->value(),
      counters_.timed_out->value(), counters_.failed->value(), counters_.expired->value(), counters_.resumed->value(),
      counters_.late_responses->value(), counters_.unmatched_responses->value(), counters_.invalid_responses->value(),
      counters_.wrong_device_responses->value(), view_.size(), view_.outcomes());
}

}  // namespace archer::actuators
