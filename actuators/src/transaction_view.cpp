#include "archer/actuators/transaction_view.h"

namespace archer::actuators {

using protocol::Phase;

void TransactionView::index(const CommandId& command, CommandPosition position) {
  if (!position.known()) {
    if (positions_.count(command) == 0) unplaced_.insert(command);
    return;
  }
  auto [found, inserted] = positions_.try_emplace(command, position);
  if (!inserted) {
    const CommandPosition before = found->second;
    const bool higher = before.partition != position.partition || position.offset > before.offset;
    if (!higher) return;
    auto& slots = by_position_[before.partition];
    for (auto [it, end] = slots.equal_range(before.offset); it != end; ++it) {
      if (it->second == command) {
        slots.erase(it);
        break;
      }
    }
    found->second = position;
  }
  unplaced_.erase(command);
  by_position_[position.partition].emplace(position.offset, command);
  if (auto exchange = exchanges_.find(command); exchange != exchanges_.end()) exchange->second.position = position;
  if (auto outcome = outcomes_.find(command); outcome != outcomes_.end()) outcome->second = position;
}

// Only this command's own entry: a foreign log may give two commands one interaction id, and the
// other command's lookup must survive this one moving on.
void TransactionView::unmap_interaction(const InteractionId& interaction, const CommandId& command) {
  if (auto found = command_of_interaction_.find(interaction);
      found != command_of_interaction_.end() && found->second == command) {
    command_of_interaction_.erase(found);
  }
}

void TransactionView::apply(const Transaction& record) {
  auto [slot, created] = exchanges_.try_emplace(record.command_id);
  Exchange& exchange = slot->second;
  // A new entry takes the record's ids even when its interaction id is empty (found by tests/fuzz:
  // the entry kept no command id then).
  if (created || exchange.interaction_id != record.interaction_id) {
    // A command has one interaction; a second one can only come from a replayed or foreign log.
    if (!created) unmap_interaction(exchange.interaction_id, record.command_id);
    exchange = Exchange{};
    exchange.interaction_id = record.interaction_id;
    exchange.command_id = record.command_id;
    exchange.device = record.device;
    command_of_interaction_[record.interaction_id] = record.command_id;
  }
  const CommandPosition position{record.command_partition, record.command_offset};
  index(record.command_id, position);
  if (auto known = positions_.find(record.command_id); known != positions_.end()) exchange.position = known->second;
  const bool finished = has_outcome(record.command_id);
  switch (record.phase) {
    case Phase::OPENED:
      if (exchange.opened_ms == 0) exchange.opened_ms = record.time_ms;
      break;
    case Phase::SENT:
      exchange.attempts = std::max(exchange.attempts, record.attempt);
      break;
    case Phase::RESPONDED:
      exchange.answered = true;
      if (!exchange.response && !finished) exchange.response = record.payload;
      break;
    case Phase::CLOSED:
      if (!exchange.closed && !finished) exchange.closed = record.payload;
      break;
    case Phase::TIMED_OUT:
    case Phase::FAILED:
      break;
  }
}

void TransactionView::note_outcome(const CommandId& command, CommandPosition position) {
  outcomes_.try_emplace(command, position);
  index(command, position);
  if (auto exchange = exchanges_.find(command); exchange != exchanges_.end()) {
    // Only the ids are needed from now on (to recognise a late answer); the bytes can go.
    exchange->second.finished = true;
    exchange->second.response.reset();
    exchange->second.closed.reset();
  }
}

void TransactionView::place(const CommandId& command, CommandPosition position) {
  if (exchanges_.count(command) != 0 || outcomes_.count(command) != 0) index(command, position);
}

void TransactionView::restore(Exchange exchange) {
  const CommandId command = exchange.command_id;
  const CommandPosition position = exchange.position;
  command_of_interaction_[exchange.interaction_id] = command;
  exchanges_[command] = std::move(exchange);
  index(command, position);
}

const Exchange* TransactionView::by_command(const CommandId& command) const {
  auto found = exchanges_.find(command);
  return found == exchanges_.end() ? nullptr : &found->second;
}

const Exchange* TransactionView::by_interaction(const InteractionId& interaction) const {
  if (auto found = command_of_interaction_.find(interaction); found != command_of_interaction_.end()) {
    return by_command(found->second);
  }
  auto recent = recently_forgotten_.find(interaction);
  return recent == recently_forgotten_.end() ? nullptr : &recent->second;
}

void TransactionView::forget(const CommandId& command) {
  if (auto exchange = exchanges_.find(command); exchange != exchanges_.end()) {
    Exchange& gone = exchange->second;
    unmap_interaction(gone.interaction_id, command);
    gone.response.reset();
    gone.closed.reset();
    gone.finished = true;
    const InteractionId interaction = gone.interaction_id;
    if (recently_forgotten_.insert_or_assign(interaction, std::move(gone)).second) forgotten_order_.push_back(interaction);
    while (forgotten_order_.size() > kRecentlyForgotten) {
      recently_forgotten_.erase(forgotten_order_.front());
      forgotten_order_.pop_front();
    }
    exchanges_.erase(exchange);
  }
  outcomes_.erase(command);
  positions_.erase(command);
  unplaced_.erase(command);
}

void TransactionView::forget_below(const std::map<std::int32_t, std::int64_t>& committed) {
  for (const auto& [partition, next] : committed) {
    auto slots = by_position_.find(partition);
    if (slots == by_position_.end()) continue;
    auto& entries = slots->second;
    while (!entries.empty() && entries.begin()->first < next) {
      const CommandId command = entries.begin()->second;
      entries.erase(entries.begin());
      forget(command);
    }
  }
}

void TransactionView::forget_unplaced() {
  const std::unordered_set<CommandId> unplaced = std::move(unplaced_);
  unplaced_.clear();
  for (const CommandId& command : unplaced) forget(command);
}

void TransactionView::visit(std::int32_t partition, std::int64_t from,
                            const std::function<void(const Exchange&)>& open,
                            const std::function<void(const CommandId&, std::int64_t)>& done) const {
  auto slots = by_position_.find(partition);
  if (slots == by_position_.end()) return;
  for (auto it = slots->second.lower_bound(from); it != slots->second.end(); ++it) {
    if (has_outcome(it->second)) done(it->second, it->first);
    else if (const Exchange* exchange = by_command(it->second)) open(*exchange);
  }
}

}  // namespace archer::actuators
