// libFuzzer target for what a start reads back from its logs (actuators/src/view_loader.cpp and
// replay.cpp): Transaction records decoded (archer::protocol::decode_transaction) and applied to a
// TransactionView, with the message each phase carries decoded too (OPENED: Command, SENT:
// DeviceCommand, RESPONDED: DeviceResponse, CLOSED: CommandOutcome), and the input also taken as a
// Command of the command log. The input is a log: records, each after a 2-byte little-endian
// length (what does not frame is one last record). Whatever the bytes: no crash, a reason for every
// refusal, every decoded message re-encodes to one that decodes the same, applying a record twice
// changes nothing, and the view's lookups stay consistent.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "archer/actuators/transaction_view.h"
#include "archer/protocol/messages.h"

namespace {

namespace protocol = archer::protocol;
using archer::actuators::CommandPosition;
using archer::actuators::Exchange;
using archer::actuators::TransactionView;
using protocol::Bytes;
using protocol::Phase;

void require(bool condition) {
  if (!condition) std::abort();
}

bool same(const protocol::Transaction& a, const protocol::Transaction& b) {
  return a.interaction_id == b.interaction_id && a.command_id == b.command_id && a.device == b.device &&
         a.phase == b.phase && a.attempt == b.attempt && a.payload == b.payload && a.time_ms == b.time_ms &&
         a.detail == b.detail && a.command_partition == b.command_partition && a.command_offset == b.command_offset;
}

bool same(const protocol::Command& a, const protocol::Command& b) {
  return a.id == b.id && a.device == b.device && a.action == b.action && a.args == b.args &&
         a.issued_at_ms == b.issued_at_ms && a.deadline_ms == b.deadline_ms;
}

bool same(const protocol::DeviceCommand& a, const protocol::DeviceCommand& b) {
  return a.interaction_id == b.interaction_id && a.action == b.action && a.args == b.args;
}

bool same(const protocol::DeviceResponse& a, const protocol::DeviceResponse& b) {
  return a.interaction_id == b.interaction_id && a.status == b.status && a.detail == b.detail && a.payload == b.payload;
}

bool same(const protocol::Outcome& a, const protocol::Outcome& b) {
  return a.command_id == b.command_id && a.interaction_id == b.interaction_id && a.device == b.device &&
         a.status == b.status && a.response == b.response && a.latency_ms == b.latency_ms && a.detail == b.detail;
}

bool same(const Exchange& a, const Exchange& b) {
  return a.interaction_id == b.interaction_id && a.command_id == b.command_id && a.device == b.device &&
         a.attempts == b.attempts && a.opened_ms == b.opened_ms && a.response == b.response && a.closed == b.closed &&
         a.position.partition == b.position.partition && a.position.offset == b.position.offset &&
         a.answered == b.answered && a.finished == b.finished;
}

// Decodes `bytes` with `decode`; what decodes must survive encode() and decode again unchanged.
template <class Decode>
void round_trip(std::span<const std::uint8_t> bytes, Decode decode) {
  std::string why;
  const auto decoded = decode(bytes, &why);
  if (!decoded) {
    require(!why.empty());
    return;
  }
  const auto again = decode(protocol::encode(*decoded), &why);
  require(again.has_value() && same(*decoded, *again));
}

void check_payload(const protocol::Transaction& record) {
  const std::span<const std::uint8_t> payload(record.payload);
  switch (record.phase) {
    case Phase::OPENED:
      round_trip(payload, protocol::decode_command);
      break;
    case Phase::SENT:
      round_trip(payload, protocol::decode_device_command);
      break;
    case Phase::RESPONDED:
      round_trip(payload, protocol::decode_device_response);
      break;
    case Phase::CLOSED:
      round_trip(payload, protocol::decode_outcome);
      break;
    default:
      break;
  }
  (void)protocol::name_of(record.phase);
}

void check_lookups(const TransactionView& view, const protocol::Transaction& record) {
  const Exchange* exchange = view.by_command(record.command_id);
  require(exchange != nullptr && exchange->interaction_id == record.interaction_id &&
          exchange->command_id == record.command_id);
  const Exchange* by_interaction = view.by_interaction(record.interaction_id);
  require(by_interaction == nullptr || by_interaction->interaction_id == record.interaction_id);
}

std::vector<std::span<const std::uint8_t>> records_of(std::span<const std::uint8_t> log) {
  std::vector<std::span<const std::uint8_t>> records;
  while (!log.empty()) {
    const std::size_t length = log.size() < 2 ? log.size() : log[0] | (std::size_t{log[1]} << 8);
    if (log.size() < 2 || length > log.size() - 2) {
      records.push_back(log);
      break;
    }
    records.push_back(log.subspan(2, length));
    log = log.subspan(2 + length);
  }
  return records;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::span<const std::uint8_t> input(data, size);
  round_trip(input, protocol::decode_command);  // a command-log record (gateway.cpp, replay.cpp)
  round_trip(input, protocol::decode_transaction);

  TransactionView view;
  std::vector<protocol::Transaction> applied;
  for (std::span<const std::uint8_t> bytes : records_of(input)) {
    std::string why;
    auto record = protocol::decode_transaction(bytes, &why);
    if (!record) {
      require(!why.empty());
      continue;
    }
    round_trip(bytes, protocol::decode_transaction);
    check_payload(*record);
    view.apply(*record);
    check_lookups(view, *record);
    const Exchange first = *view.by_command(record->command_id);
    const std::size_t size_before = view.size();
    view.apply(*record);
    require(view.size() == size_before && same(first, *view.by_command(record->command_id)));
    applied.push_back(std::move(*record));
  }

  // What a start does next: outcomes noted, commands placed, then everything below the committed
  // offsets forgotten. Lookups stay consistent throughout.
  std::map<std::int32_t, std::int64_t> committed;
  for (std::size_t i = 0; i < applied.size(); ++i) {
    const protocol::Transaction& record = applied[i];
    const CommandPosition position{record.command_partition, record.command_offset};
    if (i % 2 == 0) view.place(record.command_id, position);
    if (i % 3 == 0) view.note_outcome(record.command_id, position);
    if (position.known()) committed[position.partition] = std::max(committed[position.partition], position.offset);
  }
  std::size_t visited = 0;
  for (const auto& [partition, next] : committed) {
    view.visit(
        partition, 0, [&](const Exchange&) { ++visited; },
        [&](const protocol::CommandId&, std::int64_t) { ++visited; });
  }
  view.forget_below(committed);
  view.forget_unplaced();
  for (const protocol::Transaction& record : applied) {
    const Exchange* found = view.by_interaction(record.interaction_id);
    require(found == nullptr || found->interaction_id == record.interaction_id);
  }
  return 0;
}
