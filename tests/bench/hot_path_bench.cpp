// Instructions per reading on the ingest hot path, counted by callgrind (ctest label `bench`, Release
// builds only, not in CI; scripts/bench.sh runs it). An instruction count does not move with the
// machine's load the way CPU time does, so a regression shows as a number rather than as noise.
//
// Each arm runs under `valgrind --tool=callgrind` on a fresh Mosquitto and archer-devkafka:
//   limit   mosquitto_sub -q 1 writing one line per message (receiving, and nothing else);
//   naive   tests/bench/arms/naive_bridge (Paho C++ -> librdkafka, nothing else);
//   mosq    tests/bench/arms/mosquitto_bridge: the same on libmosquitto instead of Paho (skipped
//           when it was not built: it needs libmosquitto-dev);
//   archer  archer-bridge as shipped (spool, validation, bind, key, headers).
// 1. warm-up: a short feed, until the arm has passed all of it on (connections, metadata, first
//    allocations); 2. idle: callgrind_control --zero, 5 s with no feed, --dump: the instructions per
//    second of timers and statistics; 3. --zero, the measured feed until the arm has passed all of it
//    on, --dump: every thread's instructions in that window. Per reading: the window's instructions
//    less the idle rate times the window's length, divided by the readings. (Under valgrind an arm is
//    some 50 times slower, so the window is long and the idle work, negligible at full speed, would
//    otherwise weigh.) The feed is offered faster than an arm under valgrind takes it. One line per arm:
//   BENCH hot_path arm=.. readings=.. instructions=.. per_reading=.. ratio_to_limit=..
//
// Asserted: archer's instructions per reading stay within ARCHER_BENCH_INSTRUCTION_BUDGET (default
// kDefaultBudget, about 15 % above what docs/performance.md reports), and every arm passed on every
// reading of the measured feed.
//
// Environment: ARCHER_BENCH_READINGS readings in the measured feed [3000]; ARCHER_BENCH_ARMS
// comma-separated [limit,naive,mosq,archer] (the budget is checked when archer runs);
// ARCHER_BENCH_PROFILE_DIR keeps each arm's callgrind files there for callgrind_annotate.
#include <sys/types.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "../faults/figures.h"
#include "archer/testing/bridge.h"
#include "archer/testing/testing.h"
#include "arms/arms.h"

namespace {

using namespace std::chrono_literals;
using archer::bench::Raw;
using archer::bench::Subscriber;
using archer::faults::env_long;
using archer::faults::Load;
using archer::faults::LoadOptions;
using archer::testing::Bridge;
using archer::testing::DevKafka;
using archer::testing::DevKafkaOptions;
using archer::testing::Mosquitto;
using archer::testing::MosquittoOptions;
using archer::testing::Process;
using archer::testing::ProcessOptions;
using archer::testing::TempDir;
using archer::testing::wait_until;

constexpr long kDefaultBudget = 100'000;
constexpr int kWarmUpReadings = 300;

// An arm under callgrind, driven by callgrind_control: counters zeroed, then dumped.
class Callgrind {
 public:
  explicit Callgrind(std::filesystem::path out_file) : out_file_(std::move(out_file)) {}
  // valgrind and its options, to go in front of the arm's command line.
  std::vector<std::string> command() const {
    return {"valgrind",
            "--tool=callgrind",
            "--callgrind-out-file=" + out_file_.string(),
            "--log-file=" + out_file_.string() + ".log",
            "--fair-sched=yes",
            "--compress-strings=no"};
  }
  void zero(pid_t pid) { EXPECT_TRUE(control("--zero", pid)); }
  // The instructions of every thread since the last zero (0 and a test failure when none).
  std::uint64_t dump(pid_t pid) {
    EXPECT_TRUE(control("--dump", pid));
    // Dumps on request are numbered: <out>.1, <out>.2, ...
    const std::filesystem::path file = out_file_.string() + "." + std::to_string(++dumps_);
    std::ifstream in(file);
    for (std::string line; std::getline(in, line);) {
      if (line.starts_with("summary: ")) return std::stoull(line.substr(9));
    }
    ADD_FAILURE() << "no summary line in " << file;
    return 0;
  }

 private:
  static bool control(const std::string& command, pid_t pid) {
    Process control({"callgrind_control", command, std::to_string(pid)}, ProcessOptions{}.without_stdout_capture());
    const auto status = control.wait_exit(60s);
    return status && *status == 0;
  }

  std::filesystem::path out_file_;
  int dumps_ = 0;
};

// Publishes `readings` from 100 devices at up to 1,000/s and waits until `passed_on()` has grown by
// as many (a test failure after the deadline).
void feed(const Mosquitto& mqtt, int readings, const std::function<std::uint64_t()>& passed_on) {
  const std::uint64_t before = passed_on();
  LoadOptions o;
  o.devices = 100;
  o.connections = 10;
  o.rate = std::min(readings, 1000);
  o.seconds = std::max(1, readings / o.rate);
  Load load(mqtt.uri(), o);
  const auto report = load.finish();
  ASSERT_TRUE(report.ok);
  const std::uint64_t wanted = before + report.acked;
  const bool all = wait_until([&] { return passed_on() >= wanted; }, std::chrono::seconds(60 + readings / 5), 100ms);
  ASSERT_TRUE(all) << "the arm passed on " << passed_on() - before << " of " << report.acked << " readings";
}

struct Measured {
  std::uint64_t readings = 0;
  std::uint64_t instructions = 0;  // in the feed's window, idle work included
  double idle_per_second = 0;      // with no readings: timers, statistics
  double window_seconds = 0;
  // The instructions of the window less what idle work took in as long, per reading.
  double per_reading() const {
    if (readings == 0) return 0;
    return (static_cast<double>(instructions) - idle_per_second * window_seconds) / static_cast<double>(readings);
  }
};

// How long the idle work is counted for.
constexpr auto kIdleWindow = 5s;

enum class Arm { limit, naive, mosq, archer };

Measured measure(Arm arm, const std::string& name, int readings) {
  Mosquitto mqtt(MosquittoOptions{"log_dest none\n"});
  DevKafka kafka(DevKafkaOptions().with_topic("raw.telemetry:6").with_topic("dlq.telemetry:3"));
  Raw raw(kafka.bootstrap(), "raw.telemetry");
  TempDir dir("archer-bench-callgrind");
  // Kept for callgrind_annotate when asked for: <dir>/<arm>.callgrind.out.2 is the measured window.
  const char* keep = std::getenv("ARCHER_BENCH_PROFILE_DIR");
  const std::filesystem::path profile_dir = keep != nullptr ? std::filesystem::path(keep) : dir.path();
  Callgrind callgrind(profile_dir / (name + ".callgrind.out"));
  const std::vector<std::string> valgrind = callgrind.command();

  std::unique_ptr<Subscriber> subscriber;
  std::unique_ptr<Process> program;
  std::unique_ptr<Bridge> bridge;
  pid_t pid = -1;
  switch (arm) {
    case Arm::limit: {
      // One line per message as it comes (stdbuf), so that they can be counted while it runs.
      std::vector<std::string> wrapper{"stdbuf", "-oL"};
      wrapper.insert(wrapper.end(), valgrind.begin(), valgrind.end());
      subscriber = std::make_unique<Subscriber>(mqtt, 1, wrapper);
      pid = subscriber->pid();
      break;
    }
    case Arm::naive: {
      std::vector<std::string> argv = valgrind;
      argv.insert(argv.end(), {std::string(ARCHER_BIN_DIR) + "/naive_bridge", mqtt.uri(), kafka.bootstrap(),
                               "devices/+/telemetry", "1", "raw.telemetry"});
      program = archer::bench::start_arm_program(argv, dir, 60s);
      pid = program->pid();
      break;
    }
    case Arm::mosq: {
      std::vector<std::string> argv = valgrind;
      argv.insert(argv.end(),
                  {std::string(ARCHER_BIN_DIR) + "/mosquitto_bridge", "127.0.0.1", std::to_string(mqtt.port()),
                   kafka.bootstrap(), "devices/+/telemetry", "1", "raw.telemetry"});
      program = archer::bench::start_arm_program(argv, dir, 60s);
      pid = program->pid();
      break;
    }
    case Arm::archer:
      bridge = std::make_unique<Bridge>(mqtt.uri(), kafka.bootstrap(),
                                        archer::faults::telemetry_section("raw.telemetry", "dlq.telemetry"));
      bridge->run_under(valgrind);
      bridge->start();
      pid = bridge->process()->pid();
      break;
  }
  if (::testing::Test::HasFailure()) return {};
  const auto passed_on = [&]() -> std::uint64_t { return subscriber ? subscriber->received() : raw.records(); };

  feed(mqtt, kWarmUpReadings, passed_on);
  if (::testing::Test::HasFatalFailure()) return {};
  Measured measured;
  // Idle: a fixed window with no feed, the time being what is measured.
  callgrind.zero(pid);
  auto from = std::chrono::steady_clock::now();
  std::this_thread::sleep_for(kIdleWindow);
  measured.idle_per_second = static_cast<double>(callgrind.dump(pid)) / archer::faults::seconds_since(from);

  callgrind.zero(pid);
  from = std::chrono::steady_clock::now();
  const std::uint64_t before = passed_on();
  feed(mqtt, readings, passed_on);
  if (::testing::Test::HasFatalFailure()) return {};
  measured.readings = passed_on() - before;
  measured.window_seconds = archer::faults::seconds_since(from);
  measured.instructions = callgrind.dump(pid);
  if (bridge) {
    EXPECT_EQ(bridge->stop(60s), 0) << bridge->log();
  }
  if (program) {
    EXPECT_EQ(program->terminate(60s), 0) << archer::testing::read_file(dir / "arm.log");
  }
  return measured;
}

TEST(HotPath, InstructionsPerReadingStayWithinTheBudget) {
  if (std::string(ARCHER_BUILD_TYPE) != "Release") {
    GTEST_SKIP() << "the instruction budget is for Release builds (scripts/bench.sh); this is " << ARCHER_BUILD_TYPE;
  }
  const int readings = static_cast<int>(env_long("ARCHER_BENCH_READINGS", 3000));
  const long budget = env_long("ARCHER_BENCH_INSTRUCTION_BUDGET", kDefaultBudget);
  const std::vector<std::string> wanted = archer::bench::env_list("ARCHER_BENCH_ARMS", "limit,naive,mosq,archer");
  double limit = 0;
  std::optional<double> archer_per_reading;
  for (const auto& [arm, name] : {std::pair{Arm::limit, "limit"}, std::pair{Arm::naive, "naive"},
                                  std::pair{Arm::mosq, "mosq"}, std::pair{Arm::archer, "archer"}}) {
    if (std::find(wanted.begin(), wanted.end(), name) == wanted.end()) continue;
    if (arm == Arm::mosq && !std::filesystem::exists(std::string(ARCHER_BIN_DIR) + "/mosquitto_bridge")) {
      std::cout << "BENCH hot_path arm=mosq skipped: no mosquitto_bridge (libmosquitto-dev not installed)" << std::endl;
      continue;
    }
    const Measured m = measure(arm, name, readings);
    ASSERT_FALSE(::testing::Test::HasFatalFailure()) << name;
    if (arm == Arm::limit) limit = m.per_reading();
    if (arm == Arm::archer) archer_per_reading = m.per_reading();
    std::cout << fmt::format(
                     "BENCH hot_path arm={} readings={} instructions={} window_s={:.1f} idle_per_s={:.0f} "
                     "per_reading={:.0f} ratio_to_limit={}",
                     name, m.readings, m.instructions, m.window_seconds, m.idle_per_second, m.per_reading(),
                     limit > 0 ? fmt::format("{:.2f}", m.per_reading() / limit) : std::string("na"))
              << std::endl;
  }
  if (!archer_per_reading) return;
  EXPECT_LE(*archer_per_reading, static_cast<double>(budget))
      << "archer-bridge spends more instructions per reading than its budget (ARCHER_BENCH_INSTRUCTION_BUDGET)";
}

}  // namespace
