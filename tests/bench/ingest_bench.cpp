// The ingest benchmark (ctest label `bench`, not in CI; scripts/bench.sh builds Release, runs it and turns
// its lines into docs/performance.md's tables and plot).
//
// One feed for every arm: archer-devsim publishing FlatBuffers telemetry from 1,000 devices over 10
// connections on an open-loop schedule (each payload carries its scheduled send time and its device's
// sequence), at each rate of a ladder, at QoS 1 and QoS 0. For every step the arms run in turn, never two
// at once, each on a fresh Mosquitto and a fresh raw datalog, and the whole ladder is repeated for several
// rounds (A B C D, A B C D, ...) so that the machine's drift spreads over every arm alike:
//   limit   mosquitto_sub -q QOS writing one line per message: a bare subscriber, the rate a client of
//           this broker can take at all, and the CPU of merely receiving;
//   naive   tests/bench/arms/naive_bridge: Paho C++ -> librdkafka, no spool, no checks, no headers;
//   mosq    tests/bench/arms/mosquitto_bridge: the same on libmosquitto instead of Paho (what the MQTT
//           library costs; built only with libmosquitto-dev, which scripts/bench.sh installs);
//   script  tests/bench/arms/script_bridge.py: Debian's paho-mqtt + confluent-kafka, the same work;
//   archer  archer-bridge as shipped (validation, bind, key, headers, the spool with [spool] sync 100 ms);
//   relaxed archer-bridge with [spool] sync = "1s".
// Each Kafka arm runs on archer-devkafka and on one Apache Kafka node (skipped without java or the jars).
//
// Per arm and step, one line on stdout:
//   LADDER broker=.. qos=.. rate=.. round=.. arm=.. sent=.. acked=.. delivered=.. publish_rate=..
//          delivered_per_s=.. cpu_us_per_reading=.. max_rss_kib=.. lag_p50_ms=.. lag_p99_ms=.. lag_p999_ms=..
//          lag_max_ms=.. switches_per_reading=.. seconds=.. loadavg=..
// sent/acked   archer-devsim's report (QoS 0: acked = sent, nothing is acknowledged)
// delivered    distinct (device, seq) readings the arm passed on: in the raw datalog (Kafka arms), lines
//              written (limit)
// cpu_us       the arm process's utime + stime from just before the feed starts until it has passed on
//              every reading it will (or a deadline), divided by what it delivered
// switches     context switches of all the arm's threads in that window, per reading delivered
// lag          scheduled send time -> the reading consumed from Kafka by this process (fetch.wait.max.ms
//              10); "na" for the limit arm. It includes the feed's own lateness: at "max" it is the queue.
// The feed, the broker, archer-devkafka or the JVM and this process share the machine's cores with the
// arm: the figures describe this whole setup on this machine; the ratios between arms are what carries.
//
// Environment (defaults in brackets):
//   ARCHER_BENCH_RATES    comma-separated readings/s, "max" for as fast as the feed goes [2000,5000,10000,20000,max]
//   ARCHER_BENCH_QOS      comma-separated                                   [1,0]
//   ARCHER_BENCH_ARMS     comma-separated                                   [limit,naive,mosq,script,archer,relaxed]
//   ARCHER_BENCH_BROKERS  comma-separated devkafka,apache                   [devkafka,apache]
//   ARCHER_BENCH_ROUNDS   [3]     ARCHER_BENCH_SECONDS  seconds of feed per step [10]
//   ARCHER_BENCH_DEVICES  [1000]
// The assertion: a Kafka arm at QoS 1 delivers every reading Mosquitto acknowledged; speed is reported.
//
// IngestBench.Soak: archer-bridge alone on archer-devkafka, QoS 1, a long feed from many devices, its
// VmRSS sampled every 10 s: whether memory holds still under load, and how much 10,000 devices take.
//   SOAK t_s=.. rss_kib=.. delivered=..                                  every 10 s
//   SOAK_SUMMARY devices=.. rate=.. seconds=.. sent=.. acked=.. delivered=.. publish_rate=..
//                rss_at_1min_kib=.. rss_last_kib=.. rss_max_kib=.. growth_kib_per_10min=..
// growth: a least-squares line through the samples after the first minute (the warm-up), per 10 minutes.
//   ARCHER_BENCH_SOAK_SECONDS [600]  ARCHER_BENCH_SOAK_DEVICES [10000]  ARCHER_BENCH_SOAK_RATE [max]
// Asserted: every acknowledged reading is in the raw datalog.
#include <sys/types.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <mutex>
#include <optional>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <librdkafka/rdkafkacpp.h>

#include "../faults/figures.h"
#include "archer/schemas/telemetry_generated.h"
#include "archer/testing/bridge.h"
#include "archer/testing/testing.h"
#include "arms/arms.h"

namespace {

using namespace std::chrono_literals;
using archer::bench::context_switches;
using archer::bench::cpu_seconds;
using archer::bench::env_list;
using archer::bench::fixed;
using archer::bench::load_average;
using archer::bench::percentile_ms;
using archer::bench::Raw;
using archer::bench::start_arm_program;
using archer::bench::Subscriber;
using archer::faults::env_long;
using archer::faults::Load;
using archer::faults::LoadOptions;
using archer::faults::LoadReport;
using archer::faults::RssSampler;
using archer::testing::Bridge;
using archer::testing::DevKafka;
using archer::testing::DevKafkaOptions;
using archer::testing::KafkaKind;
using archer::testing::Mosquitto;
using archer::testing::MosquittoOptions;
using archer::testing::Process;
using archer::testing::ProcessOptions;
using archer::testing::TempDir;
using archer::testing::wait_until;

using Clock = std::chrono::steady_clock;
namespace tel = archer::telemetry;

enum class Arm { limit, naive, mosq, script, archer, relaxed };

std::optional<Arm> arm_named(const std::string& name) {
  for (const auto& [arm, text] :
       {std::pair{Arm::limit, "limit"}, std::pair{Arm::naive, "naive"}, std::pair{Arm::mosq, "mosq"},
        std::pair{Arm::script, "script"}, std::pair{Arm::archer, "archer"}, std::pair{Arm::relaxed, "relaxed"}}) {
    if (name == text) return arm;
  }
  return std::nullopt;
}

const char* arm_name(Arm arm) {
  switch (arm) {
    case Arm::limit:
      return "limit";
    case Arm::naive:
      return "naive";
    case Arm::mosq:
      return "mosq";
    case Arm::script:
      return "script";
    case Arm::archer:
      return "archer";
    case Arm::relaxed:
      return "relaxed";
  }
  return "?";
}

// "as fast as the broker takes": a schedule no publisher here keeps up with.
constexpr int kMaxRate = 1'000'000;

struct Step {
  KafkaKind broker = KafkaKind::devkafka;
  int qos = 1;
  int rate = 0;  // kMaxRate for "max"
  int round = 0;
  Arm arm = Arm::limit;
};

void run_step(const Step& step, int seconds, int devices) {
  if (std::string why; !archer::testing::kafka_available(step.broker, why)) GTEST_SKIP() << why;
  Mosquitto mqtt(MosquittoOptions{"log_dest none\n"});
  std::unique_ptr<DevKafka> devkafka;
  std::string raw_topic = "raw.telemetry";
  std::string dead_letters = "dlq.telemetry";
  archer::testing::KafkaCluster* kafka = nullptr;
  if (step.arm != Arm::limit) {
    if (step.broker == KafkaKind::devkafka) {
      devkafka =
          std::make_unique<DevKafka>(DevKafkaOptions().with_topic("raw.telemetry:6").with_topic("dlq.telemetry:3"));
      kafka = devkafka.get();
    } else {
      kafka = &archer::testing::shared_kafka(step.broker);
      raw_topic = archer::testing::create_unique_topic(*kafka, "raw.telemetry", 6);
      dead_letters = archer::testing::create_unique_topic(*kafka, "dlq.telemetry", 3);
    }
  }
  std::unique_ptr<Raw> raw;
  if (kafka != nullptr) raw = std::make_unique<Raw>(kafka->bootstrap(), raw_topic);

  TempDir dir("archer-bench-arm");
  std::unique_ptr<Subscriber> subscriber;
  std::unique_ptr<Process> program;
  std::unique_ptr<Bridge> bridge;
  pid_t pid = -1;
  const std::string qos = std::to_string(step.qos);
  switch (step.arm) {
    case Arm::limit:
      subscriber = std::make_unique<Subscriber>(mqtt, step.qos);
      pid = subscriber->pid();
      break;
    case Arm::naive:
      program = start_arm_program({std::string(ARCHER_BIN_DIR) + "/naive_bridge", mqtt.uri(), kafka->bootstrap(),
                                   "devices/+/telemetry", qos, raw_topic},
                                  dir);
      pid = program->pid();
      break;
    case Arm::mosq:
      program =
          start_arm_program({std::string(ARCHER_BIN_DIR) + "/mosquitto_bridge", "127.0.0.1",
                             std::to_string(mqtt.port()), kafka->bootstrap(), "devices/+/telemetry", qos, raw_topic},
                            dir);
      pid = program->pid();
      break;
    case Arm::script:
      program = start_arm_program(
          {"/usr/bin/python3", std::string(ARCHER_SOURCE_DIR) + "/tests/bench/arms/script_bridge.py", "127.0.0.1",
           std::to_string(mqtt.port()), kafka->bootstrap(), "devices/+/telemetry", qos, raw_topic},
          dir);
      pid = program->pid();
      break;
    case Arm::archer:
    case Arm::relaxed: {
      std::string sections = step.arm == Arm::relaxed ? "sync = \"1s\"\n" : "";
      sections += archer::faults::telemetry_section(raw_topic, dead_letters);
      if (step.qos != 1) sections = std::regex_replace(sections, std::regex("qos = 1"), "qos = " + qos);
      bridge = std::make_unique<Bridge>(mqtt.uri(), kafka->bootstrap(), sections);
      bridge->start();
      pid = bridge->process()->pid();
      break;
    }
  }
  ASSERT_FALSE(::testing::Test::HasFatalFailure());
  RssSampler rss;
  rss.watch(pid);

  const auto delivered = [&]() -> std::uint64_t { return subscriber ? subscriber->received() : raw->distinct(); };
  const auto cpu0 = cpu_seconds(pid);
  ASSERT_TRUE(cpu0);
  const std::uint64_t switches0 = context_switches(pid);
  const auto started = Clock::now();
  LoadOptions o;
  o.devices = devices;
  o.rate = step.rate;
  o.seconds = seconds;
  o.connections = 10;
  o.qos = step.qos;
  Load load(mqtt.uri(), o);
  const LoadReport report = load.finish();
  ASSERT_TRUE(report.ok);
  // QoS 0 readings are never acknowledged: what was sent is what the arm could pass on.
  const std::uint64_t expected = step.qos == 0 ? report.sent : report.acked;

  // The arm's CPU is sampled once it has passed on everything, or once nothing more has come for 3 s
  // (QoS 0 readings the broker or the arm dropped never come).
  std::uint64_t last = delivered();
  auto last_progress = Clock::now();
  const auto deadline = Clock::now() + std::chrono::seconds(60 + static_cast<long>(expected) / 2000);
  wait_until(
      [&] {
        const std::uint64_t now = delivered();
        if (now != last) {
          last = now;
          last_progress = Clock::now();
        }
        return now >= expected || Clock::now() - last_progress > 3s || Clock::now() > deadline;
      },
      std::chrono::seconds(600), 20ms);
  const auto cpu1 = cpu_seconds(pid);
  const std::uint64_t switches = context_switches(pid) - switches0;
  const double window_s = archer::faults::seconds_since(started);
  const std::string load_after = load_average();
  if (bridge) {
    EXPECT_EQ(bridge->stop(), 0) << bridge->log();
  }
  if (program) {
    EXPECT_EQ(program->terminate(20s), 0) << archer::testing::read_file(dir / "arm.log");
  }
  if (raw) raw->stop();

  const std::uint64_t passed = delivered();
  const double cpu = cpu1 ? *cpu1 - *cpu0 : -1;
  const double cpu_us = passed > 0 && cpu >= 0 ? cpu * 1e6 / static_cast<double>(passed) : -1;
  double delivered_per_s = -1;
  std::vector<std::int64_t> lags;
  if (raw) {
    const double span_s = static_cast<double>(raw->last_us() - raw->first_us()) / 1e6;
    if (span_s > 0) delivered_per_s = static_cast<double>(passed - 1) / span_s;
    lags = raw->delivery_lag_us();
  }
  const auto lag = [&](double q) { return fixed(lags.empty() ? -1 : percentile_ms(lags, q), 1); };
  std::cout << fmt::format(
                   "LADDER broker={} qos={} rate={} round={} arm={} sent={} acked={} delivered={} publish_rate={:.0f} "
                   "delivered_per_s={} cpu_us_per_reading={} max_rss_kib={} lag_p50_ms={} lag_p99_ms={} "
                   "lag_p999_ms={} lag_max_ms={} switches_per_reading={} seconds={:.1f} loadavg={}",
                   step.broker == KafkaKind::devkafka ? "devkafka" : "apache", step.qos,
                   step.rate == kMaxRate ? std::string("max") : std::to_string(step.rate), step.round,
                   arm_name(step.arm), report.sent, report.acked, passed, report.achieved_rate,
                   fixed(delivered_per_s, 0), fixed(cpu_us, 2), rss.max_kib(), lag(0.5), lag(0.99), lag(0.999),
                   lag(1.0), passed > 0 ? fixed(static_cast<double>(switches) / static_cast<double>(passed), 2) : "na",
                   window_s, load_after)
            << std::endl;
  if (step.qos == 1 && step.arm != Arm::limit && step.arm != Arm::script) {
    EXPECT_GE(passed, report.acked) << arm_name(step.arm) << ": acknowledged readings missing from " << raw_topic;
  }
}

// The whole ladder, round after round; one LADDER line per step (scripts/bench.sh makes the tables).
TEST(IngestBench, Ladder) {
  const int seconds = static_cast<int>(env_long("ARCHER_BENCH_SECONDS", 10));
  const int devices = static_cast<int>(env_long("ARCHER_BENCH_DEVICES", 1000));
  const long rounds = env_long("ARCHER_BENCH_ROUNDS", 3);
  std::vector<Arm> arms;
  for (const auto& name : env_list("ARCHER_BENCH_ARMS", "limit,naive,mosq,script,archer,relaxed")) {
    const auto arm = arm_named(name);
    ASSERT_TRUE(arm) << "ARCHER_BENCH_ARMS: unknown arm '" << name << "'";
    if (*arm == Arm::mosq && !std::filesystem::exists(std::string(ARCHER_BIN_DIR) + "/mosquitto_bridge")) {
      std::cout << "LADDER skipped arm=mosq: no mosquitto_bridge (libmosquitto-dev not installed)" << std::endl;
      continue;
    }
    arms.push_back(*arm);
  }
  for (long round = 1; round <= rounds; ++round) {
    for (const auto& broker : env_list("ARCHER_BENCH_BROKERS", "devkafka,apache")) {
      const KafkaKind kind = broker == "apache" ? KafkaKind::apache : KafkaKind::devkafka;
      if (std::string why; !archer::testing::kafka_available(kind, why)) {
        std::cout << "LADDER skipped broker=" << broker << ": " << why << std::endl;
        continue;
      }
      for (const auto& qos : env_list("ARCHER_BENCH_QOS", "1,0")) {
        for (const auto& rate : env_list("ARCHER_BENCH_RATES", "2000,5000,10000,20000,max")) {
          for (const Arm arm : arms) {
            Step step;
            step.broker = kind;
            step.qos = std::stoi(qos);
            step.rate = rate == "max" ? kMaxRate : std::stoi(rate);
            step.round = static_cast<int>(round);
            step.arm = arm;
            run_step(step, seconds, devices);
            if (::testing::Test::HasFatalFailure()) return;
          }
        }
      }
    }
  }
}

// The slope, per second, of the least-squares line through (t, value).
double slope_per_s(const std::vector<std::pair<double, double>>& points) {
  if (points.size() < 2) return 0;
  double mt = 0, mv = 0;
  for (const auto& [t, v] : points) {
    mt += t;
    mv += v;
  }
  mt /= static_cast<double>(points.size());
  mv /= static_cast<double>(points.size());
  double num = 0, den = 0;
  for (const auto& [t, v] : points) {
    num += (t - mt) * (v - mv);
    den += (t - mt) * (t - mt);
  }
  return den > 0 ? num / den : 0;
}

TEST(IngestBench, Soak) {
  const int seconds = static_cast<int>(env_long("ARCHER_BENCH_SOAK_SECONDS", 600));
  const int devices = static_cast<int>(env_long("ARCHER_BENCH_SOAK_DEVICES", 10000));
  const auto rate_text = env_list("ARCHER_BENCH_SOAK_RATE", "max");
  ASSERT_EQ(rate_text.size(), 1u) << "ARCHER_BENCH_SOAK_RATE: one rate";
  const int rate = rate_text.front() == "max" ? kMaxRate : std::stoi(rate_text.front());

  Mosquitto mqtt(MosquittoOptions{"log_dest none\n"});
  DevKafka kafka(DevKafkaOptions().with_topic("raw.telemetry:6").with_topic("dlq.telemetry:3"));
  Raw raw(kafka.bootstrap(), "raw.telemetry");
  Bridge bridge(mqtt.uri(), kafka.bootstrap(), archer::faults::telemetry_section("raw.telemetry", "dlq.telemetry"));
  bridge.start();
  const pid_t pid = bridge.process()->pid();

  std::vector<std::pair<double, double>> samples;  // (seconds since the feed started, KiB)
  std::atomic<bool> done{false};
  const auto started = Clock::now();
  std::thread sampler([&] {
    auto next = started;
    while (!done.load()) {
      next += 10s;
      while (!done.load() && Clock::now() < next) std::this_thread::sleep_for(100ms);
      const double t = archer::faults::seconds_since(started);
      const std::uint64_t kib = archer::faults::rss_kib(pid);
      samples.emplace_back(t, static_cast<double>(kib));
      std::cout << fmt::format("SOAK t_s={:.0f} rss_kib={} delivered={}", t, kib, raw.distinct()) << std::endl;
    }
  });

  LoadOptions o;
  o.devices = devices;
  o.rate = rate;
  o.seconds = seconds;
  o.connections = 10;
  Load load(mqtt.uri(), o);
  const LoadReport report = load.finish();
  const bool all = report.ok && wait_until([&] { return raw.distinct() >= report.acked; },
                                           std::chrono::seconds(60 + report.acked / 2000), 50ms);
  done.store(true);
  sampler.join();
  EXPECT_EQ(bridge.stop(), 0) << bridge.log();
  raw.stop();
  ASSERT_TRUE(report.ok);
  EXPECT_TRUE(all) << "delivered " << raw.distinct() << " of " << report.acked << " acknowledged readings";

  std::vector<std::pair<double, double>> settled;
  double at_1min = 0, max_kib = 0;
  for (const auto& [t, kib] : samples) {
    if (t >= 60 && at_1min == 0) at_1min = kib;
    if (t >= 60) settled.emplace_back(t, kib);
    max_kib = std::max(max_kib, kib);
  }
  std::cout << fmt::format(
                   "SOAK_SUMMARY devices={} rate={} seconds={} sent={} acked={} delivered={} publish_rate={:.0f} "
                   "rss_at_1min_kib={:.0f} rss_last_kib={:.0f} rss_max_kib={:.0f} growth_kib_per_10min={:.0f}",
                   devices, rate == kMaxRate ? std::string("max") : std::to_string(rate), seconds, report.sent,
                   report.acked, raw.distinct(), report.achieved_rate, at_1min,
                   samples.empty() ? 0.0 : samples.back().second, max_kib, slope_per_s(settled) * 600)
            << std::endl;
}

}  // namespace
