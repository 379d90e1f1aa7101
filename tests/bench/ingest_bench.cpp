// End-to-end ingest benchmark (ctest label `bench`, not in CI; scripts/bench.sh builds Release and runs it).
//
// One Mosquitto, one archer-devkafka (raw.telemetry:6, dlq.telemetry:3), archer-bridge with one [[ingest]]
// section, and archer-devsim publishing FlatBuffers telemetry at QoS 1 at a fixed open-loop rate over
// 4 connections. Side by side, on the same broker and the same stream, a baseline subscriber:
// `mosquitto_sub -q 1 -t 'devices/+/telemetry' -F '%t'` (one line per message, to a file).
//
// Measured for both processes: CPU time (utime + stime from /proc/<pid>/stat) from just before the load
// starts until that process has handled every acknowledged reading (bridge: the reading is in
// raw.telemetry, seen by a consumer in this process; baseline: its line is in the file), divided by the
// readings it handled; the windows (bridge_window_s, baseline_window_s) include archer-devsim's start and
// stop. Also the bridge's highest VmRSS (sampled every 100 ms) and the lag from the reading's scheduled
// send time (`scheduled_at_us`, devsim's open-loop schedule, so a late publisher counts too) to its
// arrival at this process's consumer (delivery lag; the consumer fetches with fetch.wait.max.ms=10) and
// to the bridge's `archer-time` header (ingest lag, ms resolution).
// Mosquitto runs with logging off (`log_dest none`): the harness's `log_type all` writes lines per
// message, which would load the shared cores with work that is neither the bridge's nor the baseline's.
// The publisher, the broker, archer-devkafka and this process's consumer share the same cores: the
// figures describe this whole setup on this machine, not the bridge alone.
//
// One line per case on stdout:
//   BENCH ingest case=.. rate=.. seconds=.. sent=.. acked=.. delivered=.. baseline_received=..
//         bridge_cpu_us_per_reading=.. baseline_cpu_us_per_reading=.. ratio=.. bridge_max_rss_kib=..
//         delivery_lag_p50_ms=.. delivery_lag_p99_ms=.. ingest_lag_p99_ms=.. publish_rate=..
//         bridge_delivered_per_s=.. (first delivery to last) drain_after_load_ms=.. [more]
// The test asserts only that every acknowledged reading was delivered; speed is reported, not checked.
//
// The arm on the real broker (cases fixed_apache, high_apache) is the same with one Apache Kafka node
// (tests/harness ApacheKafka, its JVM on the same cores) in place of archer-devkafka, a raw datalog
// of 6 partitions made for the run, and the node's RSS at the end (kafka_rss_mib=); it is skipped
// without java or the jars of scripts/kafka.sh fetch. The ratio to the baseline is computed the same way.
//
// Environment: ARCHER_BENCH_RATE (5000), ARCHER_BENCH_SECONDS (20), ARCHER_BENCH_HIGH_RATE (15000).
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

// mosquitto_sub on the same stream, one line per message (`%t`) to a file. Ready once a probe published
// to a second filter has arrived.
class Baseline {
 public:
  explicit Baseline(const Mosquitto& mqtt) : mqtt_(mqtt) {
    process_ = std::make_unique<Process>(
        std::vector<std::string>{"mosquitto_sub", "-h", "127.0.0.1", "-p", std::to_string(mqtt.port()), "-q", "1", "-i",
                                 "bench-baseline", "-t", "devices/+/telemetry", "-t", "bench/ready", "-F", "%t"},
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
  ~Baseline() {
    if (process_->running()) process_->terminate(5s);
  }
  Baseline(const Baseline&) = delete;
  Baseline& operator=(const Baseline&) = delete;

  pid_t pid() const { return process_->pid(); }
  bool running() { return process_->running(); }
  std::uint64_t received() { return count_.now() - probes_; }

 private:
  std::filesystem::path out_file() const { return dir_ / "baseline.out"; }

  const Mosquitto& mqtt_;
  TempDir dir_{"archer-bench-baseline"};
  std::unique_ptr<Process> process_;
  LineCount count_{dir_ / "baseline.out"};
  std::uint64_t probes_ = 0;
};

std::optional<double> report_field(const std::string& text, const std::string& pattern) {
  std::smatch m;
  if (!std::regex_search(text, m, std::regex(pattern))) return std::nullopt;
  return std::stod(m[1].str());
}

std::string fixed(double value, int decimals) {
  return value < 0 ? std::string("na") : fmt::format("{:.{}f}", value, decimals);
}

std::string load_average() {
  double load[3] = {0, 0, 0};
  if (getloadavg(load, 3) != 3) return "na";
  return fmt::format("{:.2f}/{:.2f}/{:.2f}", load[0], load[1], load[2]);
}

void run_case(const std::string& name, int rate, int seconds, KafkaKind kind = KafkaKind::devkafka) {
  if (std::string why; !archer::testing::kafka_available(kind, why)) GTEST_SKIP() << why;
  Mosquitto mqtt(MosquittoOptions{"log_dest none\n"});
  std::unique_ptr<DevKafka> devkafka;
  std::string raw_topic = "raw.telemetry";
  std::string dead_letters = "dlq.telemetry";
  archer::testing::KafkaCluster* kafka = nullptr;
  if (kind == KafkaKind::devkafka) {
    devkafka =
        std::make_unique<DevKafka>(DevKafkaOptions().with_topic("raw.telemetry:6").with_topic("dlq.telemetry:3"));
    kafka = devkafka.get();
  } else {
    kafka = &archer::testing::shared_kafka(kind);
    raw_topic = archer::testing::create_unique_topic(*kafka, "raw.telemetry", 6);
    dead_letters = archer::testing::create_unique_topic(*kafka, "dlq.telemetry", 3);
  }
  Raw raw(kafka->bootstrap(), raw_topic);
  RssSampler rss;
  Bridge bridge(mqtt.uri(), kafka->bootstrap(), archer::faults::telemetry_section(raw_topic, dead_letters));
  bridge.start();
  ASSERT_FALSE(::testing::Test::HasFatalFailure());
  const pid_t bridge_pid = bridge.process()->pid();
  rss.watch(bridge_pid);
  Baseline baseline(mqtt);
  ASSERT_TRUE(baseline.running());

  // The bridge's CPU while idle (connected, no load), to tell fixed costs from per-reading ones.
  const auto idle0 = cpu_seconds(bridge_pid);
  std::this_thread::sleep_for(2s);  // the idle sampling window, not a synchronisation
  const auto idle1 = cpu_seconds(bridge_pid);
  const double idle_ms_per_s = idle0 && idle1 ? (*idle1 - *idle0) * 1000 / 2 : -1;

  const std::string load_before = load_average();
  const auto bridge_cpu0 = cpu_seconds(bridge_pid);
  const auto baseline_cpu0 = cpu_seconds(baseline.pid());
  ASSERT_TRUE(bridge_cpu0 && baseline_cpu0);
  const auto started = Clock::now();

  LoadOptions o;
  o.rate = rate;
  o.seconds = seconds;
  o.connections = 4;
  Load load(mqtt.uri(), o);
  const LoadReport report = load.finish();
  ASSERT_TRUE(report.ok);
  const double load_seconds = archer::faults::seconds_since(started);
  const std::int64_t load_end_us = unix_us();

  // Each process's CPU is sampled when it has handled every acknowledged reading (or at the deadline).
  const auto deadline = std::chrono::seconds(60 + static_cast<long>(report.acked) / 2000);
  std::optional<double> bridge_cpu1;
  std::optional<double> baseline_cpu1;
  double bridge_window_s = -1;
  double baseline_window_s = -1;
  wait_until(
      [&] {
        if (!bridge_cpu1 && raw.distinct() >= report.acked) {
          bridge_cpu1 = cpu_seconds(bridge_pid);
          bridge_window_s = archer::faults::seconds_since(started);
        }
        if (!baseline_cpu1 && baseline.received() >= report.acked) {
          baseline_cpu1 = cpu_seconds(baseline.pid());
          baseline_window_s = archer::faults::seconds_since(started);
        }
        return bridge_cpu1 && baseline_cpu1;
      },
      deadline, 20ms);
  if (!bridge_cpu1) bridge_cpu1 = cpu_seconds(bridge_pid);
  if (!baseline_cpu1) baseline_cpu1 = cpu_seconds(baseline.pid());
  const std::string load_after = load_average();
  std::this_thread::sleep_for(1s);  // a window for late duplicates, not a synchronisation
  raw.stop();

  const std::uint64_t delivered = raw.distinct();
  const std::uint64_t received = baseline.received();
  const double bridge_cpu = bridge_cpu1 && bridge_cpu0 ? *bridge_cpu1 - *bridge_cpu0 : -1;
  const double baseline_cpu = baseline_cpu1 && baseline_cpu0 ? *baseline_cpu1 - *baseline_cpu0 : -1;
  const double bridge_us = delivered > 0 && bridge_cpu >= 0 ? bridge_cpu * 1e6 / static_cast<double>(delivered) : -1;
  const double baseline_us =
      received > 0 && baseline_cpu >= 0 ? baseline_cpu * 1e6 / static_cast<double>(received) : -1;
  const double ratio = bridge_us > 0 && baseline_us > 0 ? bridge_us / baseline_us : -1;
  const double send_lag_p99_ms =
      report_field(report.text, R"("send_lag_us":\{[^}]*"p99":([0-9]+))").value_or(-1000) / 1000;
  const double puback_p99_ms =
      report_field(report.text, R"("puback_latency_us":\{[^}]*"p99":([0-9]+))").value_or(-1000) / 1000;
  // What the bridge reached: readings per second from the first delivery to the last; and how long after
  // archer-devsim's exit the last one arrived (0 when before).
  const double delivery_span_s = static_cast<double>(raw.last_us() - raw.first_us()) / 1e6;
  const double delivered_per_s = delivery_span_s > 0 ? static_cast<double>(delivered - 1) / delivery_span_s : -1;
  const double drain_ms =
      raw.last_us() > 0 ? static_cast<double>(std::max<std::int64_t>(0, raw.last_us() - load_end_us)) / 1000 : -1;
  std::string broker = "broker=archer-devkafka";
  if (auto* apache = dynamic_cast<archer::testing::ApacheKafka*>(kafka)) {
    broker = fmt::format("broker=apache-kafka-{} kafka_rss_mib={}", archer::testing::ApacheKafka::version(),
                         apache->rss_bytes(apache->broker_ids().front()) >> 20);
  }

  std::cout << fmt::format(
                   "BENCH ingest case={} rate={} seconds={} sent={} acked={} delivered={} baseline_received={} "
                   "bridge_cpu_us_per_reading={} baseline_cpu_us_per_reading={} ratio={} bridge_max_rss_kib={} "
                   "delivery_lag_p50_ms={} delivery_lag_p99_ms={} ingest_lag_p99_ms={} "
                   "publish_rate={:.0f} bridge_delivered_per_s={} drain_after_load_ms={} "
                   "bridge_cpu_s={} baseline_cpu_s={} load_s={:.1f} bridge_window_s={} baseline_window_s={} "
                   "bridge_idle_cpu_ms_per_s={} devsim_send_lag_p99_ms={} devsim_puback_p99_ms={} duplicates={} "
                   "undecodable={} "
                   "loadavg_before={} loadavg_after={} {}",
                   name, rate, seconds, report.sent, report.acked, delivered, received, fixed(bridge_us, 1),
                   fixed(baseline_us, 1), fixed(ratio, 2), rss.max_kib(),
                   fixed(percentile_ms(raw.delivery_lag_us(), 0.5), 1),
                   fixed(percentile_ms(raw.delivery_lag_us(), 0.99), 1),
                   fixed(percentile_ms(raw.ingest_lag_us(), 0.99), 1), report.achieved_rate, fixed(delivered_per_s, 0),
                   fixed(drain_ms, 0), fixed(bridge_cpu, 2), fixed(baseline_cpu, 2), load_seconds,
                   fixed(bridge_window_s, 1), fixed(baseline_window_s, 1), fixed(idle_ms_per_s, 0),
                   fixed(send_lag_p99_ms, 1), fixed(puback_p99_ms, 1), raw.records() - raw.undecodable() - delivered,
                   raw.undecodable(), load_before, load_after, broker)
            << std::endl;

  // The one assertion: every reading Mosquitto acknowledged to a device is in raw.telemetry.
  EXPECT_GE(delivered, report.acked) << "acknowledged readings missing from raw.telemetry\n" << bridge.log();
  EXPECT_EQ(bridge.stop(), 0) << bridge.log();
}

TEST(IngestBench, FixedRate) {
  run_case("fixed", static_cast<int>(env_long("ARCHER_BENCH_RATE", 5000)),
           static_cast<int>(env_long("ARCHER_BENCH_SECONDS", 20)));
}

// Beyond what the publisher and broker may sustain on a small machine: reports what was reached.
TEST(IngestBench, HighRate) {
  run_case("high", static_cast<int>(env_long("ARCHER_BENCH_HIGH_RATE", 15000)),
           static_cast<int>(env_long("ARCHER_BENCH_SECONDS", 20)));
}

// The same two cases on a real Apache Kafka node.
TEST(IngestBench, FixedRateApacheKafka) {
  run_case("fixed_apache", static_cast<int>(env_long("ARCHER_BENCH_RATE", 5000)),
           static_cast<int>(env_long("ARCHER_BENCH_SECONDS", 20)), KafkaKind::apache);
}

TEST(IngestBench, HighRateApacheKafka) {
  run_case("high_apache", static_cast<int>(env_long("ARCHER_BENCH_HIGH_RATE", 15000)),
           static_cast<int>(env_long("ARCHER_BENCH_SECONDS", 20)), KafkaKind::apache);
}

}  // namespace
