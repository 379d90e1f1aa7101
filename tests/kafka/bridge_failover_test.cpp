// The bridge's promises on a real cluster under failure: one controller-only node and three brokers
// (Apache Kafka, KRaft), every topic with replication 3 and min.insync.replicas 2, shared by the
// tests of this program, each test with its own topics and gateway id. The real archer-bridge,
// archer-devsim publishing QoS 1 telemetry through a real Mosquitto, test devices answering commands.
// Each scenario prints one FIGURES line in the fault suite's format (tests/faults/figures.h).
//
// Sizes are scaled for CI; the environment gives the full size (scripts/soak.sh style):
//   ARCHER_FAILOVER_RATE       readings/s while a leader is killed (2000)
//   ARCHER_FAILOVER_SECONDS    how long that load runs (20)
//   ARCHER_LEADER_DOWN_SECONDS how long the killed leader stays down before its restart (5)
//   ARCHER_CLUSTER_AWAY_SECONDS how long the whole cluster is stopped (30)
//   ARCHER_CLUSTER_AWAY_RATE   readings/s meanwhile (1000)
//   ARCHER_FAILOVER_COMMANDS   commands in the command-path scenarios (200, and 300 for restarts)
//   ARCHER_GATEWAY_RESTARTS    gateway restarts, SIGTERM and kill -9 in turn (4)
// Waiting is on conditions with deadlines; the only fixed durations are the faults themselves.
#include <gtest/gtest.h>
#include <librdkafka/rdkafkacpp.h>

#include <atomic>
#include <csignal>
#include <iostream>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "archer/schemas/event_generated.h"
#include "archer/testing/bridge.h"
#include "archer/testing/command_writer.h"
#include "archer/testing/test_devices.h"
#include "archer/testing/testing.h"
#include "archer/testing/three_brokers.h"
#include "archer/testing/valves_section.h"
#include "figures.h"

namespace {

using namespace std::chrono_literals;
using namespace archer::testing;
using archer::faults::Datalog;
using archer::faults::env_long;
using archer::faults::Figures;
using archer::faults::Load;
using archer::faults::LoadOptions;
using archer::faults::LoadReport;
using archer::faults::outcome_of;
using archer::faults::RssSampler;
namespace evt = archer::event;

using Clock = std::chrono::steady_clock;

const std::map<std::string, std::string> kReplicated{{"min.insync.replicas", "2"}};

// Holds a fault for a fixed time (the fault's duration, not a synchronisation).
void hold(std::chrono::seconds duration) { std::this_thread::sleep_for(duration); }

class BridgeOnThreeBrokers : public OnThreeBrokers {
 protected:
  std::string topic(const std::string& prefix, int partitions) {
    return create_unique_topic(kafka(), prefix, partitions, 3, kReplicated);
  }
  std::string telemetry_section() {
    return archer::faults::telemetry_section(topic("raw.telemetry", 6), topic("dlq.telemetry", 1));
  }
  std::string valves_section(const std::string& commands, const std::string& transactions, const std::string& events,
                             const std::string& snapshot_interval = "10s") {
    return archer::testing::valves_section({commands, transactions, events, topic("dlq.valves", 1)},
                                           {.timeout = "2s", .retries = 3, .snapshot_interval = snapshot_interval});
  }
  std::unique_ptr<Bridge> bridge(const std::string& sections) {
    return std::make_unique<Bridge>(mqtt_.uri(), kafka().bootstrap(), sections, "archer-test-gw", "", gateway_);
  }
  // The raw datalog topic of a section made by telemetry_section().
  static std::string topic_of(const std::string& section) {
    const auto at = section.find("\ntopic = \"") + 10;
    return section.substr(at, section.find('"', at) - at);
  }

  // Waits until `partition` of `topic` is led by a broker other than `old` (after a kill): seconds.
  double wait_for_new_leader(const std::string& topic, int partition, int old) {
    const auto from = Clock::now();
    int leader = -1;
    EXPECT_TRUE(wait_until(
        [&] {
          leader = kafka().leader(topic, partition);
          return leader >= 1 && leader != old;
        },
        60s, 100ms))
        << topic << "/" << partition << " still led by " << leader;
    return archer::faults::seconds_since(from);
  }

  // The partitions of `topics` that `broker` leads now, as "topic/partition" (for the figures).
  std::vector<std::string> led_by(int broker, const std::vector<std::string>& topics, int partitions) {
    std::vector<std::string> out;
    for (const std::string& t : topics) {
      for (int p = 0; p < partitions; ++p) {
        if (kafka().leader(t, p) == broker) out.push_back(fmt::format("{}/{}", t.substr(0, t.find('-')), p));
      }
    }
    return out;
  }

  Mosquitto mqtt_;
  const std::string gateway_ = unique_name("gw");
  RssSampler rss_;
  Clock::time_point started_ = Clock::now();
};

// What the command-path scenarios count: outcomes per command and actions per command.
struct CommandTally {
  std::map<std::string, int> outcomes;  // command id -> outcomes in the event log
  std::map<std::string, int> statuses;  // status -> outcomes
  std::uint64_t missing = 0;
  std::uint64_t repeated_outcomes = 0;
  std::uint64_t actions = 0;
  std::uint64_t repeated_actions = 0;

  std::string statuses_text() const {
    std::string out;
    for (const auto& [status, n] : statuses) out += fmt::format("{}{}:{}", out.empty() ? "" : ",", status, n);
    return out;
  }
};

// Reads the event log (after the records `already` read) until every command has an outcome (or the
// deadline), then 3 s more (repeats arrive behind), and counts what the devices did ("n" is each
// command's number).
CommandTally tally_commands(KafkaConsumerForTest& events, const std::vector<std::string>& ids, TestDevices& devices,
                            int device_count, std::chrono::seconds timeout, const std::vector<Record>& already = {}) {
  CommandTally t;
  auto take = [&](const std::vector<Record>& records) {
    for (const Record& record : records) {
      const auto* outcome = outcome_of(record);
      EXPECT_NE(outcome, nullptr) << "an event that is not a CommandOutcome";
      if (outcome == nullptr) continue;
      ++t.outcomes[outcome->command_id()->str()];
      ++t.statuses[evt::EnumNameOutcomeStatus(outcome->status())];
    }
  };
  take(already);
  const auto deadline = Clock::now() + timeout;
  while (t.outcomes.size() < ids.size() && Clock::now() < deadline) take(events.consume_until(ids.size(), 1s));
  take(events.consume_until(10'000, 3s));
  for (const std::string& id : ids) {
    const auto found = t.outcomes.find(id);
    const int c = found == t.outcomes.end() ? 0 : found->second;
    if (c == 0) ++t.missing;
    if (c > 1) t.repeated_outcomes += static_cast<std::uint64_t>(c - 1);
  }
  std::map<std::string, int> performed;
  for (int d = 0; d < device_count; ++d) {
    for (const auto& action : devices.actions(fmt::format("v-{:02}", d))) ++performed[action.args.at("n")];
  }
  t.actions = performed.size();
  for (const auto& [n, times] : performed) {
    if (times > 1) t.repeated_actions += static_cast<std::uint64_t>(times - 1);
  }
  return t;
}

Figures command_figures(const std::string& scenario, std::size_t commands, const CommandTally& t,
                        Clock::time_point started) {
  Figures f;
  f.scenario = scenario;
  f.published = commands;
  f.acked = commands;
  f.delivered = t.outcomes.size();
  f.lost = t.missing;
  f.duplicated = t.repeated_outcomes;
  f.seconds = archer::faults::seconds_since(started);
  f.with("actions", std::to_string(t.actions))
      .with("repeated_actions", std::to_string(t.repeated_actions))
      .with("outcomes", t.statuses_text());
  return f;
}

// The leader of a raw datalog partition killed (SIGKILL) under 2,000 readings/s, restarted a few
// seconds later: another replica takes over; with an idempotent producer and acks=all nothing is
// lost, nothing duplicated, and per-device order holds.
TEST_F(BridgeOnThreeBrokers, LeaderKilledUnderLoad) {
  LoadOptions o;
  o.rate = static_cast<int>(env_long("ARCHER_FAILOVER_RATE", 2000));
  o.seconds = static_cast<int>(env_long("ARCHER_FAILOVER_SECONDS", 20));
  const auto down = std::chrono::seconds(env_long("ARCHER_LEADER_DOWN_SECONDS", 5));
  const std::string section = telemetry_section();
  const std::string raw = topic_of(section);
  Datalog datalog(kafka().bootstrap(), raw);
  auto gateway = bridge(section);
  gateway->start();
  rss_.watch(gateway->process()->pid());
  Load load(mqtt_.uri(), o);
  load.wait_for_acks(static_cast<std::uint64_t>(o.rate) * 3, 60s);

  const int victim = kafka().leader(raw, 0);
  ASSERT_GE(victim, 1);
  const std::size_t led = led_by(victim, {raw}, 6).size();
  kafka().kill9(victim);
  const double election_s = wait_for_new_leader(raw, 0, victim);
  hold(down);
  const auto restart_at = Clock::now();
  kafka().start(victim);
  const double restart_s = archer::faults::seconds_since(restart_at);

  const LoadReport report = load.finish();
  ASSERT_TRUE(report.ok);
  datalog.collect(report.acked, std::chrono::seconds(60 + o.rate * o.seconds / 2000));
  Figures f = archer::faults::tally("leader_kill", report, datalog, rss_.max_kib(), started_);
  f.with("rate", std::to_string(o.rate))
      .with("killed_broker", std::to_string(victim))
      .with("partitions_led", fmt::format("{}/6", led))
      .with("election_s", fmt::format("{:.1f}", election_s))
      .with("down_s", std::to_string(down.count()))
      .with("restart_s", fmt::format("{:.1f}", restart_s));
  archer::faults::print(f);
  if (f.gaps > 0) std::cout << "GAPS leader_kill " << datalog.describe_gaps() << std::endl;

  EXPECT_EQ(f.lost, 0u) << gateway->log();
  EXPECT_EQ(f.duplicated, 0u);
  EXPECT_EQ(f.reordered, 0u);
  EXPECT_EQ(gateway->stop(), 0);
}

// The same on the command path: commands flow at 20/s while the broker that leads partition 0 of the
// command log (and, with it, some partitions of the transaction and event logs) is killed and
// restarted. Every command gets one outcome, no device acts twice.
TEST_F(BridgeOnThreeBrokers, LeaderKilledUnderCommands) {
  const int commands = static_cast<int>(env_long("ARCHER_FAILOVER_COMMANDS", 200));
  constexpr int kDevices = 20;
  const auto down = std::chrono::seconds(env_long("ARCHER_LEADER_DOWN_SECONDS", 5));
  const std::string cmd = topic("cmd.valves", 3);
  const std::string tx = topic("tx.valves", 3);
  const std::string ev = topic("evt.valves", 3);
  TestDevices devices(mqtt_.uri());
  auto gateway = bridge(valves_section(cmd, tx, ev));
  gateway->start();
  KafkaConsumerForTest events(kafka().bootstrap(), {ev});

  CommandWriter writer(kafka().bootstrap(), cmd);
  std::vector<std::string> ids(static_cast<std::size_t>(commands));
  std::atomic<int> written{0};
  std::thread producer([&] {
    const auto start = Clock::now();
    for (int n = 0; n < commands; ++n) {
      std::this_thread::sleep_until(start + n * 50ms);  // a schedule, like an application's
      ids[static_cast<std::size_t>(n)] =
          writer.write(fmt::format("v-{:02}", n % kDevices), "set", {{"n", std::to_string(n)}});
      written = n + 1;
    }
  });
  EXPECT_TRUE(wait_until([&] { return written.load() >= commands / 4; }, 60s, 20ms));

  const int victim = kafka().leader(cmd, 0);
  ASSERT_GE(victim, 1);
  const std::vector<std::string> led = led_by(victim, {cmd, tx, ev}, 3);
  const int written_at_kill = written.load();
  kafka().kill9(victim);
  const double election_s = wait_for_new_leader(cmd, 0, victim);
  hold(down);
  kafka().start(victim);
  producer.join();
  writer.flush(60s);

  const CommandTally t = tally_commands(events, ids, devices, kDevices, 120s);
  Figures f = command_figures("leader_kill_commands", ids.size(), t, started_);
  f.with("killed_broker", std::to_string(victim))
      .with("partitions_led", fmt::format("{}", fmt::join(led, ",")))
      .with("written_at_kill", std::to_string(written_at_kill))
      .with("election_s", fmt::format("{:.1f}", election_s))
      .with("down_s", std::to_string(down.count()));
  archer::faults::print(f);

  EXPECT_EQ(t.missing, 0u) << gateway->log();
  EXPECT_EQ(t.repeated_outcomes, 0u);
  EXPECT_EQ(t.repeated_actions, 0u);
  EXPECT_EQ(t.statuses.at("SUCCEEDED"), commands) << t.statuses_text() << "\n" << gateway->log();
  EXPECT_EQ(gateway->stop(), 0);
}

// The whole cluster (three brokers and the controller) stopped for 30 s under load and started
// again: the spool holds the backlog, nothing acknowledged is lost, order holds. Duplicates are
// counted and reported, not asserted away.
TEST_F(BridgeOnThreeBrokers, WholeClusterStoppedUnderLoad) {
  const auto away = std::chrono::seconds(env_long("ARCHER_CLUSTER_AWAY_SECONDS", 30));
  LoadOptions o;
  o.rate = static_cast<int>(env_long("ARCHER_CLUSTER_AWAY_RATE", 1000));
  o.seconds = static_cast<int>(away.count()) + 20;
  const std::string section = telemetry_section();
  Datalog datalog(kafka().bootstrap(), topic_of(section));
  auto gateway = bridge(section);
  gateway->start();
  rss_.watch(gateway->process()->pid());
  Load load(mqtt_.uri(), o);
  load.wait_for_acks(static_cast<std::uint64_t>(o.rate) * 3, 60s);

  const auto stop_at = Clock::now();
  kafka().stop();
  const double stop_s = archer::faults::seconds_since(stop_at);
  const std::uint64_t acked_at_stop = load.acked_so_far();
  hold(away);
  const std::uint64_t acked_while_away = load.acked_so_far() - acked_at_stop;
  const auto start_at = Clock::now();
  kafka().start();
  const double start_s = archer::faults::seconds_since(start_at);

  const LoadReport report = load.finish();
  ASSERT_TRUE(report.ok);
  datalog.collect(report.acked, std::chrono::seconds(90 + o.rate * o.seconds / 2000));
  Figures f = archer::faults::tally("cluster_stopped", report, datalog, rss_.max_kib(), started_);
  f.with("rate", std::to_string(o.rate))
      .with("away_s", std::to_string(away.count()))
      .with("stop_s", fmt::format("{:.1f}", stop_s))
      .with("start_s", fmt::format("{:.1f}", start_s))
      .with("acked_while_away", std::to_string(acked_while_away));
  archer::faults::print(f);

  EXPECT_GT(acked_while_away, static_cast<std::uint64_t>(o.rate) * away.count() / 2)
      << "the load did not run during the outage";
  EXPECT_EQ(f.lost, 0u) << gateway->log();
  EXPECT_EQ(f.gaps, 0u);
  EXPECT_EQ(f.reordered, 0u);
  EXPECT_EQ(gateway->stop(), 0);
}

// The actuator gateway restarted again and again in the middle of 300 commands, with SIGTERM and
// kill -9 in turn, against offsets committed in a real group coordinator and a transaction log on
// the brokers' disks: one outcome per command, no device acted twice; after the last SIGTERM the
// committed offsets are at the end of the command log.
TEST_F(BridgeOnThreeBrokers, GatewayRestartedAgainstRealOffsets) {
  const int commands = static_cast<int>(env_long("ARCHER_FAILOVER_COMMANDS", 300));
  const long restarts = env_long("ARCHER_GATEWAY_RESTARTS", 4);
  constexpr int kDevices = 30;
  constexpr int kPartitions = 3;
  const std::string cmd = topic("cmd.valves", kPartitions);
  const std::string tx = topic("tx.valves", kPartitions);
  const std::string ev = topic("evt.valves", kPartitions);
  TestDevices devices(mqtt_.uri());
  auto gateway = bridge(valves_section(cmd, tx, ev, "500ms"));
  gateway->start();
  KafkaConsumerForTest events(kafka().bootstrap(), {ev});
  CommandWriter writer(kafka().bootstrap(), cmd);
  std::vector<std::string> ids;
  for (int n = 0; n < commands; ++n) {
    ids.push_back(writer.write(fmt::format("v-{:02}", n % kDevices), "set", {{"n", std::to_string(n)}}));
  }
  writer.flush();

  // Restart after every share of the outcomes: SIGTERM (drain, commit, last snapshot) and kill -9 in turn.
  std::vector<Record> seen;
  int sigterm_exit_nonzero = 0;
  for (long round = 0; round < restarts; ++round) {
    const std::size_t target = static_cast<std::size_t>(commands) * static_cast<std::size_t>(round + 1) /
                               static_cast<std::size_t>(restarts + 1);
    while (seen.size() < target) {
      auto more = events.consume_until(target - seen.size(), 60s);
      if (more.empty()) break;
      seen.insert(seen.end(), more.begin(), more.end());
    }
    if (round % 2 == 0) {
      if (gateway->stop() != 0) ++sigterm_exit_nonzero;
    } else {
      gateway->kill9();
    }
    gateway->start();
  }
  const CommandTally t = tally_commands(events, ids, devices, kDevices, 120s, seen);
  EXPECT_EQ(gateway->stop(), 0) << gateway->log();

  // The group's committed offsets, read from the coordinator, against the command log's end.
  std::int64_t committed = 0;
  std::int64_t end = 0;
  {
    std::string error;
    std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
    conf->set("bootstrap.servers", kafka().bootstrap(), error);
    conf->set("group.id", fmt::format("archer.{}.valves", gateway_), error);
    std::unique_ptr<RdKafka::KafkaConsumer> reader(RdKafka::KafkaConsumer::create(conf.get(), error));
    ASSERT_TRUE(reader) << error;
    std::vector<RdKafka::TopicPartition*> partitions;
    for (int p = 0; p < kPartitions; ++p) partitions.push_back(RdKafka::TopicPartition::create(cmd, p));
    ASSERT_EQ(reader->committed(partitions, 10'000), RdKafka::ERR_NO_ERROR);
    for (RdKafka::TopicPartition* partition : partitions) {
      std::int64_t low = 0;
      std::int64_t high = 0;
      ASSERT_EQ(reader->query_watermark_offsets(cmd, partition->partition(), &low, &high, 10'000),
                RdKafka::ERR_NO_ERROR);
      committed += std::max<std::int64_t>(partition->offset(), 0);
      end += high;
    }
    RdKafka::TopicPartition::destroy(partitions);
    reader->close();
  }

  Figures f = command_figures("gateway_restarts", ids.size(), t, started_);
  f.with("restarts", std::to_string(restarts))
      .with("sigterm_exit_nonzero", std::to_string(sigterm_exit_nonzero))
      .with("committed", std::to_string(committed))
      .with("command_log_end", std::to_string(end));
  archer::faults::print(f);

  EXPECT_EQ(t.missing, 0u) << gateway->log();
  EXPECT_EQ(t.repeated_outcomes, 0u);
  EXPECT_EQ(t.repeated_actions, 0u);
  EXPECT_EQ(t.actions, static_cast<std::uint64_t>(commands)) << "a command acted on no device";
  EXPECT_EQ(sigterm_exit_nonzero, 0);
  EXPECT_EQ(committed, end) << "the committed offsets are not at the end of the command log";
}

}  // namespace
