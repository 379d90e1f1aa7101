// The fault suite, actuator side: Kafka goes away in the middle of a stream of commands. Every
// command must still get exactly one outcome, and no device may act on a command twice. Kafka away
// runs on both brokers: on Apache Kafka (one node shared by the program, ctest label `kafka`) the whole
// cluster is stopped and started again.
#include <gtest/gtest.h>

#include <unistd.h>

#include <atomic>
#include <map>
#include <thread>

#include <fmt/format.h>
#include <librdkafka/rdkafkacpp.h>
#include <iostream>

#include "archer/schemas/command_generated.h"
#include "archer/schemas/device_response_generated.h"
#include "archer/schemas/event_generated.h"
#include "archer/testing/bridge.h"
#include "archer/testing/command_writer.h"
#include "archer/testing/on_both_brokers.h"
#include "archer/testing/test_devices.h"
#include "archer/testing/testing.h"
#include "archer/testing/valves_section.h"
#include "figures.h"

namespace {

using namespace std::chrono_literals;
using archer::faults::http_head;
using archer::faults::outcome_of;
using archer::faults::scrape;
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
namespace cmd = archer::command;
namespace evt = archer::event;

class ActuatorFaults : public ::testing::Test {
 protected:
  // Every outcome of the event log until `commands` commands have one (or the deadline), then what
  // arrives in 2 s more (repeats arrive behind): command id -> its outcomes.
  std::map<std::string, std::vector<Record>> outcomes_until(KafkaConsumerForTest& events, std::size_t commands,
                                                            std::chrono::seconds timeout) {
    std::map<std::string, std::vector<Record>> out;
    auto take = [&](const std::vector<Record>& records) {
      for (const Record& record : records) {
        const auto* outcome = outcome_of(record);
        if (outcome != nullptr) out[outcome->command_id()->str()].push_back(record);
      }
    };
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (out.size() < commands && std::chrono::steady_clock::now() < deadline)
      take(events.consume_until(commands, 1s));
    take(events.consume_until(1000, 2s));
    return out;
  }

  DevKafka kafka_{DevKafkaOptions().with_topic("cmd.valves:4").with_topic("tx.valves:4").with_topic("evt.valves:4")};
  Mosquitto mqtt_;
};

// On archer-devkafka and on Apache Kafka (one cluster per program): topics and gateway id per test.
class ActuatorFaultsOnBothBrokers : public archer::testing::OnBothBrokers {
 protected:
  void SetUp() override {
    OnBothBrokers::SetUp();
    if (IsSkipped()) return;
    topics_ = {topic("cmd.valves", 4), topic("tx.valves", 4), topic("evt.valves", 4), topic("dlq.valves", 1)};
  }

  archer::testing::ValveTopics topics_;
};

INSTANTIATE_TEST_SUITE_P(Brokers, ActuatorFaultsOnBothBrokers, ::testing::ValuesIn(archer::testing::all_kafka_kinds()),
                         archer::testing::kafka_kind_name);

// 8. Kafka away for a while in the middle of 100 commands: every command gets exactly one outcome
// once it is back, and every device acts at most once per command.
TEST_P(ActuatorFaultsOnBothBrokers, ActuatorKafkaDown) {
  const auto started = std::chrono::steady_clock::now();
  constexpr int kCommands = 100;
  constexpr int kDevices = 10;
  const auto away = std::chrono::seconds(archer::faults::env_long("ARCHER_ACTUATOR_AWAY_SECONDS", 10));
  TestDevices devices(mqtt_.uri());
  auto gateway = bridge(valves_section(topics_, {.retries = 3}));
  Bridge& bridge = *gateway;
  bridge.start();
  KafkaConsumerForTest events(bootstrap(), {topics_.events});

  // Commands go out at 5/s (a schedule, like an application's), so the outage falls in the middle.
  CommandWriter writer(bootstrap(), topics_.commands);
  std::vector<std::string> ids(kCommands);
  std::atomic<int> written{0};
  std::thread producer([&] {
    const auto start = std::chrono::steady_clock::now();
    for (int n = 0; n < kCommands; ++n) {
      std::this_thread::sleep_until(start + n * 200ms);
      ids[static_cast<std::size_t>(n)] =
          writer.write(fmt::format("v-{:02}", n % kDevices), "set", {{"n", std::to_string(n)}});
      written = n + 1;
    }
  });

  std::vector<Record> outcomes;
  const std::size_t before_fault = 25;
  while (outcomes.size() < before_fault) {
    auto more = events.consume_until(before_fault - outcomes.size(), 60s);
    if (more.empty()) break;
    outcomes.insert(outcomes.end(), more.begin(), more.end());
  }
  EXPECT_GE(outcomes.size(), before_fault) << "commands were not being processed before the fault:\n" << bridge.log();
  const int written_at_down = written.load();
  archer::faults::take_kafka_away(kafka());
  std::this_thread::sleep_for(away);  // the outage
  archer::faults::bring_kafka_back(kafka());
  producer.join();
  writer.flush(60s);

  std::map<std::string, int> outcome_count;
  std::map<std::string, int> by_status;
  auto count = [&](const Record& record) {
    const auto* outcome = outcome_of(record);
    ASSERT_NE(outcome, nullptr) << "an event that is not a CommandOutcome";
    ++outcome_count[outcome->command_id()->str()];
  };
  for (const Record& record : outcomes) count(record);
  const auto deadline = std::chrono::steady_clock::now() + 120s;
  while (outcome_count.size() < static_cast<std::size_t>(kCommands) && std::chrono::steady_clock::now() < deadline) {
    for (const Record& record : events.consume_until(kCommands, 1s)) {
      outcomes.push_back(record);
      count(record);
    }
  }
  for (const Record& record : events.consume_until(1000, 3s)) {  // anything repeated arrives behind
    outcomes.push_back(record);
    count(record);
  }
  for (const Record& record : outcomes) {
    if (const auto* outcome = outcome_of(record)) ++by_status[evt::EnumNameOutcomeStatus(outcome->status())];
  }

  std::uint64_t missing = 0;
  std::uint64_t repeated_outcomes = 0;
  for (const std::string& id : ids) {
    const int c = outcome_count.count(id) != 0 ? outcome_count.at(id) : 0;
    if (c == 0) ++missing;
    if (c > 1) repeated_outcomes += static_cast<std::uint64_t>(c - 1);
    EXPECT_EQ(c, 1) << "command " << id;
  }
  std::map<std::string, int> performed;
  for (int d = 0; d < kDevices; ++d) {
    for (const auto& action : devices.actions(fmt::format("v-{:02}", d))) ++performed[action.args.at("n")];
  }
  std::uint64_t repeated_actions = 0;
  for (const auto& [n, times] : performed) {
    if (times > 1) repeated_actions += static_cast<std::uint64_t>(times - 1);
    EXPECT_EQ(times, 1) << "command n=" << n << " was performed " << times << " times";
  }

  archer::faults::Figures f;
  f.scenario = GetParam() == KafkaKind::apache ? "actuator_kafka_down_apache" : "actuator_kafka_down";
  f.published = kCommands;
  f.acked = kCommands;
  f.delivered = outcome_count.size();
  f.lost = missing;
  f.duplicated = repeated_outcomes;
  f.seconds = archer::faults::seconds_since(started);
  f.with("away_s", std::to_string(away.count()))
      .with("written_at_down", std::to_string(written_at_down))
      .with("outcomes_before_down", std::to_string(before_fault))
      .with("actions", std::to_string(performed.size()))
      .with("repeated_actions", std::to_string(repeated_actions));
  std::string statuses;
  for (const auto& [status, n] : by_status)
    statuses += (statuses.empty() ? "" : ",") + status + ":" + std::to_string(n);
  f.with("outcomes", statuses);
  archer::faults::print(f);

  EXPECT_EQ(missing, 0u) << bridge.log();
  EXPECT_EQ(repeated_outcomes, 0u);
  EXPECT_EQ(repeated_actions, 0u);
  EXPECT_EQ(bridge.stop(), 0);
}

// 9. Ingest backpressure never stalls actuation: the raw datalog refuses writes (no leader) until the
// spool is full and the telemetry session's callback waits; commands still complete within their
// timeout, over the actuation session. Then the datalog is back and no reading is lost.
TEST_F(ActuatorFaults, CommandsCompleteWhileTheRawDatalogRefusesWrites) {
  kafka_.create_topic("raw.telemetry", 3);
  kafka_.create_topic("dlq.telemetry", 1);
  archer::faults::Datalog datalog(kafka_.bootstrap());
  TestDevices devices(mqtt_.uri());
  const std::uint16_t port = archer::testing::free_port();
  Bridge bridge(mqtt_.uri(), kafka_.bootstrap(),
                http_head(port, "max_size = \"1MiB\"") + archer::faults::telemetry_section() + valves_section());
  bridge.start();
  for (int partition = 0; partition < 3; ++partition) kafka_.set_leader("raw.telemetry", partition, -1);
  archer::faults::LoadOptions o;
  o.devices = 50;
  o.rate = 1000;
  o.seconds = 20;
  archer::faults::Load load(mqtt_.uri(), o);
  ASSERT_TRUE(
      archer::testing::wait_until([&] { return scrape(port, "archer_spool_full_total").value_or(0) > 0; }, 30s, 100ms))
      << "the spool never filled:\n"
      << bridge.log();

  CommandWriter writer(kafka_.bootstrap());
  std::vector<std::string> ids;
  for (int n = 0; n < 20; ++n) ids.push_back(writer.write(fmt::format("v-{:02}", n % 10), "open"));
  writer.flush();
  KafkaConsumerForTest events(kafka_.bootstrap(), {"evt.valves"});
  const auto outcomes = outcomes_until(events, ids.size(), 20s);
  for (const std::string& id : ids) {
    ASSERT_EQ(outcomes.count(id), 1u) << "command " << id << " has no outcome:\n" << bridge.log();
    const auto* outcome = outcome_of(outcomes.at(id).front());
    EXPECT_EQ(outcome->status(), evt::OutcomeStatus::SUCCEEDED) << id;
    EXPECT_LT(outcome->latency_ms(), 2000) << "answered within the first attempt's timeout";
  }
  EXPECT_GT(scrape(port, "archer_spool_full_total").value_or(0), 0) << "still full while the commands ran";

  for (int partition = 0; partition < 3; ++partition) kafka_.set_leader("raw.telemetry", partition, 1);
  const auto report = load.finish();
  ASSERT_TRUE(report.ok);
  datalog.collect(report.acked, 120s);
  EXPECT_EQ(datalog.distinct(), report.acked) << "readings lost:\n" << datalog.describe_gaps();
  EXPECT_EQ(bridge.stop(), 0);
}

// 10. A fatal error of the actuator producer (librdkafka 2.0.2 can raise one for an idempotent
// producer): it is replaced, what it held is sent again, every command gets its outcome and no
// device acts twice. A record the old producer had sent but not yet heard back about can be written
// twice (the same outcome, again): counted, not lost.
TEST_F(ActuatorFaults, AFatalActuatorProducerIsReplacedAndEveryCommandGetsItsOutcome) {
  TestDevices devices(mqtt_.uri());
  const std::uint16_t port = archer::testing::free_port();
  Bridge bridge(mqtt_.uri(), kafka_.bootstrap(), http_head(port) + valves_section());
  bridge.add_env("ARCHER_TEST_FATAL_PRODUCER_AFTER=actuators:40");
  bridge.start();
  CommandWriter writer(kafka_.bootstrap());
  std::vector<std::string> ids;
  for (int n = 0; n < 60; ++n)
    ids.push_back(writer.write(fmt::format("v-{:02}", n % 10), "set", {{"n", std::to_string(n)}}));
  writer.flush();
  KafkaConsumerForTest events(kafka_.bootstrap(), {"evt.valves"});
  const auto outcomes = outcomes_until(events, ids.size(), 60s);
  std::uint64_t repeated = 0;
  for (const std::string& id : ids) {
    ASSERT_EQ(outcomes.count(id), 1u) << "command " << id << " has no outcome:\n" << bridge.log();
    const auto& records = outcomes.at(id);
    repeated += records.size() - 1;
    for (const Record& record : records)
      EXPECT_EQ(record.value, records.front().value) << "one outcome, repeated at most";
    EXPECT_EQ(outcome_of(records.front())->status(), evt::OutcomeStatus::SUCCEEDED);
  }
  std::map<std::string, int> performed;
  for (int d = 0; d < 10; ++d) {
    for (const auto& action : devices.actions(fmt::format("v-{:02}", d))) ++performed[action.args.at("n")];
  }
  EXPECT_EQ(performed.size(), ids.size());
  for (const auto& [n, times] : performed) EXPECT_EQ(times, 1) << "command n=" << n << " was performed twice";
  EXPECT_EQ(scrape(port, "archer_actuator_producers_replaced_total").value_or(-1), 1) << bridge.log();
  std::cout << "FIGURES scenario=actuator_fatal_producer commands=" << ids.size() << " repeated_outcomes=" << repeated
            << std::endl;
  EXPECT_EQ(bridge.stop(), 0);
}

// 11. Kafka unreachable at start: the gateway cannot read its logs. It says so in /readyz (503 and
// the reason) and the log, keeps trying, and becomes ready on its own once Kafka is back.
TEST_F(ActuatorFaults, ReadyzSaysWhyWhileTheLogsCannotBeReadAndRecoversOnItsOwn) {
  TestDevices devices(mqtt_.uri());
  const std::uint16_t port = archer::testing::free_port();
  kafka_.command("down all");
  Bridge bridge(mqtt_.uri(), kafka_.bootstrap(), http_head(port) + valves_section());
  bridge.launch();
  std::string body;
  ASSERT_TRUE(archer::testing::wait_until(
      [&] {
        const auto response = archer::faults::http_request(port, "/readyz");
        body = response ? response->body : "";
        return response && response->status == 503 &&
               body.find("actuator valves: cannot read its logs") != std::string::npos;
      },
      40s, 200ms))
      << "last /readyz: " << body << "\n"
      << bridge.log();
  kafka_.command("up all");
  ASSERT_TRUE(archer::testing::wait_until(
      [&] {
        const auto response = archer::faults::http_request(port, "/readyz");
        return response && response->status == 200;
      },
      60s, 200ms))
      << bridge.log();
  CommandWriter writer(kafka_.bootstrap());
  const std::string id = writer.write("v-01", "open");
  writer.flush();
  KafkaConsumerForTest events(kafka_.bootstrap(), {"evt.valves"});
  const auto outcomes = outcomes_until(events, 1, 30s);
  ASSERT_EQ(outcomes.count(id), 1u) << bridge.log();
  EXPECT_EQ(outcome_of(outcomes.at(id).front())->status(), evt::OutcomeStatus::SUCCEEDED);
  EXPECT_EQ(bridge.stop(), 0);
}

// 12. The transaction log refuses a record for good (a command too large for it): the command cannot
// be recorded, so it is not sent; it ends FAILED with the reason, and its device is free for the next
// command. (Before, the refused produce dropped the command's completion and its device stayed busy
// forever.)
TEST_F(ActuatorFaults, ARefusedTransactionRecordFailsTheCommandAndFreesItsDevice) {
  TestDevices devices(mqtt_.uri());
  // The producer takes records of up to 100 kB: the OPENED record of a 150 kB command is refused.
  Bridge bridge(mqtt_.uri(), kafka_.bootstrap(), valves_section(), "archer-test-gw", "\"message.max.bytes\" = 100000");
  bridge.start();
  KafkaConsumerForTest events(kafka_.bootstrap(), {"evt.valves"});
  CommandWriter writer(kafka_.bootstrap());
  const std::string refused = writer.write("v-01", "open", {{"note", std::string(150'000, 'x')}});
  const std::string next = writer.write("v-01", "open");
  writer.flush();
  const auto outcomes = outcomes_until(events, 2, 30s);
  ASSERT_EQ(outcomes.count(refused), 1u) << bridge.log();
  const auto* outcome = outcome_of(outcomes.at(refused).front());
  EXPECT_EQ(outcome->status(), evt::OutcomeStatus::FAILED);
  EXPECT_NE(outcome->detail()->str().find("the transaction log refused the command"), std::string::npos)
      << outcome->detail()->str();
  ASSERT_EQ(outcomes.count(next), 1u) << "the device stayed busy:\n" << bridge.log();
  EXPECT_EQ(outcome_of(outcomes.at(next).front())->status(), evt::OutcomeStatus::SUCCEEDED);
  ASSERT_EQ(devices.actions("v-01").size(), 1u) << "only the second command reached the device";
  EXPECT_EQ(bridge.stop(), 0);
}

}  // namespace
