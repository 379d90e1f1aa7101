#pragma once
// What a test needs from a Kafka cluster, whichever broker runs it, so that a scenario can be
// parameterised over {archer-devkafka, Apache Kafka}:
//
//   class RoundTrip : public ::testing::TestWithParam<KafkaKind> {};
//   TEST_P(RoundTrip, Works) {
//     std::string why;
//     if (!kafka_available(GetParam(), why)) GTEST_SKIP() << why;
//     KafkaCluster& kafka = shared_kafka(GetParam());
//     kafka.create_topic(unique_name("t"), 3);
//   }
//   INSTANTIATE_TEST_SUITE_P(Brokers, RoundTrip, ::testing::ValuesIn(all_kafka_kinds()), kafka_kind_name);
//
// A bridge scenario derives its fixture from OnBothBrokers (on_both_brokers.h) instead.
#include <map>
#include <ostream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace archer::testing {

class KafkaCluster {
 public:
  virtual ~KafkaCluster() = default;

  virtual const std::string& bootstrap() const = 0;
  // For messages: "archer-devkafka", "Apache Kafka 4.1.2".
  virtual std::string name() const = 0;
  // Broker nodes (a controller-only node is not one).
  virtual int brokers() const = 0;
  // Creates the topic and returns once every partition has a leader; throws std::runtime_error when
  // it cannot. The mock ignores `replication` and `configs`.
  virtual void create_topic(const std::string& topic, int partitions, int replication = 1,
                            const std::map<std::string, std::string>& configs = {}) = 0;
};

enum class KafkaKind { devkafka, apache };
// How gtest (and so a ctest name of gtest_discover_tests) prints a parameter: "devkafka", "apache".
void PrintTo(KafkaKind kind, std::ostream* out);

std::vector<KafkaKind> all_kafka_kinds();
// A gtest parameter name: "devkafka", "apache".
std::string kafka_kind_name(const ::testing::TestParamInfo<KafkaKind>& info);

// False with a one-line reason when this kind of broker cannot run here (tests GTEST_SKIP() << why).
bool kafka_available(KafkaKind kind, std::string& why);

// One cluster per test process and kind, started on first use and stopped when the test program
// ends (after the last test, while gtest still reports failures). archer-devkafka: 3 brokers;
// Apache Kafka: one combined node. Call it from the test's main thread (see Process). Throws when
// the cluster cannot start; later calls throw the same message at once.
KafkaCluster& shared_kafka(KafkaKind kind);

// Creates a topic named unique_name(prefix) (e.g. "raw.telemetry-4711-3") on `kafka` and returns its
// name: tests that share a cluster each write and read their own topics.
std::string create_unique_topic(KafkaCluster& kafka, const std::string& prefix, int partitions, int replication = 1,
                                const std::map<std::string, std::string>& configs = {});

}  // namespace archer::testing
