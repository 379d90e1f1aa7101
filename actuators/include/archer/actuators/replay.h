#pragma once
// Reprocessing (docs/contract.md, "Reprocessing"): read the command log again and write each command's
// outcome to `<events>.replay`, answered from the transaction log alone. Nothing is sent to any device.
//   CLOSED exchange          -> the outcome recorded in its CLOSED record, byte for byte
//   RESPONDED, not CLOSED    -> the outcome the response implies (protocol::outcome_of, as a live close)
//   no exchange, or unfinished without a response -> NOT_EXECUTED
// Deterministic: the same logs give the same outcome bytes, replay after replay.
//
// Memory: at most kReplayWindow commands, with their exchanges, are held at a time. A longer command
// log is answered window by window, reading the transaction log once per window (so the time grows
// with history, the memory does not).
#include <cstdint>
#include <string>

#include "archer/actuators/transaction_view.h"
#include "archer/core/config.h"
#include "archer/protocol/messages.h"

namespace archer::actuators {

inline constexpr std::size_t kReplayWindow = 100'000;

struct ReplaySummary {
  std::uint64_t commands = 0;
  std::uint64_t from_log = 0;
  std::uint64_t not_executed = 0;
  std::uint64_t unreadable = 0;
  std::uint64_t windows = 0;
};

// The outcome a replay gives `command`, from `view`.
Bytes replay_outcome(const protocol::Command& command, const TransactionView& view);

// Replays one section. From the beginning of the command log with `from_beginning`, else from
// where the last replay stopped (consumer group archer.<gateway>.<name>.replay). Returns false with
// `error` when a log cannot be read or written; offsets are committed only when every outcome is in.
bool replay(const Config& config, const ActuatorSection& section, bool from_beginning, ReplaySummary& summary,
            std::string& error, std::size_t window = kReplayWindow);

}  // namespace archer::actuators
