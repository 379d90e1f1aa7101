#include "archer/testing/three_brokers.h"

#include <iostream>

namespace archer::testing {

std::unique_ptr<ApacheKafka> OnThreeBrokers::cluster_;
std::string OnThreeBrokers::failure_;

void OnThreeBrokers::SetUpTestSuite() {
  if (std::string why; !ApacheKafka::available(why)) return;
  try {
    cluster_ = std::make_unique<ApacheKafka>(ApacheKafkaOptions::controller_and_brokers(3));
    std::cout << cluster_->name() << ": a controller and 3 brokers answered " << cluster_->last_start_time().count()
              << " ms after their JVMs started\n";
  } catch (const std::exception& e) {
    failure_ = e.what();
  }
}

void OnThreeBrokers::TearDownTestSuite() { cluster_.reset(); }

void OnThreeBrokers::SetUp() {
  if (std::string why; !ApacheKafka::available(why)) GTEST_SKIP() << why;
  ASSERT_NE(cluster_, nullptr) << (failure_.empty() ? "no cluster" : failure_);
}

void OnThreeBrokers::TearDown() {
  if (!cluster_) return;
  for (int id : cluster_->node_ids()) {
    if (!cluster_->running(id)) cluster_->start(id);
  }
}

}  // namespace archer::testing
