#include "figures.h"

#include "archer/testing/telemetry_section.h"

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <regex>
#include <sstream>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "archer/schemas/telemetry_generated.h"
#include "archer/testing/apache_kafka.h"
#include "archer/testing/devkafka.h"
#include "archer/testing/http.h"
#include "archer/testing/telemetry_section.h"
#include "archer/testing/wait.h"

namespace archer::faults {

using namespace std::chrono_literals;

long env_long(const char* name, long fallback) {
  const char* value = std::getenv(name);
  if (value == nullptr || *value == '\0') return fallback;
  char* end = nullptr;
  const long parsed = std::strtol(value, &end, 10);
  return end != nullptr && *end == '\0' ? parsed : fallback;
}

double seconds_since(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
}

// --- Load -----------------------------------------------------------------------------------------

Load::Load(const std::string& mqtt_uri, LoadOptions options) : options_(options) {
  // clang-format off
  std::vector<std::string> argv{std::string(ARCHER_BIN_DIR) + "/archer-devsim",
                                "--uri", mqtt_uri,
                                "--devices", std::to_string(options_.devices),
                                "--connections", std::to_string(std::min(options_.connections, options_.devices)),
                                "--client-id-prefix", "faults-sim-",
                                "--rate", std::to_string(options_.rate),
                                "--duration", std::to_string(options_.seconds) + "s",
                                "--qos", std::to_string(options_.qos),
                                "--format", "flatbuffers",
                                "--reconnect-after", "200ms",
                                "--seed", std::to_string(options_.seed),
                                "--progress", "always",
                                "--report", (dir_ / "report.json").string()};
  // clang-format on
  process_ = std::make_unique<archer::testing::Process>(
      argv, archer::testing::ProcessOptions{}.without_stdout_capture().with_stderr_file(dir_ / "devsim.log"));
}

Load::~Load() {
  if (process_->running()) process_->terminate(10s);
}

std::string Load::log() const { return archer::testing::read_file(dir_ / "devsim.log"); }

std::pair<std::uint64_t, std::uint64_t> Load::progress() const {
  // Progress lines: "\rsent N acked M cmds ..." once a second.
  const std::string text = log();
  const std::size_t at = text.rfind("sent ");
  if (at == std::string::npos) return {0, 0};
  unsigned long long sent = 0;
  unsigned long long acked = 0;
  if (std::sscanf(text.c_str() + at, "sent %llu acked %llu", &sent, &acked) != 2) return {0, 0};
  return {sent, acked};
}

std::uint64_t Load::acked_so_far() const { return progress().second; }
std::uint64_t Load::sent_so_far() const { return progress().first; }

LoadReport Load::finish(std::chrono::seconds extra) {
  LoadReport report;
  const auto status = process_->wait_exit(std::chrono::seconds(options_.seconds) + extra);
  EXPECT_TRUE(status) << "archer-devsim did not finish:\n" << log();
  if (!status) {
    process_->terminate(5s);
    return report;
  }
  EXPECT_EQ(*status, 0) << log();
  report.text = archer::testing::read_file(dir_ / "report.json");
  auto field = [&](const std::string& name) -> std::optional<double> {
    const std::regex re("\"" + name + "\":([0-9.]+)");
    std::smatch m;
    if (!std::regex_search(report.text, m, re)) return std::nullopt;
    return std::stod(m[1].str());
  };
  const auto sent = field("sent");
  const auto acked = field("acked");
  EXPECT_TRUE(sent && acked) << "archer-devsim report without sent/acked:\n" << report.text << log();
  if (!sent || !acked) return report;
  report.ok = true;
  report.sent = static_cast<std::uint64_t>(*sent);
  report.acked = static_cast<std::uint64_t>(*acked);
  report.publish_failed = static_cast<std::uint64_t>(field("publish_failed").value_or(0));
  report.skipped_disconnected = static_cast<std::uint64_t>(field("skipped_disconnected").value_or(0));
  report.connects = static_cast<std::uint64_t>(field("connects").value_or(0));
  report.achieved_rate = field("achieved_rate").value_or(0);
  return report;
}

// --- RSS ------------------------------------------------------------------------------------------

std::uint64_t rss_kib(pid_t pid) {
  if (pid <= 0) return 0;
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::strtoull(line.c_str() + 6, nullptr, 10);
  }
  return 0;
}

RssSampler::RssSampler() {
  thread_ = std::thread([this] {
    while (!stop_.load()) {
      const std::uint64_t now = rss_kib(pid_.load());
      std::uint64_t seen = max_kib_.load();
      while (now > seen && !max_kib_.compare_exchange_weak(seen, now)) {
      }
      std::this_thread::sleep_for(100ms);  // the sampling period, not a synchronisation
    }
  });
}

RssSampler::~RssSampler() {
  stop_ = true;
  thread_.join();
}

void Load::wait_for_acks(std::uint64_t count, std::chrono::seconds timeout) const {
  const std::uint64_t from = acked_so_far();
  EXPECT_TRUE(archer::testing::wait_until([&] { return acked_so_far() >= from + count; }, timeout,
                                          std::chrono::milliseconds(50)))
      << "archer-devsim's acknowledged count stopped at " << acked_so_far() << ":\n"
      << log();
}

const archer::event::CommandOutcome* outcome_of(const archer::testing::Record& record) {
  flatbuffers::Verifier verifier(reinterpret_cast<const std::uint8_t*>(record.value.data()), record.value.size());
  if (!archer::event::VerifyCommandOutcomeBuffer(verifier)) return nullptr;
  return archer::event::GetCommandOutcome(record.value.data());
}

// --- /metrics -------------------------------------------------------------------------------------

std::optional<HttpResponse> http_request(std::uint16_t port, const std::string& path,
                                         std::chrono::milliseconds timeout) {
  auto reply = archer::testing::http_get(port, path, timeout);
  if (!reply) return std::nullopt;
  return HttpResponse{reply->status, std::move(reply->body)};
}

std::optional<std::string> http_get(std::uint16_t port, const std::string& path, std::chrono::milliseconds timeout) {
  auto response = http_request(port, path, timeout);
  if (!response || response->status != 200) return std::nullopt;
  return std::move(response->body);
}

std::optional<double> scrape(std::uint16_t port, const std::string& metric) {
  const auto body = http_get(port, "/metrics");
  if (!body) return std::nullopt;
  return metric_value(*body, metric);
}

std::string http_head(std::uint16_t port, const std::string& spool_keys) {
  return fmt::format("{}\n[http]\nlisten = \"127.0.0.1:{}\"\n\n", spool_keys, port);
}

std::optional<double> metric_value(const std::string& text, const std::string& name) {
  std::istringstream in(text);
  std::string line;
  std::optional<double> sum;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#' || line.rfind(name, 0) != 0) continue;
    const char next = line.size() > name.size() ? line[name.size()] : '\0';
    if (next != ' ' && next != '{') continue;
    const std::size_t space = line.rfind(' ');
    if (space == std::string::npos) continue;
    sum = sum.value_or(0) + std::strtod(line.c_str() + space + 1, nullptr);
  }
  return sum;
}

// --- the raw datalog ------------------------------------------------------------------------------

Datalog::Datalog(const std::string& bootstrap, const std::string& topic) : consumer_(bootstrap, {topic}) {
  thread_ = std::thread([this] { run(); });
}

Datalog::~Datalog() { stop(); }

void Datalog::stop() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

void Datalog::run() {
  while (!stop_.load()) {
    // Short polls, so stop() is prompt; records are counted as they come, not kept.
    for (const auto& record : consumer_.consume_until(5000, 200ms)) add(record);
  }
}

void Datalog::add(const archer::testing::Record& record) {
  std::lock_guard lock(mutex_);
  ++records_;
  flatbuffers::Verifier verifier(reinterpret_cast<const std::uint8_t*>(record.value.data()), record.value.size());
  if (!archer::telemetry::VerifyTelemetryBuffer(verifier)) {
    ++undecodable_;
    return;
  }
  const auto* reading = archer::telemetry::GetTelemetry(record.value.data());
  std::string device = reading->device()->str();
  const std::uint64_t seq = reading->seq();
  if (!seen_.emplace(device, seq).second) return;  // a duplicate: counted by duplicated()
  auto& highest = highest_[device];
  highest = std::max(highest, seq);
  firsts_[{record.partition, record.offset}] = {std::move(device), seq};
}

bool Datalog::collect(std::uint64_t target, std::chrono::milliseconds timeout, std::chrono::milliseconds settle) {
  const bool reached = archer::testing::wait_until([&] { return distinct() >= target; }, timeout, 50ms);
  std::this_thread::sleep_for(settle);  // a reading window for late duplicates, not a synchronisation
  stop();
  return reached;
}

std::uint64_t Datalog::records() const {
  std::lock_guard lock(mutex_);
  return records_;
}

std::uint64_t Datalog::distinct() const {
  std::lock_guard lock(mutex_);
  return seen_.size();
}

std::uint64_t Datalog::duplicated() const {
  std::lock_guard lock(mutex_);
  return records_ - undecodable_ - seen_.size();
}

std::uint64_t Datalog::undecodable() const {
  std::lock_guard lock(mutex_);
  return undecodable_;
}

std::uint64_t Datalog::devices() const {
  std::lock_guard lock(mutex_);
  return highest_.size();
}

std::uint64_t Datalog::reordered() const {
  std::lock_guard lock(mutex_);
  std::map<std::string, std::uint64_t> last;
  std::uint64_t count = 0;
  for (const auto& [position, reading] : firsts_) {
    auto& before = last[reading.first];
    if (reading.second < before)
      ++count;
    else
      before = reading.second;
  }
  return count;
}

std::uint64_t Datalog::gaps() const {
  // seen_ is ordered by (device, seq): per device, distinct seqs at or below the highest.
  std::lock_guard lock(mutex_);
  std::map<std::string, std::uint64_t> count;
  for (const auto& [device, seq] : seen_) ++count[device];
  std::uint64_t gaps = 0;
  for (const auto& [device, highest] : highest_) gaps += highest - count[device];
  return gaps;
}

std::string Datalog::describe_gaps(std::size_t devices) const {
  std::lock_guard lock(mutex_);
  std::string out;
  std::size_t described = 0;
  std::string device;
  std::uint64_t expected = 1;
  std::string ranges;
  auto flush = [&] {
    if (!ranges.empty() && described < devices) {
      out += fmt::format("{}{}: {}", out.empty() ? "" : "; ", device, ranges);
      ++described;
    }
    ranges.clear();
  };
  for (const auto& [d, seq] : seen_) {
    if (d != device) {
      flush();
      device = d;
      expected = 1;
    }
    if (seq > expected) ranges += fmt::format("{}{}-{}", ranges.empty() ? "" : ", ", expected, seq - 1);
    expected = seq + 1;
  }
  flush();
  return out;
}

// --- figures --------------------------------------------------------------------------------------

std::string Figures::line() const {
  std::string out = fmt::format(
      "FIGURES scenario={} published={} acked={} delivered={} lost={} duplicated={} reordered={} unacked={} gaps={} "
      "max_rss_kib={} seconds={:.1f}",
      scenario, published, acked, delivered, lost, duplicated, reordered, unacked, gaps, max_rss_kib, seconds);
  for (const auto& [name, value] : extra) out += fmt::format(" {}={}", name, value);
  return out;
}

Figures tally(const std::string& scenario, const LoadReport& load, const Datalog& datalog, std::uint64_t max_rss_kib,
              std::chrono::steady_clock::time_point started) {
  Figures f;
  f.scenario = scenario;
  f.published = load.sent;
  f.acked = load.acked;
  f.unacked = load.sent > load.acked ? load.sent - load.acked : 0;
  f.delivered = datalog.distinct();
  f.lost = load.acked > f.delivered ? load.acked - f.delivered : 0;
  f.duplicated = datalog.duplicated();
  f.reordered = datalog.reordered();
  f.gaps = datalog.gaps();
  f.max_rss_kib = max_rss_kib;
  f.seconds = seconds_since(started);
  if (datalog.undecodable() > 0) f.with("undecodable", std::to_string(datalog.undecodable()));
  return f;
}

void print(const Figures& figures) {
  // stdout, flushed: ctest --output-on-failure and scripts/soak.sh pick it up.
  std::cout << figures.line() << std::endl;
}

std::string telemetry_reading(const std::string& device, std::uint64_t seq) {
  namespace t = archer::telemetry;
  flatbuffers::FlatBufferBuilder b;
  const auto body = t::CreateEnvironmentReadingDirect(b, device.c_str(), seq, 0, 0, 21.5f, 40.0f, 420).Union();
  t::FinishTelemetryBuffer(b, t::CreateTelemetryDirect(b, device.c_str(), seq, t::Reading::EnvironmentReading, body));
  return std::string(reinterpret_cast<const char*>(b.GetBufferPointer()), b.GetSize());
}

std::string telemetry_section(const std::string& topic, const std::string& dead_letter) {
  archer::testing::TelemetrySection section;
  section.topic = topic;
  section.dead_letter = dead_letter;
  section.formats = R"(["flatbuffers"])";
  return archer::testing::telemetry_section(section);
}

void take_kafka_away(archer::testing::KafkaCluster& kafka) {
  if (auto* apache = dynamic_cast<archer::testing::ApacheKafka*>(&kafka)) {
    apache->stop();
  } else {
    dynamic_cast<archer::testing::DevKafka&>(kafka).command("down all");
  }
}

void bring_kafka_back(archer::testing::KafkaCluster& kafka) {
  if (auto* apache = dynamic_cast<archer::testing::ApacheKafka*>(&kafka)) {
    apache->start();
  } else {
    dynamic_cast<archer::testing::DevKafka&>(kafka).command("up all");
  }
}

}  // namespace archer::faults
