#pragma once
// What the gateway knows of every exchange still relevant to it, from its own transaction log (and
// the outcomes in its event log): the log is the truth, this is its index. Relevant means: of a
// command at or above the committed offset of its command-log partition. Below it everything is
// finished and will never be read again, so it is forgotten: memory follows the work in progress,
// not the gateway's history.
//
// Applying records is monotone: applying a record twice, or an older one after a newer, changes
// nothing; so a start may read again records a snapshot already reflects.
// Owned by one thread (the actuator loop, or replay); not thread-safe.
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <unordered_map>
#include <unordered_set>

#include "archer/protocol/messages.h"

namespace archer::actuators {

using protocol::Bytes;
using protocol::CommandId;
using protocol::DeviceId;
using protocol::InteractionId;
using protocol::Transaction;

// Where a command is in the command log; unknown for records written before positions were kept.
struct CommandPosition {
  std::int32_t partition = -1;
  std::int64_t offset = -1;
  bool known() const { return partition >= 0 && offset >= 0; }
};

struct Exchange {
  InteractionId interaction_id;
  CommandId command_id;
  DeviceId device;
  std::uint32_t attempts = 0;     // highest SENT attempt recorded
  std::int64_t opened_ms = 0;
  std::optional<Bytes> response;  // the first DeviceResponse recorded (dropped once the outcome is written)
  std::optional<Bytes> closed;    // the first CLOSED record's CommandOutcome (likewise)
  CommandPosition position;
  bool answered = false;  // a response was recorded
  bool finished = false;  // the outcome is in the event log
};

class TransactionView {
 public:
  void apply(const Transaction& record);
  // The command's outcome is in the event log: nothing more to do for it but to commit its offset.
  void note_outcome(const CommandId& command, CommandPosition position);
  // The command was read from the command log at `position` (the highest, if it is there twice).
  void place(const CommandId& command, CommandPosition position);
  // From a snapshot.
  void restore(Exchange exchange);

  const Exchange* by_command(const CommandId& command) const;
  // Also finds the last kRecentlyForgotten exchanges forgotten (finished, below the committed
  // offsets), so that an answer arriving late is still recognised and recorded as late.
  const Exchange* by_interaction(const InteractionId& interaction) const;
  static constexpr std::size_t kRecentlyForgotten = 10'000;
  bool has_outcome(const CommandId& command) const { return outcomes_.count(command) != 0; }

  // Forgets every exchange and outcome of a command below `committed` (next offset to read) of its
  // partition.
  void forget_below(const std::map<std::int32_t, std::int64_t>& committed);
  // Forgets the entries whose command was never placed: once the command log has been read up to
  // the end it had at start, those commands are below the committed offsets.
  void forget_unplaced();
  std::size_t unplaced() const { return unplaced_.size(); }

  // Every entry of `partition` at or above `from`: exchanges not yet finished, and the commands whose
  // outcome is written.
  void visit(std::int32_t partition, std::int64_t from, const std::function<void(const Exchange&)>& open,
             const std::function<void(const CommandId&, std::int64_t offset)>& done) const;

  std::size_t size() const { return exchanges_.size(); }
  std::size_t outcomes() const { return outcomes_.size(); }

 private:
  void index(const CommandId& command, CommandPosition position);
  void forget(const CommandId& command);
  void unmap_interaction(const InteractionId& interaction, const CommandId& command);

  std::unordered_map<CommandId, Exchange> exchanges_;
  std::unordered_map<InteractionId, CommandId> command_of_interaction_;
  std::unordered_map<CommandId, CommandPosition> outcomes_;
  std::unordered_map<CommandId, CommandPosition> positions_;  // of every command with an entry
  std::map<std::int32_t, std::multimap<std::int64_t, CommandId>> by_position_;
  std::unordered_set<CommandId> unplaced_;
  std::unordered_map<InteractionId, Exchange> recently_forgotten_;  // ids only, no bytes
  std::deque<InteractionId> forgotten_order_;
};

}  // namespace archer::actuators
