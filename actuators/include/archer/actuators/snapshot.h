#pragma once
// The records of the snapshot topic (schemas/snapshot.fbs): an actuator section's state for one
// command-log partition, and the offsets of the transaction and event logs it reflects. Pure encoding;
// the gateway decides when to write one and how to read them back (view_loader.h).
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "archer/actuators/transaction_view.h"

namespace archer::actuators {

using LogOffsets = std::map<std::int32_t, std::int64_t>;  // partition -> first offset not reflected

struct Snapshot {
  std::string gateway;
  std::string section;
  std::int32_t command_partition = 0;
  std::int64_t committed_offset = 0;
  std::int64_t time_ms = 0;
  LogOffsets transactions;
  LogOffsets events;
  std::vector<Exchange> exchanges;                        // positions in command_partition
  std::vector<std::pair<CommandId, std::int64_t>> done;  // (command, its offset)
};

std::string snapshot_topic(const std::string& gateway_id);                  // "snapshot.<gateway>"
std::string snapshot_key(const std::string& section, std::int32_t partition);  // "<section>/<partition>"

protocol::Bytes encode(const Snapshot& snapshot);
std::optional<Snapshot> decode_snapshot(std::span<const std::uint8_t> bytes, std::string* why = nullptr);

}  // namespace archer::actuators
