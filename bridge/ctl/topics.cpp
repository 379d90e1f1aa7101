// archer-ctl topics --config FILE [--create] [--partitions N] [--replication R]
//
// Lists every Kafka topic the config uses, with its kind, and checks that it exists with the
// settings its kind needs; with --create, creates the missing ones so. One line per topic:
// `kind  topic  ok|created|missing|wrong: what differs`. Exit 0 when every topic is right, 1 when
// any is missing or wrong (or the cluster cannot tell), 2 for bad flags or a bad config.
// Topics that exist with wrong settings are reported, never changed.
#include <algorithm>
#include <cstdio>
#include <map>
#include <optional>
#include <set>
#include <thread>

#include <fmt/format.h>

#include "archer/core/config.h"
#include "archer/core/units.h"
#include "archer/transport/kafka_admin.h"
#include "args.h"
#include "commands.h"

namespace archer::ctl {
namespace {

using namespace std::chrono_literals;
constexpr auto kTimeout = 30s;

struct PlannedTopic {
  std::string kind;
  std::string name;
  // Settings the kind needs, each with why (for the `wrong:` message).
  std::vector<std::pair<std::string, std::string>> settings;
  std::string why;
  int partitions = 0;  // 0: --partitions
};

std::vector<std::pair<std::string, std::string>> kept(std::optional<std::chrono::milliseconds> retention) {
  return {{"cleanup.policy", "delete"},
          {"retention.ms", retention ? std::to_string(retention->count()) : "-1"},
          {"retention.bytes", "-1"}};
}

std::string kept_why(std::optional<std::chrono::milliseconds> retention) {
  return retention ? fmt::format("kept {}", format_duration(*retention)) : "kept forever";
}

// Every topic of the config, in config order, each once.
std::vector<PlannedTopic> plan(const Config& config) {
  std::vector<PlannedTopic> topics;
  auto add = [&](PlannedTopic topic) {
    const bool seen = std::any_of(topics.begin(), topics.end(), [&](const auto& t) { return t.name == topic.name; });
    if (!seen) topics.push_back(std::move(topic));
  };
  for (const IngestSection& section : config.ingest) {
    add({"raw-datalog", section.topic, kept(section.retention), kept_why(section.retention)});
    add({"dead-letters", section.dead_letter, kept(section.dead_letter_retention),
         kept_why(section.dead_letter_retention)});
  }
  for (const ActuatorSection& section : config.actuators) {
    add({"command-log", section.commands, kept(std::nullopt), kept_why(std::nullopt)});
    add({"transaction-log", section.transactions, kept(std::nullopt), kept_why(std::nullopt)});
    add({"event-log", section.events, kept(std::nullopt), kept_why(std::nullopt)});
    add({"replay-log", section.events + ".replay", kept(std::nullopt), kept_why(std::nullopt)});
    add({"dead-letters", section.dead_letter, kept(std::nullopt), kept_why(std::nullopt)});
  }
  if (!config.actuators.empty()) {
    // Only the latest state per key matters: one partition, compacted.
    add({"snapshot", "snapshot." + config.gateway.id, {{"cleanup.policy", "compact"}}, "compacted", 1});
  }
  return topics;
}

// What differs between the topic's configs and what its kind needs; "" when nothing.
std::string differences(const PlannedTopic& topic, const transport::TopicConfigs& configs) {
  std::vector<std::string> problems;
  for (const auto& [name, expected] : topic.settings) {
    const auto found = configs.find(name);
    const std::string actual = found != configs.end() ? found->second.value : "(not set)";
    if (actual != expected)
      problems.push_back(fmt::format("{} is {}, expected {} ({})", name, actual, expected, topic.why));
  }
  return fmt::format("{}", fmt::join(problems, "; "));
}

// 0 when the flag is not given.
std::optional<int> count_flag(const Args& args, const std::string& flag, int max) {
  const auto value = args.count(flag);
  if (!value) return 0;
  if (*value < 1 || *value > static_cast<std::uint64_t>(max)) {
    std::fprintf(stderr, "archer-ctl topics: %s takes a whole number from 1 to %d, not '%s'\n", flag.c_str(), max,
                 args.value(flag)->c_str());
    return std::nullopt;
  }
  return static_cast<int>(*value);
}

const CommandSpec kTopics{
    "topics",
    "usage: archer-ctl topics --config FILE [--create] [--partitions N] [--replication R]\n",
    {{"--config", FlagType::text, true}, {"--partitions", FlagType::count}, {"--replication", FlagType::count}},
    {"--create"},
    {},
};

constexpr const char* kMockNote =
    "archer-ctl topics: the cluster at %s names no controller among its brokers, so it answers no CreateTopics "
    "or DescribeConfigs: archer-devkafka (librdkafka's mock cluster) is such a cluster; topics can be neither "
    "checked nor created there\n";

std::string bootstrap_of(const Config& config) {
  for (const auto& [name, value] : config.kafka.properties) {
    if (name == "bootstrap.servers" || name == "metadata.broker.list") return value;
  }
  return "(no bootstrap.servers)";
}

// A created topic's partitions get their leaders a moment after CreateTopics answers; a client
// that reads one before (the gateway starting right after --create) gets an error. Waits until
// each created topic is led; returns those that are not.
std::set<std::string> wait_for_leaders(transport::KafkaAdmin& admin,
                                       const std::map<std::string, std::string>& created) {
  const auto deadline = std::chrono::steady_clock::now() + kTimeout;
  std::set<std::string> leaderless;
  for (;;) {
    leaderless.clear();
    transport::ClusterMetadata metadata;
    const bool answered = admin.metadata({}, metadata, kTimeout).empty();
    for (const auto& [name, problem] : created) {
      if (problem.empty() && (!answered || !metadata.topics[name].every_partition_led())) leaderless.insert(name);
    }
    if (leaderless.empty() || std::chrono::steady_clock::now() >= deadline) return leaderless;
    std::this_thread::sleep_for(100ms);  // polling the cluster, not waiting for a thread of ours
  }
}

}  // namespace

int topics(const std::vector<std::string>& argv) {
  int stopped = 0;
  const auto args = Args::parse_or_print(argv, kTopics, stopped);
  if (!args) return stopped;
  const auto partitions_flag = count_flag(*args, "--partitions", 10000);
  const auto replication_flag = count_flag(*args, "--replication", 100);
  if (!partitions_flag || !replication_flag) return 2;
  ConfigResult loaded = load_config(*args->value("--config"));
  if (!loaded.config) {
    for (const std::string& error : loaded.errors) std::fprintf(stderr, "%s\n", error.c_str());
    return 2;
  }
  const Config& config = *loaded.config;
  const std::vector<PlannedTopic> planned = plan(config);

  std::string error;
  auto admin = transport::KafkaAdmin::create(config.kafka, error);
  if (!admin) {
    std::fprintf(stderr, "archer-ctl topics: %s\n", error.c_str());
    return 2;
  }
  transport::ClusterMetadata metadata;
  if (error = admin->metadata({}, metadata, kTimeout); !error.empty()) {
    std::fprintf(stderr, "archer-ctl topics: cannot read the cluster's metadata: %s\n", error.c_str());
    return 1;
  }
  // Admin requests go to the controller that metadata names. librdkafka's mock cluster names a
  // node that is none of its brokers, and every request would wait for it until the timeout.
  if (std::find(metadata.brokers.begin(), metadata.brokers.end(), metadata.controller) == metadata.brokers.end()) {
    std::fprintf(stderr, kMockNote, bootstrap_of(config).c_str());
    return 1;
  }
  std::vector<std::string> existing;
  for (const auto& topic : planned) {
    const auto found = metadata.topics.find(topic.name);
    if (found != metadata.topics.end() && found->second.error.empty()) existing.push_back(topic.name);
  }
  std::map<std::string, transport::TopicConfigs> configs;
  std::map<std::string, std::string> config_errors;
  if (error = admin->describe_topic_configs(existing, configs, config_errors, kTimeout); !error.empty()) {
    std::fprintf(stderr, "archer-ctl topics: cannot read the topics' configs: %s\n", error.c_str());
    return 1;
  }

  std::map<std::string, std::string> created;  // topic -> "" or why it was not created
  std::set<std::string> leaderless;            // created, but not led in time
  if (args->has("--create")) {
    const int replication =
        *replication_flag > 0 ? *replication_flag : std::min(3, static_cast<int>(metadata.brokers.size()));
    std::vector<transport::NewTopic> requests;
    for (const auto& topic : planned) {
      if (std::find(existing.begin(), existing.end(), topic.name) != existing.end()) continue;
      const int partitions = *partitions_flag > 0 ? *partitions_flag : (topic.partitions > 0 ? topic.partitions : 6);
      requests.push_back({topic.name, partitions, std::max(1, replication), topic.settings});
    }
    if (error = admin->create_topics(requests, created, kTimeout); !error.empty()) {
      std::fprintf(stderr, "archer-ctl topics: cannot create topics: %s\n", error.c_str());
      return 1;
    }
    leaderless = wait_for_leaders(*admin, created);
  }

  std::size_t kind_width = 0;
  std::size_t name_width = 0;
  for (const auto& topic : planned) {
    kind_width = std::max(kind_width, topic.kind.size());
    name_width = std::max(name_width, topic.name.size());
  }
  bool all_right = true;
  for (const auto& topic : planned) {
    std::string status;
    if (const auto c = created.find(topic.name); c != created.end()) {
      status = !c->second.empty()                ? "missing: not created: " + c->second
               : leaderless.contains(topic.name) ? "wrong: created, but not every partition has a leader yet"
                                                 : "created";
    } else if (std::find(existing.begin(), existing.end(), topic.name) == existing.end()) {
      status = "missing";
    } else if (const auto e = config_errors.find(topic.name); e != config_errors.end()) {
      status = "wrong: its configs cannot be read: " + e->second;
    } else if (std::string diff = differences(topic, configs[topic.name]); !diff.empty()) {
      status = "wrong: " + diff;
    } else {
      status = "ok";
    }
    if (status != "ok" && status != "created") all_right = false;
    std::printf("%-*s  %-*s  %s\n", static_cast<int>(kind_width), topic.kind.c_str(), static_cast<int>(name_width),
                topic.name.c_str(), status.c_str());
  }
  return all_right ? 0 : 1;
}

}  // namespace archer::ctl
