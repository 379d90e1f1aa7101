#include "archer/testing/apache_kafka.h"

#include <pwd.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <random>
#include <set>
#include <sstream>
#include <stdexcept>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "archer/testing/wait.h"
#include "archer/transport/kafka_admin.h"

#if !defined(ARCHER_KAFKA_VERSION) || !defined(ARCHER_KAFKA_SCRAM_VERSION)
#error "archer::testing needs ARCHER_KAFKA_VERSION and ARCHER_KAFKA_SCRAM_VERSION (tests/harness/CMakeLists.txt)"
#endif

namespace archer::testing {
namespace {

using namespace std::chrono_literals;

constexpr auto kStartTimeout = 90s;
constexpr auto kRestartTimeout = 60s;
constexpr auto kStopTimeout = 60s;

bool on_path(const std::string& program) {
  const char* path = std::getenv("PATH");
  std::stringstream dirs(path != nullptr ? path : "");
  std::string dir;
  while (std::getline(dirs, dir, ':')) {
    if (!dir.empty() && access((dir + "/" + program).c_str(), X_OK) == 0) return true;
  }
  return false;
}

// 16 random bytes in URL-safe base64 without padding: a KRaft cluster id, as `StorageTool
// random-uuid` prints one (saves a JVM start).
std::string random_cluster_id() {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::random_device device;
  std::string id;
  // 22 characters carry 132 bits; the last one only 2 of its 6, as base64 of 16 bytes has it.
  for (int i = 0; i < 21; ++i) id.push_back(kAlphabet[device() % 64]);
  id.push_back(kAlphabet[(device() % 4) * 16]);
  // Kafka's own Uuid.randomUuid() draws again when the text starts with '-': a command line would
  // read it as an option ("--cluster-id/-t: expected one argument").
  if (id.front() == '-') return random_cluster_id();
  return id;
}

std::string tail_of(const std::filesystem::path& file, std::size_t bytes) {
  std::string text = read_file(file);
  if (text.size() > bytes) text = "...\n" + text.substr(text.size() - bytes);
  return text;
}

void write_text(const std::filesystem::path& file, const std::string& text) {
  std::ofstream out(file, std::ios::trunc);
  out << text;
  if (!out) throw std::runtime_error("cannot write " + file.string());
}

}  // namespace

std::string ApacheKafka::version() { return ARCHER_KAFKA_VERSION; }

std::string ApacheKafka::scram_version() { return ARCHER_KAFKA_SCRAM_VERSION; }

std::filesystem::path ApacheKafka::home(const std::string& release) {
  std::filesystem::path cache;
  if (const char* xdg = std::getenv("XDG_CACHE_HOME"); xdg != nullptr && *xdg != '\0') {
    cache = xdg;
  } else if (const char* user_home = std::getenv("HOME"); user_home != nullptr && *user_home != '\0') {
    cache = std::filesystem::path(user_home) / ".cache";
  } else if (const passwd* user = getpwuid(getuid()); user != nullptr && user->pw_dir != nullptr) {
    cache = std::filesystem::path(user->pw_dir) / ".cache";  // as scripts/kafka.sh finds it
  } else {
    cache = "/nonexistent/.cache";
  }
  return cache / "archer" / ("kafka-" + release);
}

bool ApacheKafka::available(std::string& why, const std::string& release) {
  if (!on_path("java")) {
    why = "java is not installed (real-broker tests skipped)";
    return false;
  }
  if (!std::filesystem::exists(home(release) / "fetched")) {
    // Only the default release's absence skips a whole test program (ctest matches the words).
    why = release == version()
              ? fmt::format(
                    "Apache Kafka {} is not fetched into {}: run scripts/kafka.sh fetch (real-broker tests skipped)",
                    release, home(release).string())
              : fmt::format(
                    "Apache Kafka {} is not fetched into {}: run ARCHER_KAFKA_VERSION={} scripts/kafka.sh fetch "
                    "(the tests on it skipped)",
                    release, home(release).string(), release);
    return false;
  }
  return true;
}

ApacheKafka::ApacheKafka(ApacheKafkaOptions options)
    : options_(std::move(options)), version_(options_.version.empty() ? version() : options_.version) {
  if (options_.brokers < 1) throw std::invalid_argument("ApacheKafka: at least one broker");
  if (!options_.separate_controller && options_.brokers != 1) {
    throw std::invalid_argument("ApacheKafka: a combined node is one node; use controller_and_brokers(n)");
  }
  if (std::string why; !available(why, version_)) throw std::runtime_error(why);
  cluster_id_ = random_cluster_id();
  for (int id = 1; id <= options_.brokers; ++id) {
    Node& n = nodes_.emplace_back();
    n.id = id;
    n.broker = true;
    n.controller = !options_.separate_controller;
  }
  if (options_.separate_controller) {
    Node& n = nodes_.emplace_back();
    n.id = kControllerId;
    n.controller = true;
  }
  for (auto& n : nodes_) {
    n.dir = dir_ / fmt::format("node-{}", n.id);
    std::filesystem::create_directories(n.dir);
  }
  // A port found free can be taken by someone else before the JVM binds it: then the whole cluster
  // starts again on other ports (the quorum's address is in every node's config).
  std::string failure;
  for (int attempt = 1; attempt <= 3; ++attempt) {
    if (try_start_all(failure)) return;
    for (auto& n : nodes_) {
      if (n.process) {
        n.process->kill(SIGKILL);
        n.process->terminate();
      }
      n.process.reset();
    }
    if (failure.find("Address already in use") == std::string::npos) break;
  }
  throw std::runtime_error(failure);
}

ApacheKafka::~ApacheKafka() {
  // The data goes with the temp dir: no need for a controlled shutdown.
  for (auto& n : nodes_) {
    if (n.process && n.process->running()) {
      n.process->kill(SIGKILL);
      n.process->terminate();
    }
  }
}

std::string ApacheKafka::name() const { return "Apache Kafka " + version_; }

std::string ApacheKafka::listener_bootstrap(const std::string& name) const {
  std::string out;
  for (const auto& n : nodes_) {
    const auto found = n.listener_ports.find(name);
    if (found == n.listener_ports.end()) continue;
    if (!out.empty()) out += ",";
    out += fmt::format("127.0.0.1:{}", found->second);
  }
  if (out.empty()) throw std::invalid_argument("ApacheKafka: no listener " + name);
  return out;
}

bool ApacheKafka::try_start_all(std::string& failure) {
  std::set<std::uint16_t> taken;
  auto pick = [&] {
    std::uint16_t port = free_port();
    while (taken.contains(port)) port = free_port();
    taken.insert(port);
    return port;
  };
  for (auto& n : nodes_) {
    n.port = n.broker ? pick() : 0;
    n.controller_port = n.controller ? pick() : 0;
    n.listener_ports.clear();
    for (const auto& listener : options_.listeners) {
      if (n.broker) n.listener_ports[listener.name] = pick();
    }
  }
  bootstrap_.clear();
  for (const auto& n : nodes_) {
    if (!n.broker) continue;
    if (!bootstrap_.empty()) bootstrap_ += ",";
    bootstrap_ += fmt::format("127.0.0.1:{}", n.port);
  }
  write_configs();
  if (!std::filesystem::exists(nodes_.front().dir / "data" / "meta.properties")) format_storage();
  try {
    start();
  } catch (const std::runtime_error& e) {
    failure = e.what();
    return false;
  }
  return true;
}

void ApacheKafka::write_configs() {
  const int replication = std::min(3, options_.brokers);
  const Node& quorum = *std::find_if(nodes_.begin(), nodes_.end(), [](const Node& n) { return n.controller; });
  for (const auto& n : nodes_) {
    std::map<std::string, std::string> config{
        {"node.id", std::to_string(n.id)},
        {"process.roles", n.broker && n.controller ? "broker,controller" : (n.broker ? "broker" : "controller")},
        {"controller.quorum.voters", fmt::format("{}@127.0.0.1:{}", quorum.id, quorum.controller_port)},
        {"controller.listener.names", "CONTROLLER"},
        {"listener.security.protocol.map", "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT"},
        {"log.dirs", (n.dir / "data").string()},
        {"num.partitions", "1"},
        {"auto.create.topics.enable", "true"},
        {"default.replication.factor", std::to_string(replication)},
        {"offsets.topic.replication.factor", std::to_string(replication)},
        {"offsets.topic.num.partitions", "3"},
        {"transaction.state.log.replication.factor", std::to_string(replication)},
        {"transaction.state.log.min.isr", std::to_string(std::min(2, replication))},
        {"transaction.state.log.num.partitions", "3"},
        {"group.initial.rebalance.delay.ms", "0"},
        // A killed broker is fenced, and its partitions get new leaders, within about 3 s.
        {"broker.session.timeout.ms", "3000"},
        {"broker.heartbeat.interval.ms", "500"},
    };
    std::vector<std::string> listeners;
    if (n.broker) {
      listeners.push_back(fmt::format("PLAINTEXT://127.0.0.1:{}", n.port));
      for (const auto& listener : options_.listeners) {
        listeners.push_back(fmt::format("{}://127.0.0.1:{}", listener.name, n.listener_ports.at(listener.name)));
      }
      config["advertised.listeners"] = fmt::format("{}", fmt::join(listeners, ","));
      config["inter.broker.listener.name"] = "PLAINTEXT";
    }
    for (const auto& listener : options_.listeners) {
      config["listener.security.protocol.map"] += fmt::format(",{}:{}", listener.name, listener.protocol);
    }
    if (n.controller) listeners.push_back(fmt::format("CONTROLLER://127.0.0.1:{}", n.controller_port));
    config["listeners"] = fmt::format("{}", fmt::join(listeners, ","));
    for (const auto& [name, value] : options_.config) config[name] = value;

    std::string text = "# Written by archer::testing::ApacheKafka\n";
    for (const auto& [name, value] : config) text += name + "=" + value + "\n";
    write_text(n.dir / "server.properties", text);
    write_text(n.dir / "log4j2.properties", fmt::format("status = warn\n"
                                                        "appender.file.type = File\n"
                                                        "appender.file.name = file\n"
                                                        "appender.file.fileName = {}\n"
                                                        "appender.file.layout.type = PatternLayout\n"
                                                        "appender.file.layout.pattern = [%d] %p %m (%c)%n\n"
                                                        "rootLogger.level = warn\n"
                                                        "rootLogger.appenderRef.file.ref = file\n",
                                                        (n.dir / "kafka.log").string()));
  }
}

namespace {

// Small heaps and the serial collector, and only the first JIT tier: on a shared 2-core machine a
// test broker's start is mostly JIT work, and tests move little data.
std::vector<std::string> java_command(const std::filesystem::path& node_dir, const std::filesystem::path& libs) {
  return {"java",
          "-Xms32m",
          "-Xmx256m",
          "-XX:+UseSerialGC",
          "-XX:TieredStopAtLevel=1",
          "-XX:-UsePerfData",
          "-Djava.awt.headless=true",
          "-Dlog4j2.configurationFile=" + (node_dir / "log4j2.properties").string(),
          "-cp",
          (libs / "*").string()};
}

}  // namespace

void ApacheKafka::format_storage() {
  std::vector<std::unique_ptr<Process>> formats;
  for (const auto& n : nodes_) {
    auto argv = java_command(n.dir, home(version_) / "libs");
    for (std::string arg : {"kafka.tools.StorageTool", "format", "-t", cluster_id_.c_str(), "-c"}) argv.push_back(arg);
    argv.push_back((n.dir / "server.properties").string());
    for (const std::string& credential : options_.scram_credentials) {
      argv.push_back("--add-scram");
      argv.push_back(credential);
    }
    formats.push_back(std::make_unique<Process>(
        argv, ProcessOptions{}.without_stdout_capture().with_stderr_file(n.dir / "format.out")));
  }
  for (std::size_t i = 0; i < formats.size(); ++i) {
    const auto status = formats[i]->wait_exit(60s);
    if (status != 0) {
      throw std::runtime_error(fmt::format("formatting node {} failed ({}):\n{}", nodes_[i].id,
                                           status ? std::to_string(*status) : "timed out",
                                           read_file(nodes_[i].dir / "format.out")));
    }
  }
}

void ApacheKafka::launch(Node& n) {
  auto argv = java_command(n.dir, home(version_) / "libs");
  argv.push_back("kafka.Kafka");
  argv.push_back((n.dir / "server.properties").string());
  n.paused = false;
  n.process =
      std::make_unique<Process>(argv, ProcessOptions{}.without_stdout_capture().with_stderr_file(n.dir / "kafka.out"));
}

std::vector<int> ApacheKafka::brokers_in_metadata() {
  std::string error;
  KafkaConfig config;
  std::string running_bootstrap;
  for (const auto& n : nodes_) {
    if (!n.broker || !n.process || n.paused || n.process->exit_status()) continue;
    if (!running_bootstrap.empty()) running_bootstrap += ",";
    running_bootstrap += fmt::format("127.0.0.1:{}", n.port);
  }
  if (running_bootstrap.empty()) return {};
  config.properties = {{"bootstrap.servers", running_bootstrap}, {"log_level", "0"}};
  auto admin = transport::KafkaAdmin::create(config, error);
  if (!admin) throw std::runtime_error(error);
  transport::ClusterMetadata metadata;
  if (!admin->metadata({}, metadata, 2s).empty()) return {};
  return {metadata.brokers.begin(), metadata.brokers.end()};
}

void ApacheKafka::wait_for_brokers(std::chrono::milliseconds timeout, const std::string& what) {
  std::string dead;
  const bool ok = wait_until(
      [&] {
        std::vector<int> expected;
        for (auto& n : nodes_) {
          if (!n.process) continue;
          if (!n.process->running()) {
            dead = fmt::format("node {} exited with status {}", n.id, *n.process->exit_status());
            return true;
          }
          if (n.broker && !n.paused) expected.push_back(n.id);
        }
        const std::vector<int> listed = brokers_in_metadata();
        return std::all_of(expected.begin(), expected.end(),
                           [&](int id) { return std::find(listed.begin(), listed.end(), id) != listed.end(); });
      },
      timeout, 100ms);
  if (!dead.empty()) throw std::runtime_error(fmt::format("{}: {}; logs:\n{}", what, dead, logs()));
  if (!ok) {
    throw std::runtime_error(fmt::format("{}: metadata did not list every running broker within {} s; logs:\n{}", what,
                                         timeout.count() / 1000, logs()));
  }
}

std::vector<int> ApacheKafka::node_ids() const {
  std::vector<int> ids;
  for (const auto& n : nodes_) ids.push_back(n.id);
  return ids;
}

std::vector<int> ApacheKafka::broker_ids() const {
  std::vector<int> ids;
  for (const auto& n : nodes_) {
    if (n.broker) ids.push_back(n.id);
  }
  return ids;
}

ApacheKafka::Node& ApacheKafka::node(int id) {
  for (auto& n : nodes_) {
    if (n.id == id) return n;
  }
  throw std::invalid_argument(fmt::format("ApacheKafka: no node {}", id));
}

const ApacheKafka::Node& ApacheKafka::node(int id) const {
  for (const auto& n : nodes_) {
    if (n.id == id) return n;
  }
  throw std::invalid_argument(fmt::format("ApacheKafka: no node {}", id));
}

bool ApacheKafka::running(int id) {
  Node& n = node(id);
  return n.process && n.process->running();
}

int ApacheKafka::stop(int id) {
  Node& n = node(id);
  if (!n.process) return 0;
  if (n.paused) resume(id);
  n.process->kill(SIGTERM);
  if (auto status = n.process->wait_exit(kStopTimeout)) return *status;
  ADD_FAILURE() << "Kafka node " << id << " did not stop within " << kStopTimeout.count() << " s of SIGTERM; killed";
  return n.process->terminate(0ms);
}

void ApacheKafka::kill9(int id) {
  Node& n = node(id);
  if (!n.process) return;
  n.process->kill(SIGKILL);
  n.process->terminate();  // reaps it
  n.paused = false;
}

void ApacheKafka::pause(int id) {
  Node& n = node(id);
  if (!n.process || !n.process->running()) throw std::logic_error(fmt::format("Kafka node {} is not running", id));
  n.process->kill(SIGSTOP);
  n.paused = true;
}

void ApacheKafka::resume(int id) {
  Node& n = node(id);
  if (!n.process) return;
  n.process->kill(SIGCONT);
  n.paused = false;
}

void ApacheKafka::start(int id) {
  Node& n = node(id);
  if (n.process && n.process->running()) throw std::logic_error(fmt::format("Kafka node {} already runs", id));
  const auto began = std::chrono::steady_clock::now();
  launch(n);
  wait_for_brokers(kRestartTimeout, fmt::format("restarting Kafka node {}", id));
  last_start_time_ = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - began);
}

void ApacheKafka::stop() {
  // Brokers together (each one's controlled shutdown waits for the controller), then the controller.
  for (auto& n : nodes_) {
    if (n.broker && n.process && n.process->running()) {
      if (n.paused) resume(n.id);
      n.process->kill(SIGTERM);
    }
  }
  for (auto& n : nodes_) {
    if (n.broker) stop(n.id);
  }
  for (auto& n : nodes_) {
    if (!n.broker) stop(n.id);
  }
}

void ApacheKafka::start() {
  const auto began = std::chrono::steady_clock::now();
  // The controller first: brokers register with it.
  for (auto& n : nodes_) {
    if (!n.broker && !(n.process && n.process->running())) launch(n);
  }
  for (auto& n : nodes_) {
    if (n.broker && !(n.process && n.process->running())) launch(n);
  }
  wait_for_brokers(kStartTimeout, "starting Apache Kafka");
  last_start_time_ = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - began);
}

int ApacheKafka::leader(const std::string& topic, int partition) {
  std::string error;
  auto admin =
      transport::KafkaAdmin::create(KafkaConfig{{{"bootstrap.servers", bootstrap_}, {"log_level", "0"}}}, error);
  if (!admin) throw std::runtime_error(error);
  transport::ClusterMetadata metadata;
  if (std::string problem = admin->metadata({topic}, metadata, 5s); !problem.empty()) return -1;
  const auto& partitions = metadata.topics[topic].partitions;
  for (const auto& p : partitions) {
    if (p.id == partition) return p.leader;
  }
  return -1;
}

void ApacheKafka::create_topic(const std::string& topic, int partitions, int replication,
                               const std::map<std::string, std::string>& configs) {
  std::string error;
  auto admin =
      transport::KafkaAdmin::create(KafkaConfig{{{"bootstrap.servers", bootstrap_}, {"log_level", "0"}}}, error);
  if (!admin) throw std::runtime_error(error);
  transport::NewTopic request{topic, partitions, replication, {configs.begin(), configs.end()}};
  std::map<std::string, std::string> results;
  if (std::string problem = admin->create_topics({request}, results, 30s); !problem.empty()) {
    throw std::runtime_error(fmt::format("CreateTopics {}: {}", topic, problem));
  }
  if (!results[topic].empty()) throw std::runtime_error(fmt::format("CreateTopics {}: {}", topic, results[topic]));
  std::string state = "not in metadata";
  const bool led = wait_until(
      [&] {
        transport::ClusterMetadata metadata;
        if (std::string problem = admin->metadata({topic}, metadata, 2s); !problem.empty()) {
          state = problem;
          return false;
        }
        const auto& entry = metadata.topics[topic];
        state = entry.error.empty() ? fmt::format("{} partitions, every one led: {}", entry.partitions.size(),
                                                  entry.every_partition_led())
                                    : entry.error;
        return entry.error.empty() && static_cast<int>(entry.partitions.size()) == partitions &&
               entry.every_partition_led();
      },
      30s, 50ms);
  if (!led) throw std::runtime_error(fmt::format("topic {} has no leader for every partition: {}", topic, state));
}

std::uint64_t ApacheKafka::rss_bytes(int id) const {
  const Node& n = node(id);
  if (!n.process || n.process->exit_status()) return 0;
  std::ifstream status(fmt::format("/proc/{}/status", n.process->pid()));
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stoull(line.substr(6)) * 1024;
  }
  return 0;
}

std::filesystem::path ApacheKafka::log_file(int id) const { return node(id).dir / "kafka.log"; }

std::string ApacheKafka::logs() const {
  std::string text;
  for (const auto& n : nodes_) {
    text += fmt::format("--- node {} ({}) output:\n{}\n--- node {} warnings:\n{}\n", n.id, n.dir.string(),
                        tail_of(n.dir / "kafka.out", 3000), n.id, tail_of(n.dir / "kafka.log", 3000));
  }
  return text;
}

}  // namespace archer::testing
