#pragma once
// The fixture of tests that share one Apache Kafka cluster of a controller-only node and three
// brokers for their whole test suite (it takes seconds to start). It skips without java or the
// fetched jars, fails every test with the reason when the cluster cannot start, and after each test
// starts again any node the test left stopped, so that the next one finds the cluster whole.
#include <memory>
#include <string>

#include <gtest/gtest.h>

#include "archer/testing/apache_kafka.h"

namespace archer::testing {

class OnThreeBrokers : public ::testing::Test {
 protected:
  static void SetUpTestSuite();
  static void TearDownTestSuite();
  void SetUp() override;
  void TearDown() override;

  static ApacheKafka& kafka() { return *cluster_; }

 private:
  static std::unique_ptr<ApacheKafka> cluster_;
  static std::string failure_;  // why the cluster could not start
};

}  // namespace archer::testing
