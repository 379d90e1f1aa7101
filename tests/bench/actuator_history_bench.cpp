// How an actuator gateway's start and memory grow with its history: N commands' worth of transaction
// log (4 records each: OPENED, SENT, RESPONDED, CLOSED) and event log, all finished and committed,
// on a real Apache Kafka broker. For each size it starts archer-bridge twice and prints
//   BENCH actuator_history commands=N tx_records=4N start=first|snapshot ready_ms=.. rss_kib=.. records_read=..
// `first`: no snapshot yet, the logs are read from their start (records below the committed offsets
// are skipped, not kept); `snapshot`: after a clean stop, the start reads the latest snapshot and
// only what follows it. Sizes: ARCHER_BENCH_HISTORY (commands, comma-separated; default
// 25000,250000: 100k and 1M transaction records).
#include <gtest/gtest.h>

#include <csignal>
#include <fstream>
#include <iostream>
#include <sstream>

#include <fmt/format.h>
#include <librdkafka/rdkafkacpp.h>

#include "archer/actuators/view_loader.h"
#include "archer/protocol/messages.h"
#include "archer/testing/apache_kafka.h"
#include "archer/testing/http.h"
#include "archer/testing/kafka.h"
#include "archer/testing/mosquitto.h"
#include "archer/testing/process.h"
#include "archer/testing/temp_dir.h"
#include "archer/testing/wait.h"

namespace {

using namespace std::chrono_literals;
using archer::protocol::Bytes;
using archer::protocol::CommandId;
using archer::protocol::DeviceId;
using archer::protocol::InteractionId;
using archer::protocol::Phase;
namespace testing = archer::testing;

constexpr int kPartitions = 6;
constexpr int kDevices = 1000;

class Delivered : public RdKafka::DeliveryReportCb {
 public:
  void dr_cb(RdKafka::Message& message) override {
    if (message.err() != RdKafka::ERR_NO_ERROR) ++failed;
  }
  std::atomic<std::uint64_t> failed{0};
};

class Producer {
 public:
  explicit Producer(const std::string& bootstrap) {
    std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
    std::string error;
    conf->set("bootstrap.servers", bootstrap, error);
    conf->set("enable.idempotence", "true", error);
    conf->set("linger.ms", "20", error);
    conf->set("compression.type", "lz4", error);
    conf->set("queue.buffering.max.kbytes", "262144", error);
    conf->set("dr_cb", &delivered_, error);
    producer_.reset(RdKafka::Producer::create(conf.get(), error));
    if (!producer_) throw std::runtime_error(error);
  }
  void send(const std::string& topic, int partition, const std::string& key, const Bytes& value,
            const std::vector<std::pair<std::string, std::string>>& headers = {}) {
    RdKafka::Headers* list = RdKafka::Headers::create();
    for (const auto& [name, text] : headers) list->add(name, text);
    while (true) {
      const auto err =
          producer_->produce(topic, partition, RdKafka::Producer::RK_MSG_COPY, const_cast<std::uint8_t*>(value.data()),
                             value.size(), key.data(), key.size(), 0, list, nullptr);
      if (err == RdKafka::ERR_NO_ERROR) return;
      if (err != RdKafka::ERR__QUEUE_FULL) throw std::runtime_error(RdKafka::err2str(err));
      producer_->poll(50);
    }
  }
  void flush() {
    producer_->flush(300'000);
    if (producer_->outq_len() > 0 || delivered_.failed > 0) throw std::runtime_error("history not written");
  }

 private:
  Delivered delivered_;
  std::unique_ptr<RdKafka::Producer> producer_;
};

// What a gateway would have written for `commands` finished commands, and the group's offsets
// committed past them.
void write_history(const std::string& bootstrap, const std::string& prefix, int commands) {
  Producer producer(bootstrap);
  std::vector<std::int64_t> next(kPartitions, 0);
  for (int n = 0; n < commands; ++n) {
    const int partition = n % kPartitions;
    const std::int64_t offset = next[partition]++;
    const DeviceId device(fmt::format("v-{:04}", n % kDevices));
    const CommandId command(fmt::format("00000000-0000-7000-8000-{:012}", n));
    const InteractionId interaction(fmt::format("00000000-0000-7000-9000-{:012}", n));
    const Bytes raw =
        archer::protocol::encode(archer::protocol::Command{command, device, "set", {{"n", std::to_string(n)}}, 1, 0});
    producer.send(prefix + "cmd", partition, device.str(), raw, {{"archer-id", command.str()}});
    const Bytes response = archer::protocol::encode(
        archer::protocol::DeviceResponse{interaction, archer::protocol::ResponseStatus::OK, "done", {}});
    const Bytes outcome = archer::protocol::encode(archer::protocol::Outcome{
        command, interaction, device, archer::protocol::OutcomeStatus::SUCCEEDED, response, 12, "done"});
    const std::pair<Phase, Bytes> steps[] = {{Phase::OPENED, raw},
                                             {Phase::SENT, archer::protocol::encode(archer::protocol::DeviceCommand{
                                                               interaction, "set", {{"n", std::to_string(n)}}})},
                                             {Phase::RESPONDED, response},
                                             {Phase::CLOSED, outcome}};
    for (const auto& [phase, payload] : steps) {
      producer.send(prefix + "tx", partition, device.str(),
                    archer::protocol::encode(archer::protocol::Transaction{interaction, command, device, phase, 1,
                                                                           payload, 1, "", partition, offset}));
    }
    producer.send(prefix + "evt", partition, device.str(), outcome,
                  {{"archer-command-offset", archer::actuators::format_command_offset({partition, offset})}});
  }
  producer.flush();
  // Commit the gateway's group past every command, as a gateway that finished them would have.
  std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  std::string error;
  conf->set("bootstrap.servers", bootstrap, error);
  conf->set("group.id", "archer.gw-bench." + prefix + "valves", error);
  std::unique_ptr<RdKafka::KafkaConsumer> consumer(RdKafka::KafkaConsumer::create(conf.get(), error));
  std::vector<std::unique_ptr<RdKafka::TopicPartition>> owned;
  std::vector<RdKafka::TopicPartition*> offsets;
  for (int p = 0; p < kPartitions; ++p) {
    owned.emplace_back(RdKafka::TopicPartition::create(prefix + "cmd", p, next[p]));
    offsets.push_back(owned.back().get());
  }
  if (consumer->commitSync(offsets) != RdKafka::ERR_NO_ERROR) throw std::runtime_error("commit failed");
  consumer->close();
}

struct StartFigures {
  std::int64_t ready_ms = -1;
  std::uint64_t rss_kib = 0;
  std::string records_read;
};

std::uint64_t rss_kib(pid_t pid) {
  std::ifstream status(fmt::format("/proc/{}/status", pid));
  for (std::string line; std::getline(status, line);) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stoull(line.substr(6));
  }
  return 0;
}

// Starts archer-bridge, measures the time to /readyz 200 and its RSS then, and stops it (SIGTERM:
// it writes its snapshot).
StartFigures start_and_stop(const std::filesystem::path& config, const std::filesystem::path& log, std::uint16_t http) {
  StartFigures out;
  const auto spawned = std::chrono::steady_clock::now();
  testing::Process bridge({std::string(ARCHER_BIN_DIR) + "/archer-bridge", "--config", config.string()},
                          testing::ProcessOptions{}.without_stdout_capture().with_stderr_file(log));
  const bool ready = testing::wait_until(
      [&] {
        const auto response = testing::http_get(http, "/readyz");
        return response && response->status == 200;
      },
      600s, 10ms);
  EXPECT_TRUE(ready) << testing::read_file(log);
  out.ready_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - spawned).count();
  std::this_thread::sleep_for(500ms);  // let the allocator settle before reading RSS
  out.rss_kib = rss_kib(bridge.pid());
  bridge.kill(SIGTERM);
  EXPECT_EQ(bridge.wait_exit(60s).value_or(-1), 0);
  const std::string text = testing::read_file(log);
  const auto at = text.rfind("snapshot(s), ");
  if (at != std::string::npos) out.records_read = text.substr(at + 13, text.find(' ', at + 13) - at - 13);
  return out;
}

TEST(ActuatorHistory, StartTimeAndMemoryAgainstHistory) {
  std::string why;
  if (!testing::ApacheKafka::available(why)) GTEST_SKIP() << why;
  std::vector<int> sizes{25'000, 250'000};
  if (const char* given = std::getenv("ARCHER_BENCH_HISTORY")) {
    sizes.clear();
    std::stringstream list(given);
    for (std::string item; std::getline(list, item, ',');) sizes.push_back(std::stoi(item));
  }
  testing::ApacheKafka kafka;
  testing::Mosquitto mqtt;
  for (const int commands : sizes) {
    const std::string prefix = fmt::format("h{}.", commands);
    for (const char* topic : {"cmd", "tx", "evt"}) kafka.create_topic(prefix + topic, kPartitions);
    const auto wrote_at = std::chrono::steady_clock::now();
    write_history(kafka.bootstrap(), prefix, commands);
    std::cout
        << fmt::format(
               "history of {} commands written in {} s", commands,
               std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - wrote_at).count())
        << std::endl;
    testing::TempDir dir("archer-history-bench");
    const std::uint16_t http = testing::free_port();
    std::ofstream(dir / "gateway.toml") << fmt::format(R"([gateway]
id = "gw-bench"

[mqtt]
uri = "{}"
client_id = "gw-bench-{}"

[kafka]
"bootstrap.servers" = "{}"

[spool]
dir = "{}"

[http]
listen = "127.0.0.1:{}"

[[actuator]]
name = "{}valves"
commands = "{}cmd"
transactions = "{}tx"
events = "{}evt"
)",
                                                       mqtt.uri(), commands, kafka.bootstrap(),
                                                       (dir / "spool").string(), http, prefix, prefix, prefix, prefix);
    for (const char* start : {"first", "snapshot"}) {
      const StartFigures f = start_and_stop(dir / "gateway.toml", dir / fmt::format("bridge-{}.log", start), http);
      std::cout
          << fmt::format(
                 "BENCH actuator_history commands={} tx_records={} start={} ready_ms={} rss_kib={} records_read={}",
                 commands, 4 * commands, start, f.ready_ms, f.rss_kib, f.records_read)
          << std::endl;
    }
  }
}

}  // namespace
