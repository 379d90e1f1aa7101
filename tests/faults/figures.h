#pragma once
// Shared pieces of the fault suite (tests/faults): what every scenario counts and prints, the load
// generator (archer-devsim) it runs, and the probes it reads (RSS, /metrics).
//
// One figure line per scenario on stdout, read by people and by scripts/soak.sh:
//   FIGURES scenario=kafka_away published=.. acked=.. delivered=.. lost=.. duplicated=.. reordered=..
//           unacked=.. max_rss_kib=.. seconds=.. [extra=..]
// published  telemetry messages archer-devsim sent (its report's "sent")
// acked      of those, PUBACKed by Mosquitto (its report's "acked"): the bridge must not lose these
// unacked    published - acked: never acknowledged to the device (a broker restart, the run's end);
//            the device would resend them, so losing them is not the bridge's loss
// delivered  distinct (device, seq) readings in the raw datalog, values verified as telemetry.fbs
// lost       acked readings not delivered: max(0, acked - delivered). Exact when every published
//            reading was acked; when some were not (Mosquitto restarted), delivered may include
//            some of those, so it is then a lower bound, and `gaps` below is the cross-check
// gaps       per device, seqs missing below the highest seq delivered for that device (devsim's
//            seq rises by exactly 1 per published reading, starting at 1)
// duplicated records beyond the first per (device, seq)
// reordered  per device, in partition-offset order, first deliveries whose seq is lower than a seq
//            delivered before them (duplicates are counted above, not here)
// max_rss_kib  the highest VmRSS of archer-bridge sampled during the run (every 100 ms)
#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "archer/schemas/event_generated.h"
#include "archer/testing/kafka.h"
#include "archer/testing/kafka_cluster.h"
#include "archer/testing/process.h"
#include "archer/testing/temp_dir.h"

namespace archer::faults {

// An integer from the environment (the soak script's overrides), else `fallback`.
long env_long(const char* name, long fallback);

// archer-devsim's JSON report (the fields the suite uses).
struct LoadReport {
  bool ok = false;  // the report was found and parsed
  std::uint64_t sent = 0;
  std::uint64_t acked = 0;
  std::uint64_t publish_failed = 0;
  std::uint64_t skipped_disconnected = 0;
  std::uint64_t connects = 0;
  double achieved_rate = 0;
  std::string text;
};

struct LoadOptions {
  int devices = 200;
  int rate = 1000;       // messages/s across the fleet
  int seconds = 20;      // how long it publishes
  int connections = 20;  // devices multiplexed over this many MQTT connections
  int seed = 20260601;
  int qos = 1;
};

// archer-devsim publishing FlatBuffers telemetry at QoS 1 (one process per run).
class Load {
 public:
  Load(const std::string& mqtt_uri, LoadOptions options);
  ~Load();
  Load(const Load&) = delete;
  Load& operator=(const Load&) = delete;

  // The simulator's own running count of PUBACKed telemetry (its progress line, once a second).
  std::uint64_t acked_so_far() const;
  std::uint64_t sent_so_far() const;
  bool running() { return process_->running(); }
  pid_t pid() const { return process_->pid(); }
  // Waits for the end of the run (its duration + `extra`) and reads the report. Fails the test if
  // archer-devsim did not exit 0 or wrote no report.
  LoadReport finish(std::chrono::seconds extra = std::chrono::seconds(60));
  // Waits until the simulator reports `count` more acknowledged readings than now; a test failure
  // with the simulator's log after `timeout`.
  void wait_for_acks(std::uint64_t count, std::chrono::seconds timeout = std::chrono::seconds(30)) const;
  const LoadOptions& options() const { return options_; }
  std::string log() const;

 private:
  std::pair<std::uint64_t, std::uint64_t> progress() const;

  LoadOptions options_;
  archer::testing::TempDir dir_{"archer-devsim-run"};
  std::unique_ptr<archer::testing::Process> process_;
};

// Samples VmRSS of one process (the pid can be changed when the bridge is restarted) every 100 ms.
class RssSampler {
 public:
  RssSampler();
  ~RssSampler();
  RssSampler(const RssSampler&) = delete;
  RssSampler& operator=(const RssSampler&) = delete;
  void watch(pid_t pid) { pid_.store(pid); }
  std::uint64_t max_kib() const { return max_kib_.load(); }

 private:
  std::atomic<pid_t> pid_{-1};
  std::atomic<std::uint64_t> max_kib_{0};
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// VmRSS of a process in KiB, or 0 when it cannot be read.
std::uint64_t rss_kib(pid_t pid);

struct HttpResponse {
  int status = 0;
  std::string body;
};
// GET http://127.0.0.1:<port><path>: the status and body, or nullopt (connection refused, timeout).
std::optional<HttpResponse> http_request(std::uint16_t port, const std::string& path,
                                         std::chrono::milliseconds timeout = std::chrono::seconds(2));
// GET http://127.0.0.1:<port><path>; the body, or nullopt (connection refused, timeout, not 200).
std::optional<std::string> http_get(std::uint16_t port, const std::string& path,
                                    std::chrono::milliseconds timeout = std::chrono::seconds(2));
// The sum of a metric on the bridge's /metrics at `port`, or nullopt (not served, or absent).
std::optional<double> scrape(std::uint16_t port, const std::string& metric);
// Config lines that put `spool_keys` into the harness's [spool] table (keys before the first table
// header land there) and /metrics, /readyz on 127.0.0.1:<port>; the sections follow.
std::string http_head(std::uint16_t port, const std::string& spool_keys = "");
// Sum of every sample of a Prometheus metric (all label sets), or nullopt when it is absent.
std::optional<double> metric_value(const std::string& prometheus_text, const std::string& name);

// Reads the raw datalog and counts. Reading starts in the background at construction and goes on
// through the whole run: archer-devkafka (librdkafka's mock cluster) keeps at most 5 MiB or 100,000
// message sets per partition and deletes the oldest beyond that, so a long run read only at its end
// would find its beginning gone. Every value must verify as a telemetry.fbs root (a value that does
// not is counted in `undecodable`).
class Datalog {
 public:
  explicit Datalog(const std::string& bootstrap, const std::string& topic = "raw.telemetry");
  ~Datalog();
  Datalog(const Datalog&) = delete;
  Datalog& operator=(const Datalog&) = delete;

  // Waits until `target` distinct readings were seen or `timeout` passed; then keeps reading for
  // `settle` (duplicates arrive behind the originals) and stops. Returns distinct() >= target.
  bool collect(std::uint64_t target, std::chrono::milliseconds timeout,
               std::chrono::milliseconds settle = std::chrono::seconds(2));

  std::uint64_t records() const;
  std::uint64_t distinct() const;
  std::uint64_t duplicated() const;
  std::uint64_t undecodable() const;
  std::uint64_t reordered() const;
  std::uint64_t gaps() const;
  std::uint64_t devices() const;
  // For failure messages: the missing seq ranges of up to `devices` devices, e.g.
  // "env-0001: 120-131, 4002-4010; ...".
  std::string describe_gaps(std::size_t devices = 5) const;

 private:
  void add(const archer::testing::Record& record);
  void run();
  void stop();

  archer::testing::KafkaConsumerForTest consumer_;
  mutable std::mutex mutex_;
  std::uint64_t records_ = 0;
  std::uint64_t undecodable_ = 0;
  std::set<std::pair<std::string, std::uint64_t>> seen_;
  std::map<std::string, std::uint64_t> highest_;
  // (partition, offset) -> (device, seq) of first deliveries, for the order check at the end.
  std::map<std::pair<std::int32_t, std::int64_t>, std::pair<std::string, std::uint64_t>> firsts_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

struct Figures {
  std::string scenario;
  std::uint64_t published = 0;
  std::uint64_t acked = 0;
  std::uint64_t delivered = 0;
  std::uint64_t lost = 0;
  std::uint64_t duplicated = 0;
  std::uint64_t reordered = 0;
  std::uint64_t unacked = 0;
  std::uint64_t gaps = 0;
  std::uint64_t max_rss_kib = 0;
  double seconds = 0;
  std::vector<std::pair<std::string, std::string>> extra;  // scenario-specific, printed after

  Figures& with(std::string name, std::string value) {
    extra.emplace_back(std::move(name), std::move(value));
    return *this;
  }
  std::string line() const;
};

// The figures of a run from the simulator's report and the raw datalog; prints the FIGURES line.
Figures tally(const std::string& scenario, const LoadReport& load, const Datalog& datalog, std::uint64_t max_rss_kib,
              std::chrono::steady_clock::time_point started);
void print(const Figures& figures);

// The [[ingest]] section every scenario uses (archer-devsim's topics and payloads).
// A binary Telemetry root (an environment reading) of `device`, as devices publish it.
std::string telemetry_reading(const std::string& device, std::uint64_t seq);

std::string telemetry_section(const std::string& topic = "raw.telemetry",
                              const std::string& dead_letter = "dlq.telemetry");

// Every broker away, and back: archer-devkafka's brokers all down (connections refused) and up;
// an Apache Kafka cluster's every node stopped (SIGTERM, the JVMs exit) and started again as itself
// (returns once metadata lists every broker).
void take_kafka_away(archer::testing::KafkaCluster& kafka);
void bring_kafka_back(archer::testing::KafkaCluster& kafka);

// A CommandOutcome of the event log, or nullptr when the record is not one.
const archer::event::CommandOutcome* outcome_of(const archer::testing::Record& record);

// Seconds since `since`.
double seconds_since(std::chrono::steady_clock::time_point since);

}  // namespace archer::faults
