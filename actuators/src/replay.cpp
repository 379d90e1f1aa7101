#include "archer/actuators/replay.h"

#include <fmt/format.h>

#include "archer/core/clock.h"
#include "archer/core/headers.h"
#include "archer/core/log.h"
#include "archer/transport/kafka_headers.h"
#include "archer/transport/kafka_producer.h"
#include "archer/transport/kafka_reader.h"

namespace archer::actuators {
namespace {

constexpr auto kFlushTimeout = std::chrono::seconds(60);

class DeliveryCount : public transport::DeliveryListener {
 public:
  void on_delivery(const RdKafka::Message& message) override {
    if (message.err() != RdKafka::ERR_NO_ERROR) ++failed;
  }
  std::atomic<std::uint64_t> failed{0};
};

}  // namespace

Bytes replay_outcome(const Command& command, const TransactionView& view) {
  const Exchange* exchange = view.by_command(command.id);
  if (exchange != nullptr && exchange->closed) return *exchange->closed;
  if (exchange != nullptr && exchange->response) {
    const auto response = decode_device_response(*exchange->response);
    const OutcomeStatus status = !response                                   ? OutcomeStatus::FAILED
                                 : response->status == ResponseStatus::OK       ? OutcomeStatus::SUCCEEDED
                                 : response->status == ResponseStatus::REJECTED ? OutcomeStatus::REJECTED
                                                                                : OutcomeStatus::FAILED;
    return encode(Outcome{command.id, exchange->interaction_id, command.device, status, *exchange->response, 0,
                          response ? response->detail : ""});
  }
  return encode(Outcome{command.id, exchange != nullptr ? exchange->interaction_id : "", command.device,
                        OutcomeStatus::NOT_EXECUTED, {}, 0,
                        exchange != nullptr ? "exchange opened but never answered" : "no recorded exchange"});
}

bool replay(const Config& config, const ActuatorSection& section, bool from_beginning, ReplaySummary& summary,
            std::string& error) {
  TransactionView view;
  if (!load_view(config.kafka, section.transactions, "", view, error)) return false;
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
  commands->read(
      [&](const RdKafka::Message& message) {
        ++summary.commands;
        const auto command = decode_command({static_cast<const std::uint8_t*>(message.payload()), message.len()});
        if (!command) {
          ++summary.unreadable;
          return;
        }
        const Bytes outcome = replay_outcome(*command, view);
        const Exchange* exchange = view.by_command(command->id);
        if (exchange != nullptr && (exchange->closed || exchange->response)) ++summary.from_log;
        else ++summary.not_executed;
        const auto found = transport::headers_of(message);
        auto record_headers = headers::RecordHeaders::for_new_record(config.gateway.id);
        const std::string_view cause = found.get(headers::kId);
        record_headers.add(headers::kCausation, cause.empty() ? std::string_view(command->id) : cause);
        if (const auto trace = found.get(headers::kTraceparent); !trace.empty()) record_headers.add(headers::kTraceparent, trace);
        if (producer->produce({replay_topic, command->device, outcome, &record_headers, &deliveries}, never) !=
            RdKafka::ERR_NO_ERROR) {
          produce_failed = true;
        }
      },
      false, [] { return false; });

  if (producer->flush(kFlushTimeout) > 0 || deliveries.failed > 0 || produce_failed) {
    error = fmt::format("not every replayed outcome reached {}; offsets not committed", replay_topic);
    return false;
  }
  if (!commands->commit(error)) return false;
  log::info("replay", "{}: {} command(s): {} answered from {}, {} not executed, {} unreadable -> {}", section.name,
            summary.commands, summary.from_log, section.transactions, summary.not_executed, summary.unreadable,
            replay_topic);
  return true;
}

}  // namespace archer::actuators
