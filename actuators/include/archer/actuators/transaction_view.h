#pragma once
// What the gateway knows of every exchange, rebuilt from its own transaction log (and the outcomes
// in its event log) before it consumes a command: the log is the truth, this is its index.
// Owned by one thread (the actuator loop, or replay); not thread-safe.
#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>

#include "archer/actuators/messages.h"
#include "archer/core/config.h"

namespace archer::actuators {

struct Exchange {
  std::string interaction_id;
  std::string command_id;
  std::string device;
  std::uint32_t attempts = 0;        // highest SENT attempt recorded
  std::int64_t opened_ms = 0;
  std::optional<Bytes> response;     // the first DeviceResponse recorded
  std::optional<Bytes> closed;       // the CLOSED record's CommandOutcome
};

class TransactionView {
 public:
  void apply(const Transaction& record);
  void note_outcome(const std::string& command_id) { outcomes_.insert(command_id); }

  const Exchange* by_command(const std::string& command_id) const;
  const Exchange* by_interaction(const std::string& interaction_id) const;
  bool has_outcome(const std::string& command_id) const { return outcomes_.count(command_id) != 0; }
  std::size_t size() const { return exchanges_.size(); }

 private:
  std::unordered_map<std::string, Exchange> exchanges_;                // by command id
  std::unordered_map<std::string, std::string> command_of_interaction_;
  std::unordered_set<std::string> outcomes_;
};

// Reads `transactions` (and `events`, when not empty) from the beginning to their current end.
// Missing topics are empty. Returns false with `error` when a log cannot be read.
bool load_view(const KafkaConfig& kafka, const std::string& transactions, const std::string& events,
               TransactionView& view, std::string& error);

}  // namespace archer::actuators
