#include "archer/actuators/replay.h"

#include <unordered_set>

#include <fmt/format.h>

#include "archer/core/headers.h"
#include "archer/core/id_check.h"
#include "archer/core/log.h"
#include "archer/transport/kafka_headers.h"
#include "archer/transport/kafka_producer.h"
#include "archer/transport/kafka_reader.h"

namespace archer::actuators {
namespace {

using protocol::Command;
using protocol::OutcomeStatus;

constexpr auto kFlushTimeout = std::chrono::seconds(60);

class DeliveryCount : public transport::DeliveryListener {
 public:
  void on_delivery(const RdKafka::Message&, RdKafka::ErrorCode err) override {
    if (err != RdKafka::ERR_NO_ERROR) ++failed;
  }
  std::atomic<std::uint64_t> failed{0};
};

struct ReadCommand {
  std::optional<Command> command;
  std::string record_id;
  std::string traceparent;
};

std::span<const std::uint8_t> value_of(const RdKafka::Message& message) {
  return {static_cast<const std::uint8_t*>(message.payload()), message.len()};
}

// The exchanges of the commands in `wanted`, from the whole transaction log.
bool load_exchanges(const Config& config, const ActuatorSection& section, const std::unordered_set<CommandId>& wanted,
                    TransactionView& view, std::string& error) {
  auto reader = transport::KafkaReader::open(config.kafka, section.transactions, "",
                                             transport::KafkaReader::Start::beginning, error, true);
  if (!reader) return false;
  reader->read(
      [&](const RdKafka::Message& message) {
        auto record = protocol::decode_transaction(value_of(message));
        if (record && wanted.count(record->command_id) != 0) view.apply(*record);
      },
      false, [] { return false; });
  if (reader->stalled()) {
    error = fmt::format("{}: no progress reading it", section.transactions);
    return false;
  }
  return true;
}

}  // namespace

Bytes replay_outcome(const Command& command, const TransactionView& view) {
  const Exchange* exchange = view.by_command(command.id);
  if (exchange != nullptr && exchange->closed) return *exchange->closed;
  if (exchange != nullptr && exchange->response) {
    const auto response = protocol::decode_device_response(*exchange->response);
    const OutcomeStatus status = response ? protocol::outcome_of(response->status) : OutcomeStatus::FAILED;
    return encode(protocol::Outcome{command.id, exchange->interaction_id, command.device, status, *exchange->response,
                                    0, response ? response->detail : ""});
  }
  // A command whose device is no valid id was never sent (its live outcome was FAILED): say why.
  const std::string bad_device = id_problem(command.device.str());
  return encode(protocol::Outcome{command.id,
                                  exchange != nullptr ? exchange->interaction_id : InteractionId(),
                                  command.device,
                                  OutcomeStatus::NOT_EXECUTED,
                                  {},
                                  0,
                                  exchange != nullptr      ? "exchange opened but never answered"
                                  : command.device.empty() ? "not a valid Command: its device is empty"
                                  : !bad_device.empty()    ? fmt::format("not a valid Command: its device '{}' {}",
                                                                         printable_id(command.device.str()), bad_device)
                                                           : "no recorded exchange"});
}

bool replay(const Config& config, const ActuatorSection& section, bool from_beginning, ReplaySummary& summary,
            std::string& error, std::size_t window) {
  auto producer = transport::KafkaProducer::create(config.kafka, error);
  if (!producer) return false;
  const std::string group = fmt::format("archer.{}.{}.replay", config.gateway.id, section.name);
  auto commands = transport::KafkaReader::open(
      config.kafka, section.commands, group,
      from_beginning ? transport::KafkaReader::Start::beginning : transport::KafkaReader::Start::committed, error);
  if (!commands) return false;

  const std::string replay_topic = section.events + ".replay";
  DeliveryCount deliveries;
  std::atomic<bool> never{false};
  bool produce_failed = false;
  while (!commands->caught_up()) {
    // One window: up to `window` commands, then the exchanges of just those.
    std::vector<ReadCommand> batch;
    std::unordered_set<CommandId> wanted;
    commands->read(
        [&](const RdKafka::Message& message) {
          ReadCommand read;
          read.command = protocol::decode_command(value_of(message));
          const auto found = transport::headers_of(message);
          read.record_id = found.get(headers::kId);
          read.traceparent = found.get(headers::kTraceparent);
          if (read.command) wanted.insert(read.command->id);
          batch.push_back(std::move(read));
        },
        false, [&] { return batch.size() >= window; });
    if (commands->stalled()) {
      error = fmt::format("{}: no progress reading it", section.commands);
      return false;
    }
    ++summary.windows;
    TransactionView view;
    if (!load_exchanges(config, section, wanted, view, error)) return false;
    for (const ReadCommand& read : batch) {
      ++summary.commands;
      if (!read.command) {
        ++summary.unreadable;
        continue;
      }
      const Command& command = *read.command;
      const Bytes outcome = replay_outcome(command, view);
      const Exchange* exchange = view.by_command(command.id);
      if (exchange != nullptr && (exchange->closed || exchange->response))
        ++summary.from_log;
      else
        ++summary.not_executed;
      auto record_headers = headers::RecordHeaders::for_new_record(config.gateway.id);
      record_headers.add(headers::kCausation, read.record_id.empty() ? command.id.str() : read.record_id);
      if (!read.traceparent.empty()) record_headers.add(headers::kTraceparent, read.traceparent);
      if (producer->produce({replay_topic, command.device.str(), outcome, &record_headers, &deliveries}, never) !=
          RdKafka::ERR_NO_ERROR) {
        produce_failed = true;
      }
    }
    if (batch.empty()) break;
  }

  if (producer->flush(kFlushTimeout) > 0 || deliveries.failed > 0 || produce_failed) {
    error = fmt::format("not every replayed outcome reached {}; offsets not committed", replay_topic);
    return false;
  }
  if (!commands->commit(error)) return false;
  log::info("replay", "{}: {} command(s) in {} window(s): {} answered from {}, {} not executed, {} unreadable -> {}",
            section.name, summary.commands, summary.windows, summary.from_log, section.transactions,
            summary.not_executed, summary.unreadable, replay_topic);
  return true;
}

}  // namespace archer::actuators
