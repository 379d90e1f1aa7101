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
//   script  tests/bench/arms/script_bridge.py: Debian's paho-mqtt + confluent-kafka, the same work;
//   archer  archer-bridge as shipped (validation, bind, key, headers, the spool with [spool] sync 100 ms);
//   relaxed archer-bridge with [spool] sync = "1s".
// Each Kafka arm runs on archer-devkafka and on one Apache Kafka node (skipped without java or the jars).
//
// Per arm and step, one line on stdout:
//   LADDER broker=.. qos=.. rate=.. round=.. arm=.. sent=.. acked=.. delivered=.. publish_rate=..
//          delivered_per_s=.. cpu_us_per_reading=.. max_rss_kib=.. lag_p50_ms=.. lag_p99_ms=.. lag_p999_ms=..
//          lag_max_ms=.. seconds=.. loadavg=..
// sent/acked   archer-devsim's report (QoS 0: acked = sent, nothing is acknowledged)
// delivered    distinct (device, seq) readings the arm passed on: in the raw datalog (Kafka arms), lines
//              written (limit)
// cpu_us       the arm process's utime + stime from just before the feed starts until it has passed on
//              every reading it will (or a deadline), divided by what it delivered
// lag          scheduled send time -> the reading consumed from Kafka by this process (fetch.wait.max.ms
//              10); "na" for the limit arm. It includes the feed's own lateness: at "max" it is the queue.
// The feed, the broker, archer-devkafka or the JVM and this process share the machine's cores with the
// arm: the figures describe this whole setup on this machine; the ratios between arms are what carries.
//
// Environment (defaults in brackets):
//   ARCHER_BENCH_RATES    comma-separated readings/s, "max" for as fast as the feed goes [2000,5000,10000,20000,max]
//   ARCHER_BENCH_QOS      comma-separated                                   [1,0]
//   ARCHER_BENCH_ARMS     comma-separated                                   [limit,naive,script,archer,relaxed]
//   ARCHER_BENCH_BROKERS  comma-separated devkafka,apache                   [devkafka,apache]
//   ARCHER_BENCH_ROUNDS   [3]     ARCHER_BENCH_SECONDS  seconds of feed per step [10]
//   ARCHER_BENCH_DEVICES  [1000]
// The assertion: a Kafka arm at QoS 1 delivers every reading Mosquitto acknowledged; speed is reported.
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

namespace {

using namespace std::chrono_literals;
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

std::int64_t unix_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// utime + stime of a process in seconds (from /proc/<pid>/stat), or nullopt when it cannot be read.
std::optional<double> cpu_seconds(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string text;
  std::getline(in, text);
  const std::size_t close = text.rfind(')');  // the command name may hold spaces and parentheses
  if (close == std::string::npos) return std::nullopt;
  std::istringstream fields(text.substr(close + 2));
  std::vector<std::string> f;
  for (std::string field; fields >> field;) f.push_back(field);
  // f[0] is field 3 (state): utime is field 14, stime field 15.
  if (f.size() < 13) return std::nullopt;
  const double ticks = static_cast<double>(std::stoull(f[11]) + std::stoull(f[12]));
  return ticks / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

double percentile_ms(std::vector<std::int64_t> us, double q) {
  if (us.empty()) return -1;
  const auto rank = static_cast<std::size_t>(q * static_cast<double>(us.size() - 1));
  std::nth_element(us.begin(), us.begin() + static_cast<std::ptrdiff_t>(rank), us.end());
  return static_cast<double>(us[rank]) / 1000.0;
}

// Reads raw.telemetry from the start, in the background, for the whole run (archer-devkafka drops the
// oldest records of a partition beyond 5 MiB): distinct (device, seq) readings and their lags.
class Raw {
 public:
  Raw(const std::string& bootstrap, const std::string& topic)
      : consumer_(bootstrap, {topic}, {{"fetch.wait.max.ms", "10"}}) {
    thread_ = std::thread([this] { run(); });
  }
  ~Raw() { stop(); }
  Raw(const Raw&) = delete;
  Raw& operator=(const Raw&) = delete;

  std::uint64_t distinct() const {
    std::lock_guard lock(mutex_);
    return seen_.size();
  }
  // Call after stop().
  std::uint64_t records() const { return records_; }
  std::uint64_t undecodable() const { return undecodable_; }
  // Unix microseconds of the first and the last new reading (0 if none).
  std::int64_t first_us() const { return first_us_; }
  std::int64_t last_us() const { return last_us_; }
  const std::vector<std::int64_t>& delivery_lag_us() const { return delivery_lag_us_; }
  const std::vector<std::int64_t>& ingest_lag_us() const { return ingest_lag_us_; }

  void stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }

 private:
  void run() {
    auto& consumer = consumer_.consumer();
    while (!stop_.load()) {
      std::unique_ptr<RdKafka::Message> message(consumer.consume(100));
      if (message->err() != RdKafka::ERR_NO_ERROR) continue;  // timeouts and partition EOF
      add(*message, unix_us());
    }
  }

  void add(RdKafka::Message& message, std::int64_t now_us) {
    ++records_;
    const auto* data = static_cast<const std::uint8_t*>(message.payload());
    flatbuffers::Verifier verifier(data, message.len());
    if (data == nullptr || !tel::VerifyTelemetryBuffer(verifier)) {
      ++undecodable_;
      return;
    }
    const auto* root = tel::GetTelemetry(data);
    {
      std::lock_guard lock(mutex_);
      if (!seen_.emplace(root->device()->str(), root->seq()).second) return;  // a duplicate
    }
    if (first_us_ == 0) first_us_ = now_us;
    last_us_ = now_us;
    std::int64_t scheduled_us = 0;
    switch (root->reading_type()) {
      case tel::Reading::EnvironmentReading:
        scheduled_us = root->reading_as_EnvironmentReading()->scheduled_at_us();
        break;
      case tel::Reading::ValveReading:
        scheduled_us = root->reading_as_ValveReading()->scheduled_at_us();
        break;
      case tel::Reading::MeterReading:
        scheduled_us = root->reading_as_MeterReading()->scheduled_at_us();
        break;
      default:
        break;
    }
    if (scheduled_us <= 0) return;
    delivery_lag_us_.push_back(now_us - scheduled_us);
    if (const RdKafka::Headers* headers = message.headers(); headers != nullptr) {
      const auto header = headers->get_last("archer-time");
      if (header.err() == RdKafka::ERR_NO_ERROR && header.value() != nullptr) {
        const std::string ms(static_cast<const char*>(header.value()), header.value_size());
        ingest_lag_us_.push_back(std::strtoll(ms.c_str(), nullptr, 10) * 1000 - scheduled_us);
      }
    }
  }

  archer::testing::KafkaConsumerForTest consumer_;
  mutable std::mutex mutex_;
  std::set<std::pair<std::string, std::uint64_t>> seen_;
  std::uint64_t records_ = 0;      // the reading thread's until stop()
  std::uint64_t undecodable_ = 0;  // same
  std::int64_t first_us_ = 0;      // same
  std::int64_t last_us_ = 0;       // same
  std::vector<std::int64_t> delivery_lag_us_;
  std::vector<std::int64_t> ingest_lag_us_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// Newlines in a growing file, read incrementally.
class LineCount {
 public:
  explicit LineCount(std::filesystem::path path) : path_(std::move(path)) {}
  std::uint64_t now() {
    std::ifstream in(path_, std::ios::binary);
    in.seekg(static_cast<std::streamoff>(offset_));
    char buffer[65536];
    while (in.read(buffer, sizeof buffer) || in.gcount() > 0) {
      const auto n = static_cast<std::size_t>(in.gcount());
      lines_ += static_cast<std::uint64_t>(std::count(buffer, buffer + n, '\n'));
      offset_ += n;
    }
    return lines_;
  }

 private:
  std::filesystem::path path_;
  std::uint64_t offset_ = 0;
  std::uint64_t lines_ = 0;
};

// The limit arm: mosquitto_sub at the feed's QoS, one line per message (`%t`) to a file. Ready once a
// probe published to a second filter has arrived.
class Subscriber {
 public:
  Subscriber(const Mosquitto& mqtt, int qos) : mqtt_(mqtt) {
    process_ = std::make_unique<Process>(
        std::vector<std::string>{"mosquitto_sub", "-h", "127.0.0.1", "-p", std::to_string(mqtt.port()), "-q",
                                 std::to_string(qos), "-i", "bench-limit", "-t", "devices/+/telemetry", "-t",
                                 "bench/ready", "-F", "%t"},
        ProcessOptions{}.without_stdout_capture().with_stderr_file(out_file()));
    const bool ready = wait_until(
        [&] {
          if (count_.now() > 0 || !process_->running()) return true;
          Process probe({"mosquitto_pub", "-h", "127.0.0.1", "-p", std::to_string(mqtt_.port()), "-q", "1", "-t",
                         "bench/ready", "-m", "ready"});
          probe.wait_exit(5s);
          return wait_until([&] { return count_.now() > 0; }, 200ms, 20ms);
        },
        10s, 50ms);
    EXPECT_TRUE(ready && process_->running()) << "mosquitto_sub did not become ready:\n"
                                              << archer::testing::read_file(out_file());
    probes_ = count_.now();
  }
  ~Subscriber() {
    if (process_->running()) process_->terminate(5s);
  }
  Subscriber(const Subscriber&) = delete;
  Subscriber& operator=(const Subscriber&) = delete;

  pid_t pid() const { return process_->pid(); }
  std::uint64_t received() { return count_.now() - probes_; }

 private:
  std::filesystem::path out_file() const { return dir_ / "limit.out"; }

  const Mosquitto& mqtt_;
  TempDir dir_{"archer-bench-limit"};
  std::unique_ptr<Process> process_;
  LineCount count_{dir_ / "limit.out"};
  std::uint64_t probes_ = 0;
};

// The naive and script arms: a program that prints "ready" once subscribed and flushes on SIGTERM.
std::unique_ptr<Process> start_arm_program(std::vector<std::string> argv, const TempDir& dir) {
  auto process = std::make_unique<Process>(std::move(argv), ProcessOptions{}.with_stderr_file(dir / "arm.log"));
  const auto line = process->read_line(20s);
  EXPECT_EQ(line, "ready") << process->argv().front() << " did not start:\n"
                           << archer::testing::read_file(dir / "arm.log");
  return process;
}

std::string fixed(double value, int decimals) {
  return value < 0 ? std::string("na") : fmt::format("{:.{}f}", value, decimals);
}

std::string load_average() {
  double load[3] = {0, 0, 0};
  if (getloadavg(load, 3) != 3) return "na";
  return fmt::format("{:.2f}/{:.2f}/{:.2f}", load[0], load[1], load[2]);
}

enum class Arm { limit, naive, script, archer, relaxed };

std::optional<Arm> arm_named(const std::string& name) {
  for (const auto& [arm, text] :
       {std::pair{Arm::limit, "limit"}, std::pair{Arm::naive, "naive"}, std::pair{Arm::script, "script"},
        std::pair{Arm::archer, "archer"}, std::pair{Arm::relaxed, "relaxed"}}) {
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
    case Arm::script:
      return "script";
    case Arm::archer:
      return "archer";
    case Arm::relaxed:
      return "relaxed";
  }
  return "?";
}

std::vector<std::string> env_list(const char* name, const char* fallback) {
  const char* value = std::getenv(name);
  std::stringstream in(value != nullptr && *value != '\0' ? value : fallback);
  std::vector<std::string> out;
  for (std::string item; std::getline(in, item, ',');) {
    if (!item.empty()) out.push_back(item);
  }
  return out;
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
                   "lag_p999_ms={} lag_max_ms={} seconds={:.1f} loadavg={}",
                   step.broker == KafkaKind::devkafka ? "devkafka" : "apache", step.qos,
                   step.rate == kMaxRate ? std::string("max") : std::to_string(step.rate), step.round,
                   arm_name(step.arm), report.sent, report.acked, passed, report.achieved_rate,
                   fixed(delivered_per_s, 0), fixed(cpu_us, 2), rss.max_kib(), lag(0.5), lag(0.99), lag(0.999),
                   lag(1.0), window_s, load_after)
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
  for (const auto& name : env_list("ARCHER_BENCH_ARMS", "limit,naive,script,archer,relaxed")) {
    const auto arm = arm_named(name);
    ASSERT_TRUE(arm) << "ARCHER_BENCH_ARMS: unknown arm '" << name << "'";
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

}  // namespace
