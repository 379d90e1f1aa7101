#include "archer/testing/on_both_brokers.h"

namespace archer::testing {

void OnBothBrokers::SetUp() {
  if (std::string why; !kafka_available(GetParam(), why)) GTEST_SKIP() << why;
  kafka_ = &shared_kafka(GetParam());
}

std::string OnBothBrokers::topic(const std::string& prefix, int partitions) const {
  return create_unique_topic(*kafka_, prefix, partitions);
}

std::unique_ptr<Bridge> OnBothBrokers::bridge(const std::string& sections) const {
  return std::make_unique<Bridge>(mqtt_.uri(), bootstrap(), sections, "archer-test-gw", "", gateway_);
}

}  // namespace archer::testing
