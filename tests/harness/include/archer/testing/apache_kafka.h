#pragma once
// A real Apache Kafka cluster (KRaft) on free loopback ports, from the jars that scripts/kafka.sh
// fetch put in ${XDG_CACHE_HOME:-$HOME/.cache}/archer/kafka-<version>/: by default the version in
// scripts/kafka/version, or another one fetched the same way (ApacheKafkaOptions::version). Either
// one combined node (broker and controller, id 1), or one controller-only node (id 100) and N
// broker-only nodes (ids 1..N), which keeps the quorum out of the way of broker failures.
//
// The constructor formats each node's storage, starts the JVMs and returns once a metadata request
// lists every broker (90 s deadline); it throws std::runtime_error with the logs otherwise. Each
// node keeps its ports and data folder for the cluster's life, so a node stopped or killed can be
// started again as itself. The destructor stops every node. Settings are made for tests: fast
// group joins and broker fencing, small heaps, replication factors min(3, brokers).
//
// Threading: one thread at a time; create it on the test's main thread (see Process).
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "archer/testing/kafka_cluster.h"
#include "archer/testing/process.h"
#include "archer/testing/temp_dir.h"

namespace archer::testing {

// A client listener of every broker besides PLAINTEXT (which the harness itself talks to), e.g.
// {"SCRAM", "SASL_PLAINTEXT"} or {"MTLS", "SSL"}. Its own settings go in ApacheKafkaOptions::config
// as listener.name.<name in lower case>.<setting>.
struct ApacheKafkaListener {
  std::string name;
  std::string protocol;
};

struct ApacheKafkaOptions {
  // The Kafka release whose jars to run; empty: ApacheKafka::version(). The same server.properties
  // serve 3.9 and 4.x (static quorum through controller.quorum.voters, log4j2 from our pom).
  std::string version;
  int brokers = 1;
  bool separate_controller = false;
  // server.properties lines for every node, after (so over) the harness's own.
  std::map<std::string, std::string> config;
  std::vector<ApacheKafkaListener> listeners;
  // SCRAM credentials written into the cluster's metadata when its storage is formatted (StorageTool
  // format --add-scram), e.g. "SCRAM-SHA-512=[name=archer,password=...]".
  std::vector<std::string> scram_credentials;

  static ApacheKafkaOptions combined() { return {}; }
  static ApacheKafkaOptions controller_and_brokers(int n) {
    ApacheKafkaOptions options;
    options.brokers = n;
    options.separate_controller = true;
    return options;
  }
  ApacheKafkaOptions& with_version(const std::string& release) {
    version = release;
    return *this;
  }
  ApacheKafkaOptions& with_config(const std::string& name, const std::string& value) {
    config[name] = value;
    return *this;
  }
  ApacheKafkaOptions& with_listener(const std::string& name, const std::string& protocol) {
    listeners.push_back({name, protocol});
    return *this;
  }
  ApacheKafkaOptions& with_scram_credential(const std::string& credential) {
    scram_credentials.push_back(credential);
    return *this;
  }
};

class ApacheKafka : public KafkaCluster {
 public:
  static constexpr int kControllerId = 100;

  // scripts/kafka/version: the broker every real-broker test runs by default.
  static std::string version();
  // scripts/kafka/scram-version: the newest release that librdkafka before 2.6.1 logs in to with
  // SCRAM (confluentinc/librdkafka#4895 breaks it against 4.x).
  static std::string scram_version();
  // False with a one-line reason when java or the fetched jars of `release` are missing.
  static bool available(std::string& why, const std::string& release = version());
  // Where scripts/kafka.sh fetch puts `release` (whether or not it is there).
  static std::filesystem::path home(const std::string& release = version());

  explicit ApacheKafka(ApacheKafkaOptions options = {});
  ~ApacheKafka() override;
  ApacheKafka(const ApacheKafka&) = delete;
  ApacheKafka& operator=(const ApacheKafka&) = delete;

  // KafkaCluster
  const std::string& bootstrap() const override { return bootstrap_; }
  std::string name() const override;
  int brokers() const override { return options_.brokers; }
  // CreateTopics through the Admin API, then waits (30 s) until every partition has a leader.
  void create_topic(const std::string& topic, int partitions, int replication = 1,
                    const std::map<std::string, std::string>& configs = {}) override;

  // The bootstrap servers of one of ApacheKafkaOptions::listeners ("127.0.0.1:PORT,...").
  std::string listener_bootstrap(const std::string& name) const;

  // Node ids: the brokers, then the controller when it is a node of its own.
  std::vector<int> node_ids() const;
  std::vector<int> broker_ids() const;
  // The leader of one partition now, per metadata (-1: none).
  int leader(const std::string& topic, int partition);
  // The brokers a metadata request (to the running, unpaused brokers) lists now.
  std::vector<int> brokers_in_metadata();

  // Per node. stop(): SIGTERM and wait for the exit (60 s, then SIGKILL and a test failure);
  // returns the exit status. kill9(): SIGKILL, reaped. pause()/resume(): SIGSTOP/SIGCONT.
  // start(): the same node on its ports and data again; returns once metadata lists every running
  // broker (60 s deadline, throws otherwise).
  int stop(int id);
  void kill9(int id);
  void pause(int id);
  void resume(int id);
  void start(int id);
  bool running(int id);

  // The whole cluster: brokers, then the controller; start() brings every stopped node back.
  void stop();
  void start();

  // Figures: the last start (JVM launch to metadata answered) and a node's resident memory now.
  std::chrono::milliseconds last_start_time() const { return last_start_time_; }
  std::uint64_t rss_bytes(int id) const;
  std::filesystem::path log_file(int id) const;  // warnings and errors of that node
  std::string logs() const;                      // every node's output and warnings, for messages

 private:
  struct Node {
    int id = 0;
    bool broker = false;
    bool controller = false;
    std::uint16_t port = 0;                               // PLAINTEXT (brokers)
    std::uint16_t controller_port = 0;                    // CONTROLLER (controllers)
    std::map<std::string, std::uint16_t> listener_ports;  // ApacheKafkaOptions::listeners (brokers)
    std::filesystem::path dir;
    std::unique_ptr<Process> process;
    bool paused = false;
  };

  bool try_start_all(std::string& failure);
  void write_configs();
  void format_storage();
  void launch(Node& node);
  void wait_for_brokers(std::chrono::milliseconds timeout, const std::string& what);
  Node& node(int id);
  const Node& node(int id) const;

  ApacheKafkaOptions options_;
  TempDir dir_{"archer-kafka"};
  std::string version_;  // the release this cluster runs
  std::string cluster_id_;
  std::vector<Node> nodes_;
  std::string bootstrap_;
  std::chrono::milliseconds last_start_time_{0};
};

}  // namespace archer::testing
