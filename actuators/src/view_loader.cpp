#include "archer/actuators/view_loader.h"

#include <charconv>

#include <fmt/format.h>

#include "archer/core/headers.h"
#include "archer/core/log.h"
#include "archer/protocol/messages.h"
#include "archer/transport/kafka_headers.h"
#include "archer/transport/kafka_reader.h"

namespace archer::actuators {
namespace {

std::span<const std::uint8_t> value_of(const RdKafka::Message& message) {
  return {static_cast<const std::uint8_t*>(message.payload()), message.len()};
}

bool below_committed(CommandPosition position, const std::map<std::int32_t, std::int64_t>& committed) {
  if (!position.known()) return false;
  auto found = committed.find(position.partition);
  return found != committed.end() && position.offset < found->second;
}

// The latest snapshot of each command-log partition of `section`, when every partition has one that
// the committed offsets have not gone below (else none: the logs are read from their start).
bool read_snapshots(const Config& config, const ActuatorSection& section,
                    const std::map<std::int32_t, std::int64_t>& committed, std::map<std::int32_t, Snapshot>& out,
                    std::string& error, const std::function<bool()>& stop) {
  auto reader = transport::KafkaReader::open(config.kafka, snapshot_topic(config.gateway.id), "",
                                             transport::KafkaReader::Start::beginning, error, true);
  if (!reader) return false;
  const std::string prefix = section.name + "/";
  std::uint64_t unreadable = 0;
  reader->read(
      [&](const RdKafka::Message& message) {
        if (message.key() == nullptr || message.key()->rfind(prefix, 0) != 0) return;
        auto snapshot = decode_snapshot(value_of(message));
        if (!snapshot || snapshot->gateway != config.gateway.id || snapshot->section != section.name) {
          ++unreadable;
          return;
        }
        out[snapshot->command_partition] = std::move(*snapshot);  // a later record replaces an earlier one
      },
      false, stop);
  if (reader->stalled()) {
    error = fmt::format("{}: no progress reading it", reader->topic());
    return false;
  }
  if (unreadable > 0) log::warn("actuator", "{}: {} unreadable snapshot record(s) ignored", section.name, unreadable);
  for (const auto& [partition, next] : committed) {
    auto found = out.find(partition);
    const char* why = found == out.end() ? "has no snapshot" : nullptr;
    if (found != out.end() && found->second.committed_offset > next) why = "has offsets committed below its snapshot";
    if (why != nullptr && !out.empty()) {
      log::warn("actuator", "{}: command-log partition {} {}: reading the logs from their start", section.name,
                partition, why);
    }
    if (why != nullptr) {
      out.clear();
      break;
    }
  }
  return true;
}

// Per partition, the lowest offset any snapshot reflects (a partition one of them lacks: from the start).
LogOffsets common_start(const std::map<std::int32_t, Snapshot>& snapshots, LogOffsets Snapshot::*log) {
  LogOffsets out;
  bool first = true;
  for (const auto& [partition, snapshot] : snapshots) {
    const LogOffsets& offsets = snapshot.*log;
    if (first) {
      out = offsets;
      first = false;
      continue;
    }
    for (auto it = out.begin(); it != out.end();) {
      auto other = offsets.find(it->first);
      if (other == offsets.end()) {
        it = out.erase(it);
        continue;
      }
      it->second = std::min(it->second, other->second);
      ++it;
    }
  }
  return out;
}

}  // namespace

CommandPosition parse_command_offset(std::string_view header) {
  CommandPosition out;
  const auto colon = header.find(':');
  if (colon == std::string_view::npos) return out;
  std::int32_t partition = -1;
  std::int64_t offset = -1;
  const auto* begin = header.data();
  if (std::from_chars(begin, begin + colon, partition).ec != std::errc()) return out;
  if (std::from_chars(begin + colon + 1, begin + header.size(), offset).ec != std::errc()) return out;
  return CommandPosition{partition, offset};
}

std::string format_command_offset(CommandPosition position) {
  return fmt::format("{}:{}", position.partition, position.offset);
}

bool load_state(const Config& config, const ActuatorSection& section,
                const std::map<std::int32_t, std::int64_t>& committed, LoadedState& out, std::string& error,
                const std::function<bool()>& stop) {
  std::map<std::int32_t, Snapshot> snapshots;
  if (!read_snapshots(config, section, committed, snapshots, error, stop)) return false;
  for (auto& [partition, snapshot] : snapshots) {
    const auto found = committed.find(partition);
    const std::int64_t next = found == committed.end() ? 0 : found->second;
    for (Exchange& exchange : snapshot.exchanges) {
      if (exchange.position.offset >= next) out.view.restore(std::move(exchange));
    }
    for (const auto& [command, offset] : snapshot.done) {
      if (offset >= next) out.view.note_outcome(command, {partition, offset});
    }
  }
  out.snapshots_used = snapshots.size();

  auto transactions = transport::KafkaReader::open_from(
      config.kafka, section.transactions, common_start(snapshots, &Snapshot::transactions), error, true);
  if (!transactions) return false;
  std::uint64_t unreadable = 0;
  transactions->read(
      [&](const RdKafka::Message& message) {
        auto record = protocol::decode_transaction(value_of(message));
        if (!record) {
          ++unreadable;
          return;
        }
        ++out.records_read;
        if (below_committed({record->command_partition, record->command_offset}, committed)) {
          ++out.records_skipped;
          return;
        }
        out.view.apply(*record);
      },
      false, stop);
  if (transactions->stalled()) {
    error = fmt::format("{}: no progress reading it", section.transactions);
    return false;
  }
  out.transactions = transactions->end_offsets();

  auto events = transport::KafkaReader::open_from(config.kafka, section.events,
                                                  common_start(snapshots, &Snapshot::events), error, true);
  if (!events) return false;
  events->read(
      [&](const RdKafka::Message& message) {
        auto outcome = protocol::decode_outcome(value_of(message));
        if (!outcome) {
          ++unreadable;
          return;
        }
        ++out.records_read;
        const auto found = transport::headers_of(message);
        const CommandPosition position = parse_command_offset(found.get(headers::kCommandOffset));
        if (below_committed(position, committed)) {
          ++out.records_skipped;
          return;
        }
        out.view.note_outcome(outcome->command_id, position);
      },
      false, stop);
  if (events->stalled()) {
    error = fmt::format("{}: no progress reading it", section.events);
    return false;
  }
  out.events = events->end_offsets();
  if (unreadable > 0) {
    log::warn("actuator", "{}: {} record(s) in {} or {} are not Transactions or CommandOutcomes; ignored",
              section.name, unreadable, section.transactions, section.events);
  }
  return !stop();
}

}  // namespace archer::actuators
