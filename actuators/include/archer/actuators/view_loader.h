#pragma once
// What an actuator gateway must know before it consumes a command, read back from Kafka: the latest
// snapshot of each of its command-log partitions (snapshot.<gateway>), then only the part of its
// transaction and event logs written after the snapshots. Records of commands below the committed
// offsets are skipped as they are read, so memory follows the work in progress, not the history.
// Without a usable snapshot (the first start, or offsets committed below a snapshot's) it reads the
// two logs from their beginning, still skipping what is below the committed offsets.
//
// Blocking; runs on the actuator loop thread before it takes commands.
#include <cstdint>
#include <functional>
#include <map>
#include <string>

#include "archer/actuators/snapshot.h"
#include "archer/actuators/transaction_view.h"
#include "archer/core/config.h"

namespace archer::actuators {

struct LoadedState {
  TransactionView view;
  LogOffsets transactions;  // the logs are reflected up to these offsets
  LogOffsets events;
  std::uint64_t snapshots_used = 0;
  std::uint64_t records_read = 0;  // transaction and event records read after the snapshots
  std::uint64_t records_skipped = 0;  // of commands below the committed offsets
};

// `committed`: the next offset to read per command-log partition. Returns false with `error` when a
// log cannot be read (unreachable, or no progress for 30 s); `stop` ends it early (false, no error).
bool load_state(const Config& config, const ActuatorSection& section,
                const std::map<std::int32_t, std::int64_t>& committed, LoadedState& out, std::string& error,
                const std::function<bool()>& stop);

// The command position an outcome record carries in its archer-command-offset header.
CommandPosition parse_command_offset(std::string_view header);
std::string format_command_offset(CommandPosition position);

}  // namespace archer::actuators
