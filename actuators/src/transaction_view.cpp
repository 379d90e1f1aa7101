#include "archer/actuators/transaction_view.h"

#include "archer/core/log.h"
#include "archer/transport/kafka_reader.h"

namespace archer::actuators {

void TransactionView::apply(const Transaction& record) {
  Exchange& exchange = exchanges_[record.command_id];
  if (exchange.interaction_id != record.interaction_id) {
    // A command has one interaction; a second one can only come from a replayed or foreign log.
    if (!exchange.interaction_id.empty()) command_of_interaction_.erase(exchange.interaction_id);
    exchange = Exchange{};
    exchange.interaction_id = record.interaction_id;
    exchange.command_id = record.command_id;
    exchange.device = record.device;
    command_of_interaction_[record.interaction_id] = record.command_id;
  }
  switch (record.phase) {
    case Phase::OPENED:
      exchange.opened_ms = record.time_ms;
      break;
    case Phase::SENT:
      exchange.attempts = std::max(exchange.attempts, record.attempt);
      break;
    case Phase::RESPONDED:
      if (!exchange.response) exchange.response = record.payload;
      break;
    case Phase::CLOSED:
      exchange.closed = record.payload;
      break;
    case Phase::TIMED_OUT:
    case Phase::FAILED:
      break;
  }
}

const Exchange* TransactionView::by_command(const std::string& command_id) const {
  auto it = exchanges_.find(command_id);
  return it == exchanges_.end() ? nullptr : &it->second;
}

const Exchange* TransactionView::by_interaction(const std::string& interaction_id) const {
  auto it = command_of_interaction_.find(interaction_id);
  return it == command_of_interaction_.end() ? nullptr : by_command(it->second);
}

bool load_view(const KafkaConfig& kafka, const std::string& transactions, const std::string& events,
               TransactionView& view, std::string& error) {
  auto never = [] { return false; };
  auto tx = transport::KafkaReader::open(kafka, transactions, "", transport::KafkaReader::Start::beginning, error, true);
  if (!tx) return false;
  std::uint64_t unreadable = 0;
  tx->read(
      [&](const RdKafka::Message& message) {
        auto record = decode_transaction({static_cast<const std::uint8_t*>(message.payload()), message.len()});
        if (record) view.apply(*record);
        else ++unreadable;
      },
      false, never);
  if (unreadable > 0) log::warn("actuator", "{}: {} record(s) are not Transactions; ignored", transactions, unreadable);
  if (events.empty()) return true;
  auto outcomes = transport::KafkaReader::open(kafka, events, "", transport::KafkaReader::Start::beginning, error, true);
  if (!outcomes) return false;
  outcomes->read(
      [&](const RdKafka::Message& message) {
        if (auto outcome = decode_outcome({static_cast<const std::uint8_t*>(message.payload()), message.len()})) {
          view.note_outcome(outcome->command_id);
        }
      },
      false, never);
  return true;
}

}  // namespace archer::actuators
