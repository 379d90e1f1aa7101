#pragma once
// What the ingest benchmarks share: the arms they start (a bare subscriber, a program that prints
// "ready"), what they count (the raw datalog's distinct readings and their lags, a subscriber's
// lines) and the process figures they read (CPU time).
#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <librdkafka/rdkafkacpp.h>

#include "archer/testing/kafka.h"
#include "archer/testing/mosquitto.h"
#include "archer/testing/process.h"
#include "archer/testing/temp_dir.h"

namespace archer::bench {

// utime + stime of a process in seconds (from /proc/<pid>/stat), or nullopt when it cannot be read.
std::optional<double> cpu_seconds(pid_t pid);
// Context switches (voluntary and not) of every live thread of a process: each is a wake-up, and on
// a virtual machine each costs microseconds of CPU that no instruction count shows.
std::uint64_t context_switches(pid_t pid);

// The q-quantile (0..1) of microsecond samples, in ms; -1 when there are none.
double percentile_ms(std::vector<std::int64_t> us, double q);

// The comma-separated items of environment variable `name`, or of `fallback` when it is unset or empty.
std::vector<std::string> env_list(const char* name, const char* fallback);

// `value` with `decimals` decimals, or "na" when it is negative (not measured).
std::string fixed(double value, int decimals);

// The load averages as "1m/5m/15m", or "na".
std::string load_average();

// Reads a raw datalog topic from the start, in the background, for the whole run (archer-devkafka
// drops the oldest records of a partition beyond 5 MiB): distinct (device, seq) readings of the
// telemetry schema and their lags from the scheduled send time in each payload.
class Raw {
 public:
  Raw(const std::string& bootstrap, const std::string& topic);
  ~Raw() { stop(); }
  Raw(const Raw&) = delete;
  Raw& operator=(const Raw&) = delete;

  std::uint64_t distinct() const;
  // Every record read, duplicates and repeated (device, seq) pairs of a later feed included.
  std::uint64_t records() const { return records_.load(); }
  // Call after stop().
  std::uint64_t undecodable() const { return undecodable_; }
  // Unix microseconds of the first and the last new reading (0 if none).
  std::int64_t first_us() const { return first_us_; }
  std::int64_t last_us() const { return last_us_; }
  const std::vector<std::int64_t>& delivery_lag_us() const { return delivery_lag_us_; }
  const std::vector<std::int64_t>& ingest_lag_us() const { return ingest_lag_us_; }

  void stop();

 private:
  void run();
  void add(RdKafka::Message& message, std::int64_t now_us);

  archer::testing::KafkaConsumerForTest consumer_;
  mutable std::mutex mutex_;
  std::set<std::pair<std::string, std::uint64_t>> seen_;
  std::atomic<std::uint64_t> records_{0};
  std::uint64_t undecodable_ = 0;  // the reading thread's until stop()
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
  std::uint64_t now();

 private:
  std::filesystem::path path_;
  std::uint64_t offset_ = 0;
  std::uint64_t lines_ = 0;
};

// The limit arm: mosquitto_sub at the feed's QoS, one line per message (`%t`) to a file, started
// behind `wrapper` (e.g. valgrind and its options) when one is given. Ready once a probe published to
// a second filter has arrived.
class Subscriber {
 public:
  Subscriber(const archer::testing::Mosquitto& mqtt, int qos, std::vector<std::string> wrapper = {});
  ~Subscriber();
  Subscriber(const Subscriber&) = delete;
  Subscriber& operator=(const Subscriber&) = delete;

  pid_t pid() const { return process_->pid(); }
  std::uint64_t received() { return count_.now() - probes_; }

 private:
  std::filesystem::path out_file() const { return dir_ / "limit.out"; }

  const archer::testing::Mosquitto& mqtt_;
  archer::testing::TempDir dir_{"archer-bench-limit"};
  std::unique_ptr<archer::testing::Process> process_;
  LineCount count_{dir_ / "limit.out"};
  std::uint64_t probes_ = 0;
};

// The naive and script arms: a program that prints "ready" once subscribed and flushes on SIGTERM;
// its stderr goes to `dir`/arm.log. `ready_within` is longer for a program under valgrind.
std::unique_ptr<archer::testing::Process> start_arm_program(
    std::vector<std::string> argv, const archer::testing::TempDir& dir,
    std::chrono::seconds ready_within = std::chrono::seconds(20));

}  // namespace archer::bench
