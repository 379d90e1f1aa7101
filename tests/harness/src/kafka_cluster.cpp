#include "archer/testing/kafka_cluster.h"

#include <memory>
#include <stdexcept>

#include "archer/testing/apache_kafka.h"
#include "archer/testing/devkafka.h"
#include "archer/testing/kafka.h"

namespace archer::testing {
namespace {

// Owns the shared clusters; gtest tears it down after the last test, so a broker that fails to
// stop is still reported as a failure of this test program.
class SharedClusters : public ::testing::Environment {
 public:
  static SharedClusters& instance() {
    static SharedClusters* shared = [] {
      auto* environment = new SharedClusters();
      ::testing::AddGlobalTestEnvironment(environment);  // gtest owns it
      return environment;
    }();
    return *shared;
  }

  KafkaCluster& get(KafkaKind kind) {
    Slot& slot = kind == KafkaKind::apache ? apache_ : devkafka_;
    if (!slot.failure.empty()) throw std::runtime_error(slot.failure);
    if (!slot.cluster) {
      try {
        if (kind == KafkaKind::apache) {
          slot.cluster = std::make_unique<ApacheKafka>();
        } else {
          slot.cluster = std::make_unique<DevKafka>();
        }
      } catch (const std::exception& e) {
        slot.failure = e.what();
        throw;
      }
    }
    return *slot.cluster;
  }

  void TearDown() override {
    apache_.cluster.reset();
    devkafka_.cluster.reset();
  }

 private:
  struct Slot {
    std::unique_ptr<KafkaCluster> cluster;
    std::string failure;  // why it could not start: later tests fail with it at once
  };
  Slot apache_;
  Slot devkafka_;
};

}  // namespace

std::vector<KafkaKind> all_kafka_kinds() { return {KafkaKind::devkafka, KafkaKind::apache}; }

std::string kafka_kind_name(const ::testing::TestParamInfo<KafkaKind>& info) {
  return info.param == KafkaKind::apache ? "apache" : "devkafka";
}

void PrintTo(KafkaKind kind, std::ostream* out) { *out << (kind == KafkaKind::apache ? "apache" : "devkafka"); }

bool kafka_available(KafkaKind kind, std::string& why) {
  if (kind == KafkaKind::apache) return ApacheKafka::available(why);
  return true;
}

KafkaCluster& shared_kafka(KafkaKind kind) { return SharedClusters::instance().get(kind); }

std::string create_unique_topic(KafkaCluster& kafka, const std::string& prefix, int partitions, int replication,
                                const std::map<std::string, std::string>& configs) {
  std::string topic = unique_name(prefix);
  kafka.create_topic(topic, partitions, replication, configs);
  return topic;
}

}  // namespace archer::testing
