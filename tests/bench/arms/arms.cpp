#include "arms.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "archer/schemas/telemetry_generated.h"
#include "archer/testing/testing.h"

namespace archer::bench {
namespace {

using namespace std::chrono_literals;
using archer::testing::Mosquitto;
using archer::testing::Process;
using archer::testing::ProcessOptions;
using archer::testing::TempDir;
using archer::testing::wait_until;
namespace tel = archer::telemetry;

std::int64_t unix_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

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

std::uint64_t context_switches(pid_t pid) {
  std::uint64_t total = 0;
  std::error_code error;
  for (const auto& task : std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/task", error)) {
    std::ifstream in(task.path() / "status");
    for (std::string line; std::getline(in, line);) {
      if (line.starts_with("voluntary_ctxt_switches:") || line.starts_with("nonvoluntary_ctxt_switches:")) {
        total += std::stoull(line.substr(line.find(':') + 1));
      }
    }
  }
  return total;
}

double percentile_ms(std::vector<std::int64_t> us, double q) {
  if (us.empty()) return -1;
  const auto rank = static_cast<std::size_t>(q * static_cast<double>(us.size() - 1));
  std::nth_element(us.begin(), us.begin() + static_cast<std::ptrdiff_t>(rank), us.end());
  return static_cast<double>(us[rank]) / 1000.0;
}

std::string fixed(double value, int decimals) {
  return value < 0 ? std::string("na") : fmt::format("{:.{}f}", value, decimals);
}

std::string load_average() {
  double load[3] = {0, 0, 0};
  if (getloadavg(load, 3) != 3) return "na";
  return fmt::format("{:.2f}/{:.2f}/{:.2f}", load[0], load[1], load[2]);
}

Raw::Raw(const std::string& bootstrap, const std::string& topic)
    : consumer_(bootstrap, {topic}, {{"fetch.wait.max.ms", "10"}}) {
  thread_ = std::thread([this] { run(); });
}

std::uint64_t Raw::distinct() const {
  std::lock_guard lock(mutex_);
  return seen_.size();
}

void Raw::stop() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

void Raw::run() {
  auto& consumer = consumer_.consumer();
  while (!stop_.load()) {
    std::unique_ptr<RdKafka::Message> message(consumer.consume(100));
    if (message->err() != RdKafka::ERR_NO_ERROR) continue;  // timeouts and partition EOF
    add(*message, unix_us());
  }
}

void Raw::add(RdKafka::Message& message, std::int64_t now_us) {
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

std::uint64_t LineCount::now() {
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

Subscriber::Subscriber(const Mosquitto& mqtt, int qos, std::vector<std::string> wrapper) : mqtt_(mqtt) {
  const auto wrapper_ready_within = wrapper.empty() ? 10s : 60s;
  std::vector<std::string> argv = std::move(wrapper);
  argv.insert(argv.end(),
              {"mosquitto_sub", "-h", "127.0.0.1", "-p", std::to_string(mqtt.port()), "-q", std::to_string(qos), "-i",
               "bench-limit", "-t", "devices/+/telemetry", "-t", "bench/ready", "-F", "%t"});
  process_ = std::make_unique<Process>(argv, ProcessOptions{}.without_stdout_capture().with_stderr_file(out_file()));
  const bool ready = wait_until(
      [&] {
        if (count_.now() > 0 || !process_->running()) return true;
        Process probe({"mosquitto_pub", "-h", "127.0.0.1", "-p", std::to_string(mqtt_.port()), "-q", "1", "-t",
                       "bench/ready", "-m", "ready"});
        probe.wait_exit(5s);
        return wait_until([&] { return count_.now() > 0; }, 200ms, 20ms);
      },
      wrapper_ready_within, 50ms);
  EXPECT_TRUE(ready && process_->running()) << "mosquitto_sub did not become ready:\n"
                                            << archer::testing::read_file(out_file());
  probes_ = count_.now();
}

Subscriber::~Subscriber() {
  if (process_->running()) process_->terminate(5s);
}

std::unique_ptr<Process> start_arm_program(std::vector<std::string> argv, const TempDir& dir,
                                           std::chrono::seconds ready_within) {
  auto process = std::make_unique<Process>(std::move(argv), ProcessOptions{}.with_stderr_file(dir / "arm.log"));
  const auto line = process->read_line(ready_within);
  EXPECT_EQ(line, "ready") << process->argv().front() << " did not start:\n"
                           << archer::testing::read_file(dir / "arm.log");
  return process;
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

}  // namespace archer::bench
