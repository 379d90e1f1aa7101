// The actuator gateway end to end: commands in a real archer-devkafka, the real archer-bridge,
// devices on a real Mosquitto answering per the contract's device protocol. The round trip, kill -9
// recovery and replay run on both brokers: the `apache` instances on one Apache Kafka node shared by
// the program, each test with its own topics and gateway id (ctest label `kafka`).
#include <gtest/gtest.h>

#include <csignal>
#include <map>
#include <random>
#include <set>

#include <fmt/format.h>
#include <librdkafka/rdkafkacpp.h>

#include "archer/schemas/command_generated.h"
#include "archer/schemas/device_response_generated.h"
#include "archer/schemas/event_generated.h"
#include "archer/schemas/transaction_generated.h"
#include "archer/testing/bridge.h"
#include "archer/testing/command_writer.h"
#include "archer/testing/mqtt_client.h"
#include "archer/testing/on_both_brokers.h"
#include "archer/testing/test_devices.h"
#include "archer/testing/testing.h"
#include "archer/testing/valves_section.h"

namespace {

using namespace std::chrono_literals;
using archer::testing::Bridge;
using archer::testing::CommandWriter;
using archer::testing::DevKafka;
using archer::testing::DevKafkaOptions;
using archer::testing::KafkaCluster;
using archer::testing::KafkaConsumerForTest;
using archer::testing::KafkaKind;
using archer::testing::Mosquitto;
using archer::testing::Record;
using archer::testing::TestDevices;
using archer::testing::valves_section;
using archer::testing::ValveSettings;
using archer::testing::ValveTopics;
namespace cmd = archer::command;
namespace evt = archer::event;
namespace trx = archer::transaction;

// From the last "ready in" line of the gateway's log: how many transaction and event records the
// start read after its snapshots.
std::optional<std::uint64_t> records_read_at_last_start(const std::string& log) {
  const auto at = log.rfind("snapshot(s), ");
  if (at == std::string::npos) return std::nullopt;
  return std::stoull(log.substr(at + 13));
}

const evt::CommandOutcome* outcome_of(const Record& record) {
  flatbuffers::Verifier verifier(reinterpret_cast<const std::uint8_t*>(record.value.data()), record.value.size());
  EXPECT_TRUE(evt::VerifyCommandOutcomeBuffer(verifier));
  return evt::GetCommandOutcome(record.value.data());
}

const trx::Transaction* transaction_of(const Record& record) {
  flatbuffers::Verifier verifier(reinterpret_cast<const std::uint8_t*>(record.value.data()), record.value.size());
  EXPECT_TRUE(trx::VerifyTransactionBuffer(verifier));
  return trx::GetTransaction(record.value.data());
}

// Views into `outcomes`, which must outlive the map.
std::map<std::string, const evt::CommandOutcome*> by_command(const std::vector<Record>& outcomes) {
  std::map<std::string, const evt::CommandOutcome*> out;
  for (const Record& record : outcomes) out[outcome_of(record)->command_id()->str()] = outcome_of(record);
  return out;
}

class ActuatorTest : public ::testing::Test {
 protected:
  DevKafka kafka_{DevKafkaOptions()
                      .with_topic("cmd.valves:4")
                      .with_topic("tx.valves:4")
                      .with_topic("evt.valves:4")
                      .with_topic("evt.valves.replay:4")};
  Mosquitto mqtt_;
};

// On archer-devkafka and on Apache Kafka (one cluster per program): topics and gateway id per test.
class ActuatorOnBothBrokers : public archer::testing::OnBothBrokers {
 protected:
  void SetUp() override {
    OnBothBrokers::SetUp();
    if (IsSkipped()) return;
    topics_ = {topic("cmd.valves", 4), topic("tx.valves", 4), topic("evt.valves", 4), topic("dlq.valves", 1)};
    kafka().create_topic(topics_.events + ".replay", 4);
  }
  std::string section(const ValveSettings& settings = {}) const { return valves_section(topics_, settings); }

  ValveTopics topics_;
};

INSTANTIATE_TEST_SUITE_P(Brokers, ActuatorOnBothBrokers, ::testing::ValuesIn(archer::testing::all_kafka_kinds()),
                         archer::testing::kafka_kind_name);

TEST_P(ActuatorOnBothBrokers, TwoHundredCommandsToTwentyDevicesSucceedInOrderWithEveryStepLogged) {
  TestDevices devices(mqtt_.uri());
  auto bridge_ = bridge(section());
  Bridge& bridge = *bridge_;
  bridge.start();
  CommandWriter writer(bootstrap(), topics_.commands);
  std::map<std::string, std::vector<std::string>> sent;  // device -> "n" args in order
  std::vector<std::string> ids;
  for (int n = 0; n < 200; ++n) {
    const std::string device = fmt::format("v-{:03}", n % 20);
    ids.push_back(writer.write(device, n % 2 == 0 ? "open" : "close", {{"n", std::to_string(n)}}));
    sent[device].push_back(std::to_string(n));
  }
  writer.flush();

  KafkaConsumerForTest events(bootstrap(), {topics_.events});
  const auto outcomes = events.consume_until(200, 90s);
  ASSERT_EQ(outcomes.size(), 200u) << bridge.log();
  const auto outcome = by_command(outcomes);
  ASSERT_EQ(outcome.size(), 200u) << "one outcome per command";
  for (const std::string& id : ids) {
    ASSERT_EQ(outcome.count(id), 1u);
    EXPECT_EQ(outcome.at(id)->status(), evt::OutcomeStatus::SUCCEEDED) << id;
  }
  for (const Record& record : outcomes) EXPECT_FALSE(record.headers.at("archer-causation").empty());

  for (const auto& [device, numbers] : sent) {
    std::vector<std::string> performed;
    for (const auto& action : devices.actions(device)) performed.push_back(action.args.at("n"));
    EXPECT_EQ(performed, numbers) << device << " performed other commands, or in another order";
  }

  KafkaConsumerForTest transactions(bootstrap(), {topics_.transactions});
  const auto records = transactions.consume_until(800, 30s);
  ASSERT_EQ(records.size(), 800u);
  std::map<std::string, std::vector<std::pair<std::int64_t, const trx::Transaction*>>> steps;  // by command
  for (const Record& record : records) {
    const auto* t = transaction_of(record);
    EXPECT_EQ(record.key, t->device()->str());
    steps[t->command_id()->str()].emplace_back(record.offset, t);
  }
  for (auto& [command, list] : steps) {
    std::sort(list.begin(), list.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    std::vector<trx::Phase> phases;
    std::set<std::string> interactions;
    for (const auto& [offset, t] : list) {
      phases.push_back(t->phase());
      interactions.insert(t->interaction_id()->str());
    }
    EXPECT_EQ(phases, (std::vector<trx::Phase>{trx::Phase::OPENED, trx::Phase::SENT, trx::Phase::RESPONDED,
                                               trx::Phase::CLOSED}))
        << command;
    EXPECT_EQ(interactions.size(), 1u) << command;
  }
  EXPECT_EQ(bridge.stop(), 0);
}

TEST_F(ActuatorTest, RejectTimeoutExpiredAndDuplicateEachGiveTheirOutcome) {
  TestDevices devices(mqtt_.uri());
  devices.set_mode("v-reject", TestDevices::Mode::reject);
  devices.set_mode("v-silent", TestDevices::Mode::silent);
  devices.set_mode("v-twice", TestDevices::Mode::twice);
  Bridge bridge(mqtt_.uri(), kafka_.bootstrap(), valves_section({}, {.timeout = "300ms", .retries = 2}));
  bridge.start();
  CommandWriter writer(kafka_.bootstrap());
  const std::string rejected = writer.write("v-reject", "open");
  const std::string silent = writer.write("v-silent", "open");
  const std::string twice = writer.write("v-twice", "open");
  const std::string expired = writer.write("v-ok", "open", {}, 1000);  // deadline long past
  writer.flush();

  KafkaConsumerForTest events(kafka_.bootstrap(), {"evt.valves"});
  const auto outcomes = events.consume_until(4, 60s);
  const auto outcome = by_command(outcomes);
  ASSERT_EQ(outcome.size(), 4u) << bridge.log();
  EXPECT_EQ(outcome.at(rejected)->status(), evt::OutcomeStatus::REJECTED);
  EXPECT_EQ(outcome.at(silent)->status(), evt::OutcomeStatus::TIMED_OUT);
  EXPECT_EQ(outcome.at(twice)->status(), evt::OutcomeStatus::SUCCEEDED);
  EXPECT_EQ(outcome.at(expired)->status(), evt::OutcomeStatus::EXPIRED);
  EXPECT_EQ(devices.actions("v-ok").size(), 0u) << "an expired command reaches no device";
  EXPECT_EQ(devices.actions("v-twice").size(), 1u);

  KafkaConsumerForTest transactions(kafka_.bootstrap(), {"tx.valves"});
  std::map<std::string, std::vector<std::pair<trx::Phase, std::string>>> steps;
  std::set<std::string> silent_interactions;
  std::vector<std::uint32_t> silent_attempts;
  // rejected: 4 records; silent: OPENED + 3 SENT + TIMED_OUT + CLOSED = 6; twice: 4 + the duplicate.
  const auto records = transactions.consume_until(15, 30s);
  ASSERT_EQ(records.size(), 15u);
  for (const Record& record : records) {
    const auto* t = transaction_of(record);
    steps[t->command_id()->str()].emplace_back(t->phase(), t->detail() ? t->detail()->str() : "");
    if (t->command_id()->str() == silent) {
      silent_interactions.insert(t->interaction_id()->str());
      if (t->phase() == trx::Phase::SENT) silent_attempts.push_back(t->attempt());
    }
  }
  EXPECT_EQ(silent_interactions.size(), 1u) << "retries reuse the interaction id";
  EXPECT_EQ(silent_attempts, (std::vector<std::uint32_t>{1, 2, 3}));
  EXPECT_EQ(steps[silent].back().first, trx::Phase::CLOSED);
  EXPECT_EQ(steps[silent][steps[silent].size() - 2].first, trx::Phase::TIMED_OUT);
  const auto& twice_steps = steps[twice];
  ASSERT_EQ(twice_steps.size(), 5u);
  EXPECT_EQ(
      std::count_if(twice_steps.begin(), twice_steps.end(),
                    [](const auto& step) { return step.first == trx::Phase::RESPONDED && step.second == "duplicate"; }),
      1);
  EXPECT_EQ(steps.count(expired), 0u) << "no exchange is opened for an expired command";
  EXPECT_EQ(bridge.stop(), 0);
}

TEST_F(ActuatorTest, ALateResponseIsRecordedAndChangesNothing) {
  TestDevices devices(mqtt_.uri(), 1200ms);
  devices.set_mode("v-late", TestDevices::Mode::late);
  Bridge bridge(mqtt_.uri(), kafka_.bootstrap(), valves_section({}, {.timeout = "300ms", .retries = 0}));
  bridge.start();
  CommandWriter writer(kafka_.bootstrap());
  const std::string late = writer.write("v-late", "open");
  writer.flush();
  KafkaConsumerForTest events(kafka_.bootstrap(), {"evt.valves"});
  const auto outcomes = events.consume_until(1, 30s);
  ASSERT_EQ(outcomes.size(), 1u) << bridge.log();
  EXPECT_EQ(outcome_of(outcomes[0])->status(), evt::OutcomeStatus::TIMED_OUT);

  KafkaConsumerForTest transactions(kafka_.bootstrap(), {"tx.valves"});
  const auto records = transactions.consume_until(5, 30s);  // OPENED SENT TIMED_OUT CLOSED + late RESPONDED
  ASSERT_EQ(records.size(), 5u) << bridge.log();
  EXPECT_TRUE(transactions.consume_until(1, 1s).empty());
  const auto* last = transaction_of(records.back());
  EXPECT_EQ(last->phase(), trx::Phase::RESPONDED);
  EXPECT_EQ(last->detail()->str(), "late");
  EXPECT_TRUE(events.consume_until(1, 1s).empty()) << "the late answer changed the outcome";
  EXPECT_EQ(bridge.stop(), 0);
}

TEST_F(ActuatorTest, AnOfflineDeviceIsWaitedForUntilItComesOnline) {
  TestDevices devices(mqtt_.uri());
  devices.announce("v-sleepy", false);
  devices.announce("v-gone", false);
  Bridge bridge(mqtt_.uri(), kafka_.bootstrap(), valves_section({}, {.timeout = "300ms", .retries = 1}));
  bridge.start();
  CommandWriter writer(kafka_.bootstrap());
  const auto now =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count();
  const std::string sleepy = writer.write("v-sleepy", "open", {}, now + 60'000);
  const std::string gone = writer.write("v-gone", "open", {}, now + 1'500);
  writer.flush();
  KafkaConsumerForTest events(kafka_.bootstrap(), {"evt.valves"});
  const auto first_records = events.consume_until(1, 30s);
  auto first = by_command(first_records);
  ASSERT_EQ(first.count(gone), 1u) << bridge.log();
  EXPECT_EQ(first.at(gone)->status(), evt::OutcomeStatus::TIMED_OUT);
  EXPECT_EQ(first.at(gone)->detail()->str(), "device offline until the deadline");
  EXPECT_EQ(devices.requests_received(), 0u) << "no retries were burnt on offline devices";

  devices.announce("v-sleepy", true);
  const auto second_records = events.consume_until(1, 30s);
  auto second = by_command(second_records);
  ASSERT_EQ(second.count(sleepy), 1u) << bridge.log();
  EXPECT_EQ(second.at(sleepy)->status(), evt::OutcomeStatus::SUCCEEDED);
  EXPECT_EQ(bridge.stop(), 0);
}

TEST_F(ActuatorTest, TraceContextTravelsToTheDeviceAndBack) {
  TestDevices devices(mqtt_.uri());
  archer::testing::MqttClient spy(mqtt_.uri(), "spy");
  spy.subscribe("devices/+/commands");
  Bridge bridge(mqtt_.uri(), kafka_.bootstrap(), valves_section());
  bridge.start();
  CommandWriter writer(kafka_.bootstrap());
  const std::string trace = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
  writer.write("v-traced", "open", {}, 0, trace);
  writer.flush();
  auto requests = spy.wait_messages(1, 30s);
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(mqtt::get<mqtt::string_pair>(requests[0]->get_properties(), mqtt::property::USER_PROPERTY),
            (mqtt::string_pair{"traceparent", trace}));
  KafkaConsumerForTest events(kafka_.bootstrap(), {"evt.valves"});
  auto outcomes = events.consume_until(1, 30s);
  ASSERT_EQ(outcomes.size(), 1u);
  EXPECT_EQ(outcomes[0].headers.at("traceparent"), trace);
  KafkaConsumerForTest transactions(kafka_.bootstrap(), {"tx.valves"});
  for (const Record& record : transactions.consume_until(4, 30s)) EXPECT_EQ(record.headers.at("traceparent"), trace);
  EXPECT_EQ(bridge.stop(), 0);
}

TEST_P(ActuatorOnBothBrokers, ReplayAnswersFromTheLogSendsNothingAndIsDeterministic) {
  CommandWriter writer(bootstrap(), topics_.commands);
  std::vector<std::string> executed;
  {
    TestDevices devices(mqtt_.uri());
    devices.set_mode("v-002", TestDevices::Mode::reject);
    auto bridge_ = bridge(section());
    Bridge& bridge = *bridge_;
    bridge.start();
    for (int n = 0; n < 30; ++n) executed.push_back(writer.write(fmt::format("v-{:03}", n % 5), "open"));
    writer.flush();
    KafkaConsumerForTest events(bootstrap(), {topics_.events});
    ASSERT_EQ(events.consume_until(30, 60s).size(), 30u) << bridge.log();
    ASSERT_EQ(bridge.stop(), 0);
  }
  const std::string never_run = writer.write("v-001", "close");  // written while no gateway runs
  writer.flush();

  archer::testing::MqttClient spy(mqtt_.uri(), "spy");
  spy.subscribe("devices/+/commands");
  auto replayer_ = bridge(section());
  Bridge& replayer = *replayer_;
  auto run_replay = [&] {
    archer::testing::Process replay({std::string(ARCHER_BIN_DIR) + "/archer-bridge", "--config",
                                     replayer.config_file().string(), "--replay", "--from-beginning"},
                                    archer::testing::ProcessOptions{}.without_stdout_capture());
    EXPECT_EQ(replay.wait_exit(60s), 0);
  };
  run_replay();
  KafkaConsumerForTest originals(bootstrap(), {topics_.events});
  std::map<std::string, std::string> original;
  for (const Record& record : originals.consume_until(30, 30s))
    original[outcome_of(record)->command_id()->str()] = record.value;
  KafkaConsumerForTest replayed(bootstrap(), {topics_.events + ".replay"});
  const auto first = replayed.consume_until(31, 30s);
  ASSERT_EQ(first.size(), 31u);
  std::map<std::string, std::string> first_values;
  for (const Record& record : first) first_values[outcome_of(record)->command_id()->str()] = record.value;
  for (const std::string& id : executed)
    EXPECT_EQ(first_values.at(id), original.at(id)) << "replayed outcome differs: " << id;
  EXPECT_EQ(by_command(first).at(never_run)->status(), evt::OutcomeStatus::NOT_EXECUTED);

  run_replay();
  const auto second = replayed.consume_until(31, 30s);
  ASSERT_EQ(second.size(), 31u);
  std::map<std::string, std::string> second_values;
  for (const Record& record : second) second_values[outcome_of(record)->command_id()->str()] = record.value;
  EXPECT_EQ(second_values, first_values) << "two replays differ";
  EXPECT_EQ(spy.received_count(), 0u) << "replay sent something to a device";
}

// A restart reads the latest snapshot and only what the logs hold after it, not the whole history;
// and what it knows from the snapshot is enough: no command is executed twice.
TEST_F(ActuatorTest, ARestartReadsTheSnapshotAndOnlyTheLogsAfterIt) {
  TestDevices devices(mqtt_.uri());
  Bridge bridge(mqtt_.uri(), kafka_.bootstrap(), valves_section());
  bridge.start();
  CommandWriter writer(kafka_.bootstrap());
  for (int n = 0; n < 100; ++n) writer.write(fmt::format("v-{:02}", n % 10), "set", {{"n", std::to_string(n)}});
  writer.flush();
  KafkaConsumerForTest events(kafka_.bootstrap(), {"evt.valves"});
  ASSERT_EQ(events.consume_until(100, 60s).size(), 100u) << bridge.log();
  ASSERT_EQ(bridge.stop(), 0);  // writes a last snapshot

  KafkaConsumerForTest snapshots(kafka_.bootstrap(), {"snapshot.gw-test"});
  EXPECT_FALSE(snapshots.consume_until(1, 10s).empty()) << "no snapshot was written";
  bridge.start();
  ASSERT_TRUE(archer::testing::wait_until(
      [&] {
        return records_read_at_last_start(bridge.log()).has_value() &&
               bridge.log().rfind("ready in") > bridge.log().rfind("starting");
      },
      20s, 50ms))
      << bridge.log();
  EXPECT_EQ(records_read_at_last_start(bridge.log()), 0u)
      << "the start read the logs (400 transaction records) instead of the snapshot:\n"
      << bridge.log();
  for (int n = 100; n < 120; ++n) writer.write(fmt::format("v-{:02}", n % 10), "set", {{"n", std::to_string(n)}});
  writer.flush();
  ASSERT_EQ(events.consume_until(20, 60s).size(), 20u) << bridge.log();
  EXPECT_TRUE(events.consume_until(1, 2s).empty()) << "a command of before the restart got a second outcome";
  std::size_t actions = 0;
  for (int d = 0; d < 10; ++d) actions += devices.actions(fmt::format("v-{:02}", d)).size();
  EXPECT_EQ(actions, 120u) << "a device acted twice, or not at all";
  EXPECT_EQ(bridge.stop(), 0);
}

TEST_P(ActuatorOnBothBrokers, KilledAtRandomMomentsEveryCommandGetsOneOutcomeAndActsAtMostOnce) {
  TestDevices devices(mqtt_.uri());
  // Snapshots every 300 ms: restarts recover from a snapshot plus the logs after it.
  auto bridge_ = bridge(section({.timeout = "1s", .retries = 3, .snapshot_interval = "300ms"}));
  Bridge& bridge = *bridge_;
  bridge.start();
  CommandWriter writer(bootstrap(), topics_.commands);
  std::vector<std::string> ids;
  for (int n = 0; n < 300; ++n)
    ids.push_back(writer.write(fmt::format("v-{:02}", n % 30), "set", {{"n", std::to_string(n)}}));
  writer.flush();

  KafkaConsumerForTest events(bootstrap(), {topics_.events});
  std::vector<Record> outcomes;
  std::mt19937 random(20261127);
  for (int kill = 0; kill < 5; ++kill) {
    // Kill after a random share of the remaining work has been done.
    const std::size_t target = outcomes.size() + 1 + random() % 40;
    auto more = events.consume_until(target - outcomes.size(), 60s);
    outcomes.insert(outcomes.end(), more.begin(), more.end());
    bridge.kill9();
    bridge.start();
  }
  auto rest = events.consume_until(300 - std::min<std::size_t>(outcomes.size(), 300), 120s);
  outcomes.insert(outcomes.end(), rest.begin(), rest.end());
  auto extra = events.consume_until(1, 3s);
  outcomes.insert(outcomes.end(), extra.begin(), extra.end());

  std::map<std::string, int> outcome_count;
  for (const Record& record : outcomes) {
    ++outcome_count[outcome_of(record)->command_id()->str()];
    EXPECT_EQ(outcome_of(record)->status(), evt::OutcomeStatus::SUCCEEDED)
        << (outcome_of(record)->detail() != nullptr ? outcome_of(record)->detail()->str() : "");
  }
  for (const std::string& id : ids) EXPECT_EQ(outcome_count[id], 1) << "command " << id;
  EXPECT_EQ(outcome_count.size(), 300u);
  std::map<std::string, int> performed;
  for (int d = 0; d < 30; ++d) {
    for (const auto& action : devices.actions(fmt::format("v-{:02}", d))) ++performed[action.args.at("n")];
  }
  for (const auto& [n, times] : performed) EXPECT_EQ(times, 1) << "command n=" << n << " acted more than once";
  EXPECT_EQ(performed.size(), 300u);
  EXPECT_EQ(bridge.stop(), 0);
}

}  // namespace
