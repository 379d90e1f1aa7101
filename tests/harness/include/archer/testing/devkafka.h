#pragma once
#include <map>
#include <memory>
#include <utility>
#include <string>
#include <string_view>
#include <vector>

#include "archer/testing/kafka_cluster.h"
#include "archer/testing/process.h"
#include "archer/testing/temp_dir.h"

namespace archer::testing {

struct DevKafkaOptions {
  int brokers = 3;
  int partitions = 3;               // for topics without a count and `create` without a count
  std::vector<std::string> topics;  // "name" or "name:partitions"

  // Chainable: DevKafka kafka(DevKafkaOptions{}.with_topic("telemetry:3").with_brokers(1));
  DevKafkaOptions& with_brokers(int n) { brokers = n; return *this; }
  DevKafkaOptions& with_partitions(int n) { partitions = n; return *this; }
  DevKafkaOptions& with_topic(std::string spec) { topics.push_back(std::move(spec)); return *this; }
};

// ${ARCHER_BIN_DIR}/archer-devkafka (or $ARCHER_DEVKAFKA) on loopback. The constructor returns once a
// metadata request through the bootstrap servers succeeds and lists all brokers (10 s deadline).
// The destructor sends SIGTERM and records a test failure unless the broker exits 0.
class DevKafka : public KafkaCluster {
 public:
  DevKafka();
  explicit DevKafka(DevKafkaOptions options);
  ~DevKafka() override;
  DevKafka(const DevKafka&) = delete;
  DevKafka& operator=(const DevKafka&) = delete;

  // KafkaCluster
  const std::string& bootstrap() const override { return bootstrap_; }
  std::string name() const override { return "archer-devkafka"; }
  int brokers() const override { return options_.brokers; }
  // The `create` command: the mock has no replication factor or topic configs, so both are ignored.
  void create_topic(const std::string& topic, int partitions, int /*replication*/ = 1,
                    const std::map<std::string, std::string>& /*configs*/ = {}) override {
    command("create " + topic + " " + std::to_string(partitions));
  }

  // One control command (see bridge/devkafka/README.md); returns the reply line. Throws
  // std::runtime_error when the reply is `error: ...` or none arrives within 5 s.
  std::string command(std::string_view line);
  // Same, but returns an `error: ...` reply instead of throwing (still throws on timeout).
  std::string try_command(std::string_view line);

  void broker_down(int id) { command("down " + std::to_string(id)); }
  void broker_up(int id) { command("up " + std::to_string(id)); }
  void set_rtt(int id, int ms) { command("rtt " + std::to_string(id) + " " + std::to_string(ms)); }
  void set_leader(const std::string& topic, int partition, int id) {
    command("leader " + topic + " " + std::to_string(partition) + " " + std::to_string(id));
  }

  // Stops the broker now (SIGTERM); returns its exit status.
  int stop();
  Process& process() { return *process_; }
  std::filesystem::path log_file() const { return dir_ / "devkafka.log"; }

 private:
  DevKafkaOptions options_;
  TempDir dir_{"archer-devkafka"};
  std::unique_ptr<Process> process_;
  std::string bootstrap_;
};

}  // namespace archer::testing
