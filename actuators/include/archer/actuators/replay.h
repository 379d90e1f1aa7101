#pragma once
// Reprocessing (shared/CONTRACT.md): read the command log again and write each command's outcome to
// `<events>.replay`, answered from the transaction log alone. Nothing is sent to any device.
//   CLOSED exchange          -> the outcome recorded in its CLOSED record, byte for byte
//   RESPONDED, not CLOSED    -> the outcome the response implies (as a live close would)
//   no exchange, or unfinished without a response -> NOT_EXECUTED
// Deterministic: the same logs give the same outcome bytes, replay after replay.
#include <cstdint>
#include <string>

#include "archer/actuators/messages.h"
#include "archer/actuators/transaction_view.h"
#include "archer/core/config.h"

namespace archer::actuators {

struct ReplaySummary {
  std::uint64_t commands = 0;
  std::uint64_t from_log = 0;
  std::uint64_t not_executed = 0;
  std::uint64_t unreadable = 0;
};

// The outcome a replay gives `command`, from `view`.
Bytes replay_outcome(const Command& command, const TransactionView& view);

// Replays one section. From the beginning of the command log with `from_beginning`, else from
// where the last replay stopped (consumer group archer.<gateway>.<name>.replay). Returns false with
// `error` when a log cannot be read or written.
bool replay(const Config& config, const ActuatorSection& section, bool from_beginning, ReplaySummary& summary,
            std::string& error);

}  // namespace archer::actuators
