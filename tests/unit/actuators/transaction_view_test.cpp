#include "archer/actuators/transaction_view.h"

#include <gtest/gtest.h>

namespace archer::actuators {
namespace {

using protocol::Phase;

Transaction record(const std::string& command, Phase phase, std::int64_t offset, std::uint32_t attempt = 0,
                   Bytes payload = {}) {
  return Transaction{InteractionId("i-" + command), CommandId(command), DeviceId("v1"), phase, attempt,
                     std::move(payload), 1, "", 0, offset};
}

TEST(TransactionView, ApplyingRecordsAgainOrOutOfOrderChangesNothing) {
  TransactionView view;
  const std::vector<Transaction> records{record("c1", Phase::OPENED, 0), record("c1", Phase::SENT, 0, 1),
                                         record("c1", Phase::RESPONDED, 0, 1, {1}), record("c1", Phase::CLOSED, 0, 1, {2})};
  for (const auto& r : records) view.apply(r);
  for (auto it = records.rbegin(); it != records.rend(); ++it) view.apply(*it);  // read again, backwards
  const Exchange* exchange = view.by_command(CommandId("c1"));
  ASSERT_NE(exchange, nullptr);
  EXPECT_EQ(exchange->attempts, 1u);
  EXPECT_EQ(exchange->response, Bytes{1});
  EXPECT_EQ(exchange->closed, Bytes{2});
  EXPECT_EQ(exchange->opened_ms, 1);
  EXPECT_EQ(view.by_interaction(InteractionId("i-c1")), exchange);
}

TEST(TransactionView, ForgetsBelowTheCommittedOffsetOnly) {
  TransactionView view;
  for (int i = 0; i < 5; ++i) view.apply(record("c" + std::to_string(i), Phase::OPENED, i));
  view.note_outcome(CommandId("c1"), {0, 1});
  view.forget_below({{0, 3}});
  EXPECT_EQ(view.size(), 2u);
  EXPECT_EQ(view.by_command(CommandId("c2")), nullptr);
  EXPECT_NE(view.by_command(CommandId("c3")), nullptr);
  EXPECT_FALSE(view.has_outcome(CommandId("c1")));
  const Exchange* late = view.by_interaction(InteractionId("i-c2"));
  ASSERT_NE(late, nullptr) << "recently forgotten exchanges still recognise a late answer";
  EXPECT_TRUE(late->finished);
}

TEST(TransactionView, EntriesOfUnknownPositionArePlacedWhenTheirCommandIsReadOrForgottenAtTheEnd) {
  TransactionView view;
  view.apply(record("legacy-1", Phase::OPENED, -1));
  view.apply(record("legacy-2", Phase::OPENED, -1));
  EXPECT_EQ(view.unplaced(), 2u);
  view.place(CommandId("legacy-1"), {0, 9});
  EXPECT_EQ(view.unplaced(), 1u);
  view.forget_unplaced();
  EXPECT_NE(view.by_command(CommandId("legacy-1")), nullptr);
  EXPECT_EQ(view.by_command(CommandId("legacy-2")), nullptr);
}

TEST(TransactionView, AWrittenOutcomeDropsTheBytesButNotTheIds) {
  TransactionView view;
  view.apply(record("c1", Phase::RESPONDED, 0, 1, Bytes(1000, 7)));
  view.note_outcome(CommandId("c1"), {0, 0});
  const Exchange* exchange = view.by_command(CommandId("c1"));
  ASSERT_NE(exchange, nullptr);
  EXPECT_FALSE(exchange->response);
  EXPECT_TRUE(exchange->answered);
  EXPECT_TRUE(exchange->finished);
}

TEST(TransactionView, VisitsOnePartitionFromAnOffset) {
  TransactionView view;
  for (int i = 0; i < 4; ++i) view.apply(record("c" + std::to_string(i), Phase::OPENED, i));
  view.note_outcome(CommandId("c3"), {0, 3});
  std::vector<std::string> open;
  std::vector<std::string> done;
  view.visit(
      0, 1, [&](const Exchange& exchange) { open.push_back(exchange.command_id.str()); },
      [&](const CommandId& command, std::int64_t) { done.push_back(command.str()); });
  EXPECT_EQ(open, (std::vector<std::string>{"c1", "c2"}));
  EXPECT_EQ(done, (std::vector<std::string>{"c3"}));
}

TEST(TransactionView, ARecordWithAnEmptyInteractionIdStillNamesItsCommand) {
  TransactionView view;
  view.apply(Transaction{InteractionId(""), CommandId("c1"), DeviceId("v1"), Phase::OPENED, 0, {}, 1, "", 0, 4});
  const Exchange* exchange = view.by_command(CommandId("c1"));
  ASSERT_NE(exchange, nullptr);
  EXPECT_EQ(exchange->command_id, CommandId("c1"));
  EXPECT_EQ(exchange->device, DeviceId("v1"));
}

TEST(TransactionView, ACommandMovingToAnotherInteractionLeavesAnotherCommandsLookup) {
  // Only a foreign or replayed log gives two commands one interaction id.
  TransactionView view;
  view.apply(record("c1", Phase::OPENED, 0));  // interaction i-c1
  Transaction shared = record("c2", Phase::OPENED, 1);
  shared.interaction_id = InteractionId("i-c1");
  view.apply(shared);
  Transaction moved = record("c1", Phase::SENT, 0, 1);
  moved.interaction_id = InteractionId("i-other");
  view.apply(moved);
  const Exchange* found = view.by_interaction(InteractionId("i-c1"));
  ASSERT_NE(found, nullptr);
  EXPECT_EQ(found->command_id, CommandId("c2"));
  EXPECT_EQ(view.by_interaction(InteractionId("i-other"))->command_id, CommandId("c1"));
}

}  // namespace
}  // namespace archer::actuators
