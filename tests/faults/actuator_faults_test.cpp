// The fault suite, actuator side: Kafka goes away in the middle of a stream of commands. Every
// command must still get exactly one outcome, and no device may act on a command twice.
#include <gtest/gtest.h>

#include <unistd.h>

#include <atomic>
#include <map>
#include <thread>

#include <fmt/format.h>
#include <librdkafka/rdkafkacpp.h>

#include "archer/schemas/command_generated.h"
#include "archer/schemas/event_generated.h"
#include "archer/testing/bridge.h"
#include "archer/testing/command_writer.h"
#include "archer/testing/test_devices.h"
#include "archer/testing/testing.h"
#include "figures.h"

namespace {

using namespace std::chrono_literals;
using archer::testing::Bridge;
using archer::testing::CommandWriter;
using archer::testing::DevKafka;
using archer::testing::DevKafkaOptions;
using archer::testing::KafkaConsumerForTest;
using archer::testing::Mosquitto;
using archer::testing::Record;
using archer::testing::TestDevices;
namespace cmd = archer::command;
namespace evt = archer::event;

const evt::CommandOutcome* outcome_of(const Record& record) {
  flatbuffers::Verifier verifier(reinterpret_cast<const std::uint8_t*>(record.value.data()), record.value.size());
  if (!evt::VerifyCommandOutcomeBuffer(verifier)) return nullptr;
  return evt::GetCommandOutcome(record.value.data());
}

class ActuatorFaults : public ::testing::Test {
 protected:
  DevKafka kafka_{DevKafkaOptions().with_topic("cmd.valves:4").with_topic("tx.valves:4").with_topic("evt.valves:4")};
  Mosquitto mqtt_;
};

// 8. Kafka away for a while in the middle of 100 commands: every command gets exactly one outcome
// once it is back, and every device acts at most once per command.
TEST_F(ActuatorFaults, ActuatorKafkaDown) {
  const auto started = std::chrono::steady_clock::now();
  constexpr int kCommands = 100;
  constexpr int kDevices = 10;
  const auto away = std::chrono::seconds(archer::faults::env_long("ARCHER_ACTUATOR_AWAY_SECONDS", 10));
  TestDevices devices(mqtt_.uri());
  Bridge bridge(mqtt_.uri(), kafka_.bootstrap(), R"([[actuator]]
name = "valves"
commands = "cmd.valves"
transactions = "tx.valves"
events = "evt.valves"
timeout = "2s"
retries = 3
)");
  bridge.start();
  KafkaConsumerForTest events(kafka_.bootstrap(), {"evt.valves"});

  // Commands go out at 5/s (a schedule, like an application's), so the outage falls in the middle.
  CommandWriter writer(kafka_.bootstrap());
  std::vector<std::string> ids(kCommands);
  std::atomic<int> written{0};
  std::thread producer([&] {
    const auto start = std::chrono::steady_clock::now();
    for (int n = 0; n < kCommands; ++n) {
      std::this_thread::sleep_until(start + n * 200ms);
      ids[static_cast<std::size_t>(n)] = writer.write(fmt::format("v-{:02}", n % kDevices), "set", {{"n", std::to_string(n)}});
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
  kafka_.command("down all");
  std::this_thread::sleep_for(away);  // the outage
  kafka_.command("up all");
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
  f.scenario = "actuator_kafka_down";
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
  for (const auto& [status, n] : by_status) statuses += (statuses.empty() ? "" : ",") + status + ":" + std::to_string(n);
  f.with("outcomes", statuses);
  archer::faults::print(f);

  EXPECT_EQ(missing, 0u) << bridge.log();
  EXPECT_EQ(repeated_outcomes, 0u);
  EXPECT_EQ(repeated_actions, 0u);
  EXPECT_EQ(bridge.stop(), 0);
}

}  // namespace
