// What a replay answers for a command, from the transaction log alone.
#include <gtest/gtest.h>

#include "archer/actuators/replay.h"
#include "archer/actuators/transaction_view.h"

namespace archer::actuators {
namespace {

using protocol::OutcomeStatus;
using protocol::Phase;
using protocol::Transaction;

protocol::Outcome replayed(const std::string& device, const TransactionView& view = {}) {
  const protocol::Command command{CommandId("c1"), DeviceId(device), "open", {}, 1, 0};
  const auto outcome = protocol::decode_outcome(replay_outcome(command, view));
  EXPECT_TRUE(outcome);
  return outcome.value_or(protocol::Outcome{});
}

TEST(ReplayOutcome, ACommandWithNoExchangeIsNotExecuted) {
  const auto outcome = replayed("v1");
  EXPECT_EQ(outcome.status, OutcomeStatus::NOT_EXECUTED);
  EXPECT_EQ(outcome.detail, "no recorded exchange");
}

// The live gateway never sent it (FAILED); the replay says why it was not executed.
TEST(ReplayOutcome, ACommandForAnInvalidDeviceIdIsNotExecutedSayingWhy) {
  EXPECT_EQ(replayed("v1/commands").status, OutcomeStatus::NOT_EXECUTED);
  EXPECT_EQ(replayed("v1/commands").detail,
            "not a valid Command: its device 'v1/commands' contains '/' (a topic level separator)");
  EXPECT_EQ(replayed("#").detail, "not a valid Command: its device '#' contains the MQTT wildcard '#'");
  EXPECT_EQ(replayed("").detail, "not a valid Command: its device is empty");
}

TEST(ReplayOutcome, AClosedExchangeGivesItsRecordedOutcome) {
  TransactionView view;
  const Bytes closed = protocol::encode(
      protocol::Outcome{CommandId("c1"), InteractionId("i1"), DeviceId("v1"), OutcomeStatus::SUCCEEDED, {}, 5, "done"});
  view.apply(Transaction{InteractionId("i1"), CommandId("c1"), DeviceId("v1"), Phase::OPENED, 0, {}, 5, "", 0, 0});
  view.apply(Transaction{InteractionId("i1"), CommandId("c1"), DeviceId("v1"), Phase::CLOSED, 1, closed, 6, "", 0, 0});
  EXPECT_EQ(replayed("v1", view).status, OutcomeStatus::SUCCEEDED);
  EXPECT_EQ(replayed("v1", view).detail, "done");
}

}  // namespace
}  // namespace archer::actuators
