// Actuation benchmark (ctest `actuation_bench`, label `bench`; never run by scripts/test.sh or CI).
//
// One test, ActuationBench.Ladder: for each broker, for each offered rate of a ladder, for each round, one
// step on fresh parts: a Mosquitto (logging off), fresh actuator logs (archer-devkafka: a fresh one;
// Apache Kafka: topics of the step's own on the program's one node, and a gateway id of its own),
// archer-bridge with one [[actuator]] section (timeout 5s, the contract's default; 2 retries) and
// archer-devsim with N valves that answer at once and publish almost no telemetry (one reading per device
// per hour). A step:
//   1. the first command after the bridge is ready, alone: written -> outcome is first_outcome_ms;
//   2. a warm-up of 49 more commands, until their outcomes are in; then 2 s idle (the bridge's idle CPU);
//   3. the measured feed: commands written open-loop at the step's rate for ARCHER_BENCH_SECONDS,
//      round-robin over the devices, each device alternating open and close; `max` writes as fast as the
//      writer can, for the same time but at most ARCHER_BENCH_MAX_COMMANDS commands (the backlog must fit
//      archer-devkafka's 5 MiB per partition and drain before the deadline);
//   4. the event log and the transaction log are read (in the background from the step's start) until every
//      command has its outcome or ARCHER_BENCH_DRAIN_SECONDS passed, then 2 s more for outcomes written twice.
// The writer, the reader, the broker, Kafka and the devices share the machine's cores with the bridge: the
// figures describe this whole setup on this machine, not the bridge alone.
//
// One line per step on stdout:
//   ACTUATION broker=.. rate=.. round=.. devices=.. written=.. outcomes=.. succeeded=.. written_per_s=..
//     outcomes_per_s=.. written_to_outcome_p50_ms=.. p99_ms=.. p999_ms=.. max_ms=.. round_trip_p50_ms=..
//     round_trip_p99_ms=.. round_trip_p999_ms=.. cpu_us_per_command=.. max_rss_kib=.. first_outcome_ms=.. [more]
// written, outcomes, succeeded  the measured feed's commands; those with an outcome; those SUCCEEDED
// written_per_s        written over the feed's time (from its start to the last write)
// outcomes_per_s       (outcomes - 1) over the span from the feed's first outcome to its last
// written_to_outcome_p50_ms, p99_ms, p999_ms, max_ms (all four of written -> outcome)
//                      per command, this process's steady clock: just before CommandWriter::write -> the
//                      outcome read from the event log (the reader fetches with fetch.wait.max.ms=10)
// round_trip_*         per exchange of the feed, OPENED -> CLOSED in the transaction log, from the records'
//                      own `time_ms` (the gateway's clock, Unix ms: the device's round trip as the gateway
//                      records it, ms resolution)
// cpu_us_per_command   archer-bridge's utime + stime (/proc/<pid>/stat) from just before the feed until its
//                      last outcome was read, over outcomes (the bridge's idle cost over that window included)
// max_rss_kib          archer-bridge's highest VmRSS during the step (sampled every 100 ms)
// first_outcome_ms     step 1 above; in `more`, its parts: first_to_opened_ms up to the gateway's OPENED
//                      record (its time_ms against this process's clock, ms), first_round_trip_ms its
//                      OPENED -> CLOSED
// more: missing= doubled= (commands of the whole step without an outcome, outcomes beyond one per command),
//       statuses=, performed= repeats= (archer-devsim's report: actions taken, requests seen again and
//       answered without acting), exchanges= (feed exchanges with OPENED and CLOSED), drain_ms= (last write
//       -> last outcome), idle_cpu_ms_per_s= (the bridge's CPU over 2 s idle after the warm-up, ms per s),
//       unreadable= (log records that do not verify), loadavg=,
//       parts_p50_p99_ms= (where a feed command's time goes, p50/p99 in ms of each part, from the records'
//       time_ms: written_opened the command log read up to OPENED, opened_sent OPENED's acknowledgement,
//       sent_responded the device's round trip over MQTT, responded_closed, closed_read CLOSED's and the
//       outcome's acknowledgements up to the outcome read from the event log),
//       mqtt_p50_p99_ms= (with ARCHER_BENCH_SNIFF=1: a third client on the broker sees every request and
//       answer: out SENT -> the request seen, device the request seen -> the answer seen, in -> RESPONDED)
// Asserted: every command of the step has exactly one outcome, and the devices acted at most once per
// command (performed <= commands). Speed is reported, not asserted.
//
// Environment: ARCHER_BENCH_BROKERS (devkafka,apache), ARCHER_BENCH_COMMAND_RATES (200,500,1000,2000,max),
// ARCHER_BENCH_ROUNDS (3), ARCHER_BENCH_SECONDS (10), ARCHER_BENCH_COMMAND_DEVICES (1000),
// ARCHER_BENCH_MAX_COMMANDS (20000), ARCHER_BENCH_DRAIN_SECONDS (120), ARCHER_BENCH_DEVSIM_CONNECTIONS
// (0: one MQTT connection per device; K > 0 multiplexes them, and then every connection receives every
// command, as they all subscribe to the whole command filter).
#include <sys/types.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <librdkafka/rdkafkacpp.h>

#include "../faults/figures.h"
#include "archer/schemas/event_generated.h"
#include "archer/schemas/transaction_generated.h"
#include "archer/testing/bridge.h"
#include "archer/testing/command_writer.h"
#include "archer/testing/mqtt_client.h"
#include "archer/testing/testing.h"
#include "archer/testing/valves_section.h"
#include "arms/arms.h"

namespace {

using namespace std::chrono_literals;
using archer::faults::env_long;
using archer::faults::RssSampler;
using archer::testing::Bridge;
using archer::testing::CommandWriter;
using archer::testing::DevKafka;
using archer::testing::DevKafkaOptions;
using archer::testing::KafkaKind;
using archer::testing::Mosquitto;
using archer::testing::MosquittoOptions;
using archer::testing::Process;
using archer::testing::ProcessOptions;
using archer::testing::TempDir;
using archer::testing::ValveTopics;
using archer::testing::wait_until;

using Clock = std::chrono::steady_clock;
using archer::bench::cpu_seconds;
using archer::bench::env_list;
using archer::bench::fixed;
using archer::bench::load_average;
using archer::bench::percentile_ms;
namespace evt = archer::event;
namespace trx = archer::transaction;

constexpr int kPartitions = 8;  // of each actuator log: keeps the transaction log under 5 MiB per partition
constexpr int kWarmup = 50;     // the first command and 49 more

std::int64_t now_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(Clock::now().time_since_epoch()).count();
}

std::int64_t unix_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Reads a step's event log and transaction log from their start, in the background, for the whole step:
// archer-devkafka drops the oldest records of a partition beyond 5 MiB, so they are read as they come.
class ActuatorLogs {
 public:
  struct Outcome {
    int count = 0;
    std::int64_t first_us = 0;       // now_us() when the first one was read
    std::int64_t first_unix_ms = 0;  // the same moment on the gateway's clock (Unix ms)
    evt::OutcomeStatus status = evt::OutcomeStatus::SUCCEEDED;
  };
  struct Exchange {
    std::string command_id;
    std::int64_t opened_ms = -1;  // the records' time_ms
    std::int64_t sent_ms = -1;    // the first SENT
    std::int64_t responded_ms = -1;
    std::int64_t closed_ms = -1;
  };

  ActuatorLogs(const std::string& bootstrap, const ValveTopics& topics)
      : events_(topics.events),
        consumer_(bootstrap, {topics.events, topics.transactions}, {{"fetch.wait.max.ms", "10"}}) {
    thread_ = std::thread([this] { run(); });
  }
  ~ActuatorLogs() { stop(); }
  ActuatorLogs(const ActuatorLogs&) = delete;
  ActuatorLogs& operator=(const ActuatorLogs&) = delete;

  std::size_t commands_with_outcome() const {
    std::lock_guard lock(mutex_);
    return outcomes_.size();
  }
  std::optional<std::int64_t> outcome_read_us(const std::string& command_id) const {
    std::lock_guard lock(mutex_);
    const auto it = outcomes_.find(command_id);
    if (it == outcomes_.end()) return std::nullopt;
    return it->second.first_us;
  }

  void stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  // After stop():
  const std::map<std::string, Outcome>& outcomes() const { return outcomes_; }
  const std::map<std::string, Exchange>& exchanges() const { return exchanges_; }
  std::uint64_t unreadable() const { return unreadable_; }

 private:
  void run() {
    while (!stop_.load()) {
      std::unique_ptr<RdKafka::Message> message(consumer_.consumer().consume(100));
      if (message->err() != RdKafka::ERR_NO_ERROR) continue;  // timeouts and partition EOF
      const std::int64_t at = now_us();
      const std::int64_t at_unix_ms = unix_ms();
      const auto* data = static_cast<const std::uint8_t*>(message->payload());
      flatbuffers::Verifier verifier(data, message->len());
      std::lock_guard lock(mutex_);
      if (message->topic_name() == events_) {
        if (data == nullptr || !evt::VerifyCommandOutcomeBuffer(verifier)) {
          ++unreadable_;
          continue;
        }
        const auto* outcome = evt::GetCommandOutcome(data);
        Outcome& seen = outcomes_[outcome->command_id()->str()];
        if (seen.count++ == 0) {
          seen.first_us = at;
          seen.first_unix_ms = at_unix_ms;
          seen.status = outcome->status();
        }
      } else {
        if (data == nullptr || !trx::VerifyTransactionBuffer(verifier)) {
          ++unreadable_;
          continue;
        }
        const auto* step = trx::GetTransaction(data);
        Exchange& exchange = exchanges_[step->interaction_id()->str()];
        exchange.command_id = step->command_id()->str();
        if (step->phase() == trx::Phase::OPENED) exchange.opened_ms = step->time_ms();
        if (step->phase() == trx::Phase::SENT && exchange.sent_ms < 0) exchange.sent_ms = step->time_ms();
        if (step->phase() == trx::Phase::RESPONDED && exchange.responded_ms < 0)
          exchange.responded_ms = step->time_ms();
        if (step->phase() == trx::Phase::CLOSED) exchange.closed_ms = step->time_ms();
      }
    }
  }

  std::string events_;
  archer::testing::KafkaConsumerForTest consumer_;
  mutable std::mutex mutex_;
  std::map<std::string, Outcome> outcomes_;    // by command id
  std::map<std::string, Exchange> exchanges_;  // by interaction id
  std::uint64_t unreadable_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// With ARCHER_BENCH_SNIFF=1: a third MQTT client that sees every request and answer (QoS 0) and notes when
// each arrived, by interaction id (the CorrelationData), to split SENT -> RESPONDED into the request's way
// out, the device's turn and the answer's way in.
class Sniffer {
 public:
  explicit Sniffer(const std::string& uri) : client_(uri, "bench-sniffer", mqtt::create_options(MQTTVERSION_5)) {
    client_.set_message_callback([this](mqtt::const_message_ptr message) {
      const std::int64_t at = unix_ms();
      const auto& properties = message->get_properties();
      if (!properties.contains(mqtt::property::CORRELATION_DATA)) return;
      const std::string id = mqtt::get<mqtt::binary>(properties, mqtt::property::CORRELATION_DATA);
      const bool request = message->get_topic().find("/commands") != std::string::npos;
      std::lock_guard lock(mutex_);
      auto& seen = seen_.try_emplace(id, -1, -1).first->second;
      if (request && seen.first < 0) seen.first = at;
      if (!request && seen.second < 0) seen.second = at;
    });
    client_.connect(mqtt::connect_options_builder().mqtt_version(MQTTVERSION_5).clean_start(true).finalize())->wait();
    client_.subscribe("devices/+/commands", 0)->wait();
    client_.subscribe("devices/+/responses", 0)->wait();
  }
  ~Sniffer() { client_.disconnect()->wait(); }
  // interaction id -> (request seen, answer seen), Unix ms; -1 when not seen.
  std::map<std::string, std::pair<std::int64_t, std::int64_t>> seen() {
    std::lock_guard lock(mutex_);
    return seen_;
  }

 private:
  mqtt::async_client client_;
  std::mutex mutex_;
  std::map<std::string, std::pair<std::int64_t, std::int64_t>> seen_;
};

// archer-devsim with `devices` valves that answer at once and publish one reading per device per hour.
// Ready once every device's retained `online` was seen: a device subscribes to its command topic before
// it announces itself. The device ids are taken from those announcements.
class Valves {
 public:
  Valves(const Mosquitto& mqtt, int devices, int connections) {
    // clang-format off
    std::vector<std::string> argv{std::string(ARCHER_BIN_DIR) + "/archer-devsim",
                                  "--uri", mqtt.uri(),
                                  "--devices", std::to_string(devices),
                                  "--kinds", "valve",
                                  "--interval", "1h",
                                  "--seed", "20261201",
                                  "--progress", "never",
                                  "--report", (dir_ / "report.json").string()};
    // clang-format on
    if (connections > 0) {
      argv.insert(argv.end(), {"--connections", std::to_string(connections), "--client-id-prefix", "bench-valves-"});
    }
    process_ = std::make_unique<Process>(argv, ProcessOptions{}.without_stdout_capture().with_stderr_file(log_file()));
    archer::testing::MqttClient presence(mqtt.uri(), "bench-presence");
    presence.subscribe("devices/+/status", 1);
    const bool ready = wait_until(
        [&] {
          std::set<std::string> online;
          for (const auto& message : presence.wait_messages(0, 0ms)) {
            if (message->to_string() != "online") continue;
            const std::string& topic = message->get_topic();  // devices/<id>/status
            online.insert(topic.substr(8, topic.size() - 8 - 7));
          }
          ids_.assign(online.begin(), online.end());
          return ids_.size() >= static_cast<std::size_t>(devices) || !process_->running();
        },
        120s, 100ms);
    ready_ = ready && process_->running();
    EXPECT_TRUE(ready_) << ids_.size() << " of " << devices << " devices online:\n"
                        << archer::testing::read_file(log_file());
  }
  ~Valves() {
    if (process_->running()) process_->terminate(10s);
  }
  Valves(const Valves&) = delete;
  Valves& operator=(const Valves&) = delete;

  bool ready() const { return ready_; }
  const std::vector<std::string>& ids() const { return ids_; }

  // SIGTERM, the exit, then the report's text (a test failure unless it exited 0 with a report).
  std::string stop() {
    const int status = process_->terminate(30s);
    EXPECT_EQ(status, 0) << archer::testing::read_file(log_file());
    return archer::testing::read_file(dir_ / "report.json");
  }

 private:
  std::filesystem::path log_file() const { return dir_ / "devsim.log"; }

  TempDir dir_{"archer-bench-valves"};
  std::unique_ptr<Process> process_;
  std::vector<std::string> ids_;
  bool ready_ = false;
};

// A count of the report's "commands" object, or -1.
long report_commands(const std::string& report, const std::string& field) {
  std::smatch m;
  if (!std::regex_search(report, m, std::regex("\"commands\":\\{[^}]*\"" + field + "\":([0-9]+)"))) return -1;
  return std::stol(m[1].str());
}

struct Knobs {
  int devices = 1000;
  int seconds = 10;
  int max_commands = 20000;
  int drain_seconds = 120;
  int connections = 0;
};

// One step of the ladder; `rate` is commands/s, 0 for `max`.
void run_step(KafkaKind kind, int rate, int round, const Knobs& knobs) {
  const std::string broker = kind == KafkaKind::devkafka ? "devkafka" : "apache";
  // Nagle off as in config/mosquitto/gateway.conf; logging off (the harness's `log_type all` writes lines per message).
  Mosquitto mqtt(MosquittoOptions{"log_dest none\nset_tcp_nodelay true\n"});
  std::unique_ptr<DevKafka> devkafka;
  archer::testing::KafkaCluster* kafka = nullptr;
  ValveTopics topics;
  std::string gateway = "gw-bench";
  if (kind == KafkaKind::devkafka) {
    const std::string p = ":" + std::to_string(kPartitions);
    devkafka = std::make_unique<DevKafka>(DevKafkaOptions()
                                              .with_topic(topics.commands + p)
                                              .with_topic(topics.transactions + p)
                                              .with_topic(topics.events + p)
                                              .with_topic(topics.dead_letter + ":1"));
    kafka = devkafka.get();
  } else {
    kafka = &archer::testing::shared_kafka(kind);
    topics = {archer::testing::create_unique_topic(*kafka, "cmd.valves", kPartitions),
              archer::testing::create_unique_topic(*kafka, "tx.valves", kPartitions),
              archer::testing::create_unique_topic(*kafka, "evt.valves", kPartitions),
              archer::testing::create_unique_topic(*kafka, "dlq.valves", 1)};
    gateway = archer::testing::unique_name("gw-bench");  // its own consumer group and snapshot topic
  }

  ActuatorLogs logs(kafka->bootstrap(), topics);
  Valves valves(mqtt, knobs.devices, knobs.connections);
  ASSERT_TRUE(valves.ready());
  const std::vector<std::string>& devices = valves.ids();
  std::unique_ptr<Sniffer> sniffer;
  if (env_long("ARCHER_BENCH_SNIFF", 0) != 0) sniffer = std::make_unique<Sniffer>(mqtt.uri());
  CommandWriter writer(kafka->bootstrap(), topics.commands);
  RssSampler rss;
  Bridge bridge(mqtt.uri(), kafka->bootstrap(), archer::testing::valves_section(topics, {.timeout = "5s"}),
                "archer-bench-gw", "", gateway);
  bridge.start();
  ASSERT_FALSE(::testing::Test::HasFatalFailure());
  const pid_t bridge_pid = bridge.process()->pid();
  rss.watch(bridge_pid);

  std::vector<std::string> ids;  // every command of the step, in write order
  std::vector<bool> open(devices.size(), false);
  auto write = [&](std::size_t n) {
    const std::size_t d = n % devices.size();
    open[d] = !open[d];
    ids.push_back(writer.write(devices[d], open[d] ? "open" : "close"));
  };

  // 1 and 2: the first command alone, then the rest of the warm-up.
  const std::int64_t first_written_us = now_us();
  const std::int64_t first_written_unix_ms = unix_ms();
  write(0);
  const bool first = wait_until([&] { return logs.outcome_read_us(ids[0]).has_value(); }, 60s, 1ms);
  ASSERT_TRUE(first) << "no outcome for the first command\n" << bridge.log();
  const double first_outcome_ms = static_cast<double>(*logs.outcome_read_us(ids[0]) - first_written_us) / 1000;
  for (std::size_t n = 1; n < kWarmup; ++n) write(n);
  writer.flush();
  ASSERT_TRUE(wait_until([&] { return logs.commands_with_outcome() >= kWarmup; }, 60s, 10ms))
      << logs.commands_with_outcome() << " of " << kWarmup << " warm-up outcomes\n"
      << bridge.log();

  // The bridge's CPU while idle (ready, warm, no commands), to tell fixed costs from per-command ones.
  const auto idle0 = cpu_seconds(bridge_pid);
  std::this_thread::sleep_for(2s);  // the idle sampling window, not a synchronisation
  const auto idle1 = cpu_seconds(bridge_pid);
  const double idle_ms_per_s = idle0 && idle1 ? (*idle1 - *idle0) * 1000 / 2 : -1;

  // 3: the measured feed, open-loop: command k is due at k / rate after the start, written then or, when
  // the writer is behind, at once.
  std::vector<std::int64_t> written_us;
  std::vector<std::int64_t> written_unix_ms;
  const auto cpu0 = cpu_seconds(bridge_pid);
  const auto feed_start = Clock::now();
  const auto feed_end = feed_start + std::chrono::seconds(knobs.seconds);
  for (std::size_t k = 0;; ++k) {
    if (rate > 0) {
      const auto due = feed_start + std::chrono::microseconds(static_cast<std::int64_t>(k) * 1'000'000 / rate);
      if (due >= feed_end) break;
      std::this_thread::sleep_until(due);  // the open-loop schedule, not a synchronisation
    } else if (k >= static_cast<std::size_t>(knobs.max_commands) || Clock::now() >= feed_end) {
      break;
    }
    written_us.push_back(now_us());
    written_unix_ms.push_back(unix_ms());
    write(kWarmup + k);
  }
  const std::int64_t last_write_us = now_us();
  const double feed_s = std::chrono::duration<double>(Clock::now() - feed_start).count();
  writer.flush(60s);

  // 4: every outcome, or the deadline; then a window for outcomes written twice (they arrive behind).
  std::optional<double> cpu1;
  wait_until(
      [&] {
        if (logs.commands_with_outcome() < ids.size()) return false;
        cpu1 = cpu_seconds(bridge_pid);
        return true;
      },
      std::chrono::seconds(knobs.drain_seconds), 20ms);
  if (!cpu1) cpu1 = cpu_seconds(bridge_pid);
  const std::string load = load_average();
  std::this_thread::sleep_for(2s);  // the window for repeated outcomes, not a synchronisation
  logs.stop();
  EXPECT_EQ(bridge.stop(), 0) << bridge.log();
  const std::string report = valves.stop();

  // Figures of the measured feed.
  const std::size_t written = written_us.size();
  std::set<std::string> feed;
  std::vector<std::int64_t> to_outcome_us;
  std::int64_t first_outcome_us = 0;
  std::int64_t last_outcome_us = 0;
  std::size_t succeeded = 0;
  for (std::size_t k = 0; k < written; ++k) {
    const std::string& id = ids[kWarmup + k];
    feed.insert(id);
    const auto it = logs.outcomes().find(id);
    if (it == logs.outcomes().end()) continue;
    const std::int64_t at = it->second.first_us;
    to_outcome_us.push_back(at - written_us[k]);
    first_outcome_us = first_outcome_us == 0 ? at : std::min(first_outcome_us, at);
    last_outcome_us = std::max(last_outcome_us, at);
    if (it->second.status == evt::OutcomeStatus::SUCCEEDED) ++succeeded;
  }
  const std::size_t outcomes = to_outcome_us.size();
  const double outcome_span_s = static_cast<double>(last_outcome_us - first_outcome_us) / 1e6;
  const double outcomes_per_s = outcome_span_s > 0 ? static_cast<double>(outcomes - 1) / outcome_span_s : -1;
  const double written_per_s = feed_s > 0 ? static_cast<double>(written) / feed_s : -1;
  // Where the first command's time went: written -> its OPENED record (the gateway's clock, same machine).
  double first_to_opened_ms = -1;
  double first_round_trip_ms = -1;
  std::vector<std::int64_t> round_trip_us;
  // Where a feed command's time goes, from the records' time_ms (ms): written -> OPENED, OPENED -> first SENT,
  // SENT -> RESPONDED, RESPONDED -> CLOSED, CLOSED -> its outcome read.
  std::map<std::string, std::size_t> feed_index;
  for (std::size_t k = 0; k < written; ++k) feed_index[ids[kWarmup + k]] = k;
  std::vector<std::int64_t> to_opened_us, to_sent_us, to_responded_us, to_closed_us, to_read_us;
  for (const auto& [interaction, exchange] : logs.exchanges()) {
    const auto k = feed_index.find(exchange.command_id);
    if (k == feed_index.end() || exchange.opened_ms < 0 || exchange.sent_ms < 0 || exchange.responded_ms < 0 ||
        exchange.closed_ms < 0) {
      continue;
    }
    const auto outcome = logs.outcomes().find(exchange.command_id);
    if (outcome == logs.outcomes().end()) continue;
    to_opened_us.push_back((exchange.opened_ms - written_unix_ms[k->second]) * 1000);
    to_sent_us.push_back((exchange.sent_ms - exchange.opened_ms) * 1000);
    to_responded_us.push_back((exchange.responded_ms - exchange.sent_ms) * 1000);
    to_closed_us.push_back((exchange.closed_ms - exchange.responded_ms) * 1000);
    to_read_us.push_back((outcome->second.first_unix_ms - exchange.closed_ms) * 1000);
  }
  std::vector<std::int64_t> out_us, device_us, in_us;
  if (sniffer) {
    const auto seen = sniffer->seen();
    for (const auto& [interaction, exchange] : logs.exchanges()) {
      const auto it = seen.find(interaction);
      if (feed_index.count(exchange.command_id) == 0 || it == seen.end() || it->second.first < 0 ||
          it->second.second < 0 || exchange.sent_ms < 0 || exchange.responded_ms < 0) {
        continue;
      }
      out_us.push_back((it->second.first - exchange.sent_ms) * 1000);
      device_us.push_back((it->second.second - it->second.first) * 1000);
      in_us.push_back((exchange.responded_ms - it->second.second) * 1000);
    }
  }
  auto p50_p99 = [](const std::vector<std::int64_t>& us) {
    return fmt::format("{}/{}", fixed(percentile_ms(us, 0.5), 0), fixed(percentile_ms(us, 0.99), 0));
  };
  const std::string parts = fmt::format(
      "parts_p50_p99_ms=written_opened:{},opened_sent:{},sent_responded:{},responded_closed:{},closed_read:{}",
      p50_p99(to_opened_us), p50_p99(to_sent_us), p50_p99(to_responded_us), p50_p99(to_closed_us), p50_p99(to_read_us));
  const std::string mqtt_parts = sniffer ? fmt::format(" mqtt_p50_p99_ms=out:{},device:{},in:{}", p50_p99(out_us),
                                                       p50_p99(device_us), p50_p99(in_us))
                                         : std::string();
  for (const auto& [interaction, exchange] : logs.exchanges()) {
    if (exchange.command_id == ids[0] && exchange.opened_ms >= 0) {
      first_to_opened_ms = static_cast<double>(exchange.opened_ms - first_written_unix_ms);
      if (exchange.closed_ms >= 0) first_round_trip_ms = static_cast<double>(exchange.closed_ms - exchange.opened_ms);
    }
    if (feed.count(exchange.command_id) == 0 || exchange.opened_ms < 0 || exchange.closed_ms < 0) continue;
    round_trip_us.push_back((exchange.closed_ms - exchange.opened_ms) * 1000);
  }
  const double cpu_s = cpu0 && cpu1 ? *cpu1 - *cpu0 : -1;
  const double cpu_us = cpu_s >= 0 && outcomes > 0 ? cpu_s * 1e6 / static_cast<double>(outcomes) : -1;
  const double drain_ms =
      last_outcome_us > 0 ? static_cast<double>(std::max<std::int64_t>(0, last_outcome_us - last_write_us)) / 1000 : -1;

  // Exactly one outcome per command of the step.
  std::uint64_t missing = 0;
  std::uint64_t doubled = 0;
  std::map<std::string, int> statuses;
  for (const std::string& id : ids) {
    const auto it = logs.outcomes().find(id);
    if (it == logs.outcomes().end()) {
      ++missing;
      continue;
    }
    doubled += static_cast<std::uint64_t>(it->second.count - 1);
    ++statuses[evt::EnumNameOutcomeStatus(it->second.status)];
  }
  std::string status_text;
  for (const auto& [status, n] : statuses)
    status_text += fmt::format("{}{}:{}", status_text.empty() ? "" : ",", status, n);
  const long performed = report_commands(report, "performed");
  const long repeats = report_commands(report, "duplicates");

  std::cout << fmt::format(
                   "ACTUATION broker={} rate={} round={} devices={} written={} outcomes={} succeeded={} "
                   "written_per_s={} outcomes_per_s={} written_to_outcome_p50_ms={} p99_ms={} p999_ms={} max_ms={} "
                   "round_trip_p50_ms={} round_trip_p99_ms={} round_trip_p999_ms={} cpu_us_per_command={} "
                   "max_rss_kib={} first_outcome_ms={} first_to_opened_ms={} first_round_trip_ms={} missing={} "
                   "doubled={} statuses={} performed={} repeats={} exchanges={} drain_ms={} idle_cpu_ms_per_s={} "
                   "unreadable={} "
                   "loadavg={} {}{}",
                   broker, rate > 0 ? std::to_string(rate) : "max", round, devices.size(), written, outcomes, succeeded,
                   fixed(written_per_s, 0), fixed(outcomes_per_s, 0), fixed(percentile_ms(to_outcome_us, 0.5), 1),
                   fixed(percentile_ms(to_outcome_us, 0.99), 1), fixed(percentile_ms(to_outcome_us, 0.999), 1),
                   fixed(percentile_ms(to_outcome_us, 1.0), 1), fixed(percentile_ms(round_trip_us, 0.5), 0),
                   fixed(percentile_ms(round_trip_us, 0.99), 0), fixed(percentile_ms(round_trip_us, 0.999), 0),
                   fixed(cpu_us, 1), rss.max_kib(), fixed(first_outcome_ms, 1), fixed(first_to_opened_ms, 0),
                   fixed(first_round_trip_ms, 0), missing, doubled, status_text, performed, repeats,
                   round_trip_us.size(), fixed(drain_ms, 0), fixed(idle_ms_per_s, 0), logs.unreadable(), load, parts,
                   mqtt_parts)
            << std::endl;

  EXPECT_EQ(missing, 0u) << "commands without an outcome";
  EXPECT_EQ(doubled, 0u) << "outcomes beyond one per command";
  EXPECT_EQ(logs.commands_with_outcome(), ids.size()) << "outcomes of commands never written";
  EXPECT_GE(performed, 0) << "no commands.performed in archer-devsim's report:\n" << report;
  EXPECT_LE(performed, static_cast<long>(ids.size())) << "a device acted more than once on a command:\n" << report;
}

// `rate` of the ladder: commands/s, 0 for "max", nullopt when it is neither.
std::optional<int> parse_rate(const std::string& text) {
  if (text == "max") return 0;
  char* end = nullptr;
  const long value = std::strtol(text.c_str(), &end, 10);
  if (end == text.c_str() || *end != '\0' || value <= 0 || value > 1'000'000) return std::nullopt;
  return static_cast<int>(value);
}

TEST(ActuationBench, Ladder) {
  Knobs knobs;
  knobs.devices = static_cast<int>(env_long("ARCHER_BENCH_COMMAND_DEVICES", knobs.devices));
  knobs.seconds = static_cast<int>(env_long("ARCHER_BENCH_SECONDS", knobs.seconds));
  knobs.max_commands = static_cast<int>(env_long("ARCHER_BENCH_MAX_COMMANDS", knobs.max_commands));
  knobs.drain_seconds = static_cast<int>(env_long("ARCHER_BENCH_DRAIN_SECONDS", knobs.drain_seconds));
  knobs.connections = static_cast<int>(env_long("ARCHER_BENCH_DEVSIM_CONNECTIONS", knobs.connections));
  const int rounds = static_cast<int>(env_long("ARCHER_BENCH_ROUNDS", 3));
  ASSERT_GT(knobs.devices, 0);
  ASSERT_GT(knobs.seconds, 0);

  std::vector<int> rates;
  for (const std::string& text : env_list("ARCHER_BENCH_COMMAND_RATES", "200,500,1000,2000,max")) {
    const auto rate = parse_rate(text);
    ASSERT_TRUE(rate.has_value()) << "ARCHER_BENCH_COMMAND_RATES: '" << text << "' is neither a rate nor max";
    rates.push_back(*rate);
  }
  for (const std::string& name : env_list("ARCHER_BENCH_BROKERS", "devkafka,apache")) {
    ASSERT_TRUE(name == "devkafka" || name == "apache") << "ARCHER_BENCH_BROKERS: unknown broker '" << name << "'";
    const KafkaKind kind = name == "devkafka" ? KafkaKind::devkafka : KafkaKind::apache;
    if (std::string why; !archer::testing::kafka_available(kind, why)) {
      std::cout << "ACTUATION broker=" << name << " skipped: " << why << std::endl;
      continue;
    }
    for (const int rate : rates) {
      for (int round = 1; round <= rounds; ++round) {
        run_step(kind, rate, round, knobs);
        if (::testing::Test::HasFatalFailure()) return;
      }
    }
  }
}

}  // namespace
