#pragma once
// The fixture of a bridge scenario that runs on both brokers (TEST_P, instantiated with
// INSTANTIATE_TEST_SUITE_P(Brokers, X, ::testing::ValuesIn(all_kafka_kinds()), kafka_kind_name)):
// a Mosquitto of its own, and the program's shared cluster of the test's kind. SetUp skips when
// that kind cannot run here. Tests that share a cluster each make their own topics and have their
// own gateway id, so that they see neither each other's records nor each other's consumer groups
// and snapshots. A derived SetUp calls OnBothBrokers::SetUp() first and returns when IsSkipped().
#include <memory>
#include <string>

#include <gtest/gtest.h>

#include "archer/testing/bridge.h"
#include "archer/testing/kafka.h"
#include "archer/testing/kafka_cluster.h"
#include "archer/testing/mosquitto.h"

namespace archer::testing {

class OnBothBrokers : public ::testing::TestWithParam<KafkaKind> {
 protected:
  void SetUp() override;

  KafkaCluster& kafka() const { return *kafka_; }
  const std::string& bootstrap() const { return kafka_->bootstrap(); }
  // A topic of this test's own, named unique_name(prefix), every partition led.
  std::string topic(const std::string& prefix, int partitions) const;
  // An archer-bridge on this test's Mosquitto and cluster, with this test's gateway id.
  std::unique_ptr<Bridge> bridge(const std::string& sections) const;

  Mosquitto mqtt_;
  const std::string gateway_ = unique_name("gw");

 private:
  KafkaCluster* kafka_ = nullptr;
};

}  // namespace archer::testing
