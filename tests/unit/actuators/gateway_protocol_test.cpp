// The gateway protocol as a state machine: every rule it keeps, without Kafka, MQTT or threads.
#include "archer/actuators/gateway_protocol.h"

#include <gtest/gtest.h>

#include "fake_effects.h"

namespace archer::actuators {
namespace {

using protocol::DeviceResponse;
using protocol::ResponseStatus;
using testing::FakeEffects;
using namespace std::chrono_literals;

ActuatorSection valves() {
  ActuatorSection section;
  section.name = "valves";
  section.commands = "cmd.valves";
  section.transactions = "tx.valves";
  section.events = "evt.valves";
  section.dead_letter = "dlq.valves";
  std::string error;
  section.request = *TopicTemplate::parse("devices/{device}/commands", error);
  section.response = *TopicTemplate::parse("devices/{device}/responses", error);
  section.timeout = 1s;
  section.retries = 2;
  return section;
}

class GatewayProtocolTest : public ::testing::Test {
 protected:
  GatewayProtocolTest() : protocol_(section_, effects_, metrics_) {}

  std::shared_ptr<Job> command(const std::string& id, const std::string& device, std::int64_t offset,
                               std::int32_t partition = 0) {
    auto job = std::make_shared<Job>();
    job->position = {partition, offset};
    job->key = device;
    job->record_id = id;
    job->command = protocol::Command{CommandId(id), DeviceId(device), "open", {{"percent", "40"}}, 1, 0};
    job->raw = protocol::encode(*job->command);
    return job;
  }

  Bytes response(const InteractionId& interaction, ResponseStatus status = ResponseStatus::OK) {
    return protocol::encode(DeviceResponse{interaction, status, "done", {}});
  }

  // The device answers the last request it received.
  void device_answers(ResponseStatus status = ResponseStatus::OK) {
    const InteractionId id = effects_.requests.back().interaction;
    protocol_.on_response("devices/" + effects_.requests.back().device.str() + "/responses", id.str(),
                          response(id, status), "");
  }

  std::uint64_t counter(const std::string& text) {
    const std::string all = metrics_.prometheus_text();
    const auto at = all.find(text + " ");
    return at == std::string::npos ? 0 : std::stoull(all.substr(at + text.size() + 1));
  }

  ActuatorSection section_ = valves();
  Metrics metrics_;
  FakeEffects effects_;
  GatewayProtocol protocol_;
};

TEST_F(GatewayProtocolTest, NothingReachesTheDeviceBeforeKafkaHoldsTheOpenedRecord) {
  protocol_.on_command(command("c1", "v1", 0));
  ASSERT_EQ(effects_.phases(), std::vector<Phase>{Phase::OPENED});
  EXPECT_TRUE(effects_.requests.empty());

  effects_.deliver(0, true);
  ASSERT_EQ(effects_.requests.size(), 1u);
  EXPECT_EQ(effects_.phases(), (std::vector<Phase>{Phase::OPENED, Phase::SENT}));
  const auto sent = protocol::decode_device_command(effects_.requests[0].bytes);
  ASSERT_TRUE(sent);
  EXPECT_EQ(sent->interaction_id, effects_.requests[0].interaction);
  EXPECT_EQ(sent->action, "open");
}

TEST_F(GatewayProtocolTest, AnAnsweredCommandClosesThenItsOutcomeThenItsOffsetIsCommitted) {
  protocol_.on_command(command("c1", "v1", 7));
  effects_.deliver_all();
  device_answers();
  EXPECT_EQ(effects_.phases(), (std::vector<Phase>{Phase::OPENED, Phase::SENT, Phase::RESPONDED, Phase::CLOSED}));
  EXPECT_TRUE(effects_.outcomes().empty()) << "the outcome waits for CLOSED to be in the transaction log";
  effects_.deliver_pending();
  ASSERT_EQ(effects_.outcomes().size(), 1u);
  EXPECT_EQ(effects_.outcomes()[0].status, OutcomeStatus::SUCCEEDED);
  EXPECT_TRUE(effects_.committed.empty()) << "the offset waits for the outcome to be in the event log";
  effects_.deliver_pending();
  EXPECT_EQ(effects_.committed.at(0), 8);
  EXPECT_EQ(effects_.finished, 1);
  EXPECT_EQ(protocol_.busy(), 0u);
}

TEST_F(GatewayProtocolTest, ASilentDeviceIsAskedAgainWithTheSameInteractionThenTimesOut) {
  protocol_.on_command(command("c1", "v1", 0));
  effects_.deliver_all();
  effects_.advance(1000);
  effects_.deliver_all();
  effects_.advance(1000);
  effects_.deliver_all();
  ASSERT_EQ(effects_.requests.size(), 3u);  // 1 + retries
  EXPECT_EQ(effects_.requests[1].interaction, effects_.requests[0].interaction);
  EXPECT_EQ(effects_.requests[2].interaction, effects_.requests[0].interaction);
  effects_.advance(1000);
  effects_.deliver_all();
  EXPECT_EQ(effects_.phases(), (std::vector<Phase>{Phase::OPENED, Phase::SENT, Phase::SENT, Phase::SENT,
                                                   Phase::TIMED_OUT, Phase::CLOSED}));
  ASSERT_EQ(effects_.outcomes().size(), 1u);
  EXPECT_EQ(effects_.outcomes()[0].status, OutcomeStatus::TIMED_OUT);
  EXPECT_EQ(effects_.outcomes()[0].detail, "no response after 3 attempt(s)");
}

TEST_F(GatewayProtocolTest, OpenedRefusedForGoodFailsTheCommandAndFreesItsDevice) {
  // Before, a refused produce dropped the job's completion: the device stayed busy forever.
  protocol_.on_command(command("c1", "v1", 0));
  protocol_.on_command(command("c2", "v1", 1));
  effects_.deliver(0, false, "tx.valves: Broker: Topic authorization failed");
  EXPECT_TRUE(effects_.requests.empty()) << "no exchange could be recorded: nothing was sent";
  effects_.deliver_all();  // the FAILED outcome of c1, then c2 begins
  const auto outcomes = effects_.outcomes();
  ASSERT_GE(outcomes.size(), 1u);
  EXPECT_EQ(outcomes[0].command_id, CommandId("c1"));
  EXPECT_EQ(outcomes[0].status, OutcomeStatus::FAILED);
  EXPECT_EQ(outcomes[0].detail,
            "the transaction log refused the command: tx.valves: Broker: Topic authorization failed");
  ASSERT_EQ(effects_.requests.size(), 1u) << "the next command of the device went ahead";
  device_answers();
  effects_.deliver_all();
  EXPECT_EQ(effects_.committed.at(0), 2);
  EXPECT_EQ(protocol_.busy(), 0u);
}

TEST_F(GatewayProtocolTest, AnOutcomeRefusedForGoodGivesTheCommandUpAndMovesOn) {
  protocol_.on_command(command("c1", "v1", 0));
  effects_.deliver_all();
  device_answers();
  effects_.deliver_pending();  // RESPONDED, CLOSED; the outcome is written next
  ASSERT_EQ(effects_.writes.back().topic, "evt");
  effects_.deliver(effects_.writes.size() - 1, false);
  EXPECT_EQ(effects_.finished, 1);
  EXPECT_EQ(effects_.committed.at(0), 1);
  EXPECT_EQ(counter("archer_actuator_outcomes_lost_total{section=\"valves\"}"), 1u);
}

TEST_F(GatewayProtocolTest, ACommandOfADeviceWaitsForTheOneBeforeIt) {
  protocol_.on_command(command("c1", "v1", 0));
  protocol_.on_command(command("c2", "v1", 1));
  protocol_.on_command(command("c3", "v2", 2));
  effects_.deliver_all();
  ASSERT_EQ(effects_.requests.size(), 2u) << "v1's second command waits; v2 goes ahead";
  EXPECT_EQ(effects_.requests[0].device, DeviceId("v1"));
  EXPECT_EQ(effects_.requests[1].device, DeviceId("v2"));
  protocol_.on_response("devices/v1/responses", effects_.requests[0].interaction.str(),
                        response(effects_.requests[0].interaction), "");
  effects_.deliver_all();
  ASSERT_EQ(effects_.requests.size(), 3u);
  EXPECT_EQ(effects_.requests[2].device, DeviceId("v1"));
  EXPECT_EQ(effects_.committed.at(0), 1) << "c3 is unfinished: the commit stops below it";
}

TEST_F(GatewayProtocolTest, AnInvalidAnswerToALiveInteractionIsADeadLetterAndFailsTheCommandWithTheReason) {
  protocol_.on_command(command("c1", "v1", 0));
  effects_.deliver_all();
  const InteractionId id = effects_.requests[0].interaction;
  // What a device built from an old schema, with another root's identifier, might send.
  Bytes wrong = response(id);
  wrong[4] = 'X';
  protocol_.on_response("devices/v1/responses", id.str(), wrong, "");
  ASSERT_EQ(effects_.dead_letters.size(), 1u);
  EXPECT_EQ(effects_.dead_letters[0].payload, wrong);
  EXPECT_EQ(effects_.dead_letters[0].detail, "file identifier 'XDRS', expected 'ADRS' (DeviceResponse)");
  EXPECT_EQ(effects_.dead_letters[0].correlation, id.str());
  effects_.deliver_all();
  ASSERT_EQ(effects_.outcomes().size(), 1u);
  EXPECT_EQ(effects_.outcomes()[0].status, OutcomeStatus::FAILED);
  EXPECT_EQ(
      effects_.outcomes()[0].detail,
      "the device answered with an invalid DeviceResponse: file identifier 'XDRS', expected 'ADRS' (DeviceResponse)");
}

TEST_F(GatewayProtocolTest, GarbageWithoutCorrelationIsADeadLetterAndChangesNothing) {
  protocol_.on_command(command("c1", "v1", 0));
  effects_.deliver_all();
  protocol_.on_response("devices/v1/responses", "", Bytes{1, 2, 3}, "");
  ASSERT_EQ(effects_.dead_letters.size(), 1u);
  EXPECT_EQ(effects_.dead_letters[0].detail, "3 bytes: too short for a DeviceResponse buffer");
  EXPECT_TRUE(effects_.outcomes().empty());
  device_answers();
  effects_.deliver_all();
  ASSERT_EQ(effects_.outcomes().size(), 1u);
  EXPECT_EQ(effects_.outcomes()[0].status, OutcomeStatus::SUCCEEDED);
}

TEST_F(GatewayProtocolTest, AnOpenInteractionFromTheLogResumesWithItsIdAndOpensNothingNew) {
  TransactionView view;
  view.apply(Transaction{InteractionId("i1"), CommandId("c1"), DeviceId("v1"), Phase::OPENED, 0, {}, 5, "", 0, 3});
  view.apply(Transaction{InteractionId("i1"), CommandId("c1"), DeviceId("v1"), Phase::SENT, 1, {}, 6, "", 0, 3});
  protocol_.restore(std::move(view), {}, {}, {{0, 3}});
  protocol_.on_command(command("c1", "v1", 3));
  ASSERT_EQ(effects_.requests.size(), 1u);
  EXPECT_EQ(effects_.requests[0].interaction, InteractionId("i1"));
  EXPECT_EQ(effects_.phases(), std::vector<Phase>{Phase::SENT});
  EXPECT_EQ(effects_.writes[0].entry.attempt, 2u);
}

TEST_F(GatewayProtocolTest, AnAnswerRecordedWhileDownClosesOnResumeWithoutAskingAgain) {
  TransactionView view;
  view.apply(Transaction{InteractionId("i1"), CommandId("c1"), DeviceId("v1"), Phase::OPENED, 0, {}, 5, "", 0, 0});
  view.apply(Transaction{InteractionId("i1"), CommandId("c1"), DeviceId("v1"), Phase::RESPONDED, 1,
                         response(InteractionId("i1"), ResponseStatus::REJECTED), 6, "", 0, 0});
  protocol_.restore(std::move(view), {}, {}, {{0, 0}});
  protocol_.on_command(command("c1", "v1", 0));
  effects_.deliver_all();
  EXPECT_TRUE(effects_.requests.empty());
  ASSERT_EQ(effects_.outcomes().size(), 1u);
  EXPECT_EQ(effects_.outcomes()[0].status, OutcomeStatus::REJECTED);
}

TEST_F(GatewayProtocolTest, AClosedCommandWhoseOutcomeWasLostIsReEmittedNotSentAgain) {
  const Bytes outcome = protocol::encode(
      protocol::Outcome{CommandId("c1"), InteractionId("i1"), DeviceId("v1"), OutcomeStatus::SUCCEEDED, {}, 12, ""});
  TransactionView view;
  view.apply(Transaction{InteractionId("i1"), CommandId("c1"), DeviceId("v1"), Phase::CLOSED, 1, outcome, 6, "", 0, 0});
  protocol_.restore(std::move(view), {}, {}, {{0, 0}});
  protocol_.on_command(command("c1", "v1", 0));
  EXPECT_TRUE(effects_.requests.empty());
  ASSERT_EQ(effects_.writes.size(), 1u);
  EXPECT_EQ(effects_.writes[0].outcome, outcome) << "the very outcome recorded";
}

TEST_F(GatewayProtocolTest, ACommandWithAnOutcomeIsOnlyCommitted) {
  TransactionView view;
  view.note_outcome(CommandId("c1"), {0, 0});
  protocol_.restore(std::move(view), {}, {}, {{0, 0}});
  protocol_.on_command(command("c1", "v1", 0));
  EXPECT_TRUE(effects_.writes.empty());
  EXPECT_EQ(effects_.committed.at(0), 1);
}

TEST_F(GatewayProtocolTest, AnOfflineDeviceIsWaitedForThenAskedWhenItComesBack) {
  effects_.offline.insert(DeviceId("v1"));
  protocol_.on_command(command("c1", "v1", 0));
  effects_.deliver_all();
  EXPECT_TRUE(effects_.requests.empty());
  effects_.advance(2000);
  EXPECT_TRUE(effects_.requests.empty()) << "no retries are spent while it is away";
  effects_.offline.clear();
  protocol_.on_device_online(DeviceId("v1"));
  ASSERT_EQ(effects_.requests.size(), 1u);
}

TEST_F(GatewayProtocolTest, TheViewForgetsFinishedCommandsBelowTheCommittedOffsetButKnowsALateAnswer) {
  for (int i = 0; i < 3; ++i) {
    protocol_.on_command(command("c" + std::to_string(i), "v" + std::to_string(i), i));
    effects_.deliver_all();
    device_answers();
    effects_.deliver_all();
  }
  EXPECT_EQ(effects_.committed.at(0), 3);
  EXPECT_EQ(protocol_.view().size(), 0u);
  EXPECT_EQ(protocol_.view().outcomes(), 0u);
  const std::size_t before = effects_.writes.size();
  device_answers();  // c2's device answers again
  ASSERT_EQ(effects_.writes.size(), before + 1);
  EXPECT_EQ(effects_.writes.back().entry.phase, Phase::RESPONDED);
  EXPECT_EQ(effects_.writes.back().entry.detail, "duplicate");
  EXPECT_EQ(effects_.outcomes().size(), 3u) << "a late answer changes nothing";
}

TEST_F(GatewayProtocolTest, ASnapshotHoldsWhatIsAboveTheCommittedOffsetAndNothingBelow) {
  protocol_.on_command(command("c0", "v0", 0));  // stays open
  protocol_.on_command(command("c1", "v1", 1));  // finishes, above the oldest unfinished
  effects_.deliver_all();
  protocol_.on_response("devices/v1/responses", effects_.requests[1].interaction.str(),
                        response(effects_.requests[1].interaction), "");
  effects_.deliver_all();
  auto snapshots = protocol_.snapshot("gw");
  ASSERT_EQ(snapshots.size(), 1u);
  EXPECT_EQ(snapshots[0].committed_offset, 0);
  ASSERT_EQ(snapshots[0].exchanges.size(), 1u);
  EXPECT_EQ(snapshots[0].exchanges[0].command_id, CommandId("c0"));
  ASSERT_EQ(snapshots[0].done.size(), 1u);
  EXPECT_EQ(snapshots[0].done[0].first, CommandId("c1"));
  EXPECT_GT(snapshots[0].transactions.at(0), 0);

  protocol_.on_response("devices/v0/responses", effects_.requests[0].interaction.str(),
                        response(effects_.requests[0].interaction), "");
  effects_.deliver_all();
  snapshots = protocol_.snapshot("gw");
  EXPECT_EQ(snapshots[0].committed_offset, 2);
  EXPECT_TRUE(snapshots[0].exchanges.empty());
  EXPECT_TRUE(snapshots[0].done.empty());
}

TEST_F(GatewayProtocolTest, NoSnapshotWhileEntriesOfUnknownPositionRemain) {
  TransactionView view;
  view.apply(Transaction{InteractionId("i1"), CommandId("old"), DeviceId("v1"), Phase::OPENED, 0, {}, 5, "", -1, -1});
  protocol_.restore(std::move(view), {}, {}, {{0, 0}});
  EXPECT_TRUE(protocol_.snapshot("gw").empty());
  protocol_.on_caught_up();
  EXPECT_EQ(protocol_.snapshot("gw").size(), 1u);
  EXPECT_EQ(protocol_.view().size(), 0u);
}

TEST_F(GatewayProtocolTest, AnInvalidCommandRecordGetsAFailedOutcome) {
  auto job = std::make_shared<Job>();
  job->position = {0, 0};
  job->key = "v1";
  job->record_id = "r1";
  job->invalid = "file identifier 'XXXX', expected 'ACMD' (Command)";
  protocol_.on_command(job);
  effects_.deliver_all();
  ASSERT_EQ(effects_.outcomes().size(), 1u);
  EXPECT_EQ(effects_.outcomes()[0].status, OutcomeStatus::FAILED);
  EXPECT_EQ(effects_.outcomes()[0].detail, "not a valid Command: file identifier 'XXXX', expected 'ACMD' (Command)");
  EXPECT_EQ(effects_.committed.at(0), 1);
}

// A device id that is no valid id would make the request topic another device's ('a/../b',
// 'v2/commands/x') or a publish the broker refuses ('+', '#'): such a command is never sent.
TEST_F(GatewayProtocolTest, ACommandForAnInvalidDeviceIdIsNeverSentAndFailsSayingWhy) {
  const std::vector<std::pair<std::string, std::string>> cases{
      {"v2/commands", "its device 'v2/commands' contains '/' (a topic level separator)"},
      {"+", "its device '+' contains the MQTT wildcard '+'"},
      {"#", "its device '#' contains the MQTT wildcard '#'"},
      {std::string("v1\0x", 4), "its device 'v1\\x00x' contains a NUL byte"},
      {std::string(129, 'v'),
       "its device '" + std::string(64, 'v') + "... (129 bytes)' is 129 bytes long, over the limit of 128"},
      {"", "its device is empty"},
  };
  std::int64_t offset = 0;
  for (const auto& [device, why] : cases) {
    protocol_.on_command(command("c" + std::to_string(offset), device, offset));
    ++offset;
  }
  effects_.deliver_all();
  EXPECT_TRUE(effects_.requests.empty()) << "nothing was published";
  EXPECT_TRUE(effects_.phases().empty()) << "no exchange was opened";
  const auto outcomes = effects_.outcomes();
  ASSERT_EQ(outcomes.size(), cases.size());
  for (std::size_t i = 0; i < cases.size(); ++i) {
    EXPECT_EQ(outcomes[i].status, OutcomeStatus::FAILED);
    EXPECT_EQ(outcomes[i].detail, "not a valid Command: " + cases[i].second);
  }
  EXPECT_EQ(counter("archer_actuator_invalid_commands_total{section=\"valves\"}"), cases.size());
  EXPECT_EQ(effects_.committed.at(0), static_cast<std::int64_t>(cases.size()));

  // A valid device right after them goes ahead as usual.
  protocol_.on_command(command("ok", "v1", offset));
  effects_.deliver_all();
  ASSERT_EQ(effects_.requests.size(), 1u);
  EXPECT_EQ(effects_.requests[0].device, DeviceId("v1"));
}

// Another device that knows (or guesses) the interaction id answers on its own response topic:
// the answer is not taken, the exchange goes on, and the addressed device's own answer decides.
TEST_F(GatewayProtocolTest, AnAnswerOnAnotherDevicesResponseTopicIsNotTakenAndTheAddressedDeviceDecides) {
  protocol_.on_command(command("c1", "v1", 0));
  effects_.deliver_all();
  const InteractionId id = effects_.requests[0].interaction;
  const Bytes forged = protocol::encode(DeviceResponse{id, ResponseStatus::REJECTED, "forged by v2", {}});
  protocol_.on_response("devices/v2/responses", id.str(), forged, "");
  effects_.deliver_all();
  EXPECT_EQ(effects_.phases(), (std::vector<Phase>{Phase::OPENED, Phase::SENT})) << "no RESPONDED, no CLOSED";
  EXPECT_TRUE(effects_.outcomes().empty());
  ASSERT_EQ(effects_.dead_letters.size(), 1u);
  EXPECT_EQ(effects_.dead_letters[0].error, "wrong_device");
  EXPECT_EQ(effects_.dead_letters[0].topic, "devices/v2/responses");
  EXPECT_EQ(effects_.dead_letters[0].payload, forged);
  EXPECT_EQ(effects_.dead_letters[0].detail,
            "answer to interaction " + id.str() +
                " of device v1 arrived on 'devices/v2/responses', not on that device's response topic "
                "'devices/v1/responses'");
  EXPECT_EQ(counter("archer_actuator_wrong_device_responses_total{section=\"valves\"}"), 1u);

  // An invalid answer from v2 naming v1's interaction does not end it either.
  protocol_.on_response("devices/v2/responses", id.str(), Bytes{1, 2, 3}, "");
  effects_.deliver_all();
  EXPECT_TRUE(effects_.outcomes().empty());
  EXPECT_EQ(counter("archer_actuator_wrong_device_responses_total{section=\"valves\"}"), 2u);

  device_answers(ResponseStatus::OK);
  effects_.deliver_all();
  const auto outcomes = effects_.outcomes();
  ASSERT_EQ(outcomes.size(), 1u);
  EXPECT_EQ(outcomes[0].status, OutcomeStatus::SUCCEEDED);
  EXPECT_EQ(outcomes[0].detail, "done");
  EXPECT_EQ(outcomes[0].response, response(id)) << "v1's own answer";
}

// After the exchange closed, or for an exchange known only from the log (resumed later), the rule
// is the same: an answer from another device's topic is never recorded as the response.
TEST_F(GatewayProtocolTest, AnAnswerFromAnotherDeviceIsNotRecordedForAnExchangeKnownFromTheLog) {
  TransactionView view;
  view.apply(Transaction{InteractionId("i1"), CommandId("c1"), DeviceId("v1"), Phase::OPENED, 0, {}, 5, "", 0, 3});
  view.apply(Transaction{InteractionId("i1"), CommandId("c1"), DeviceId("v1"), Phase::SENT, 1, {}, 6, "", 0, 3});
  protocol_.restore(std::move(view), {}, {}, {{0, 3}});
  protocol_.on_response("devices/v2/responses", "i1", response(InteractionId("i1")), "");
  EXPECT_TRUE(effects_.writes.empty()) << "nothing in the transaction log";
  ASSERT_EQ(effects_.dead_letters.size(), 1u);
  EXPECT_EQ(effects_.dead_letters[0].error, "wrong_device");
  const Exchange* exchange = protocol_.view().by_interaction(InteractionId("i1"));
  ASSERT_NE(exchange, nullptr);
  EXPECT_FALSE(exchange->answered);

  protocol_.on_command(command("c1", "v1", 3));
  effects_.deliver_all();
  ASSERT_EQ(effects_.requests.size(), 1u) << "resumed and asked v1 again, as if no answer had come";
  EXPECT_EQ(effects_.requests[0].interaction, InteractionId("i1"));
}

}  // namespace
}  // namespace archer::actuators
