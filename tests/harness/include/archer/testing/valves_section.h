#pragma once
// The [[actuator]] section the tests give a bridge: actuator "valves", whose devices are the test
// devices (TestDevices) or archer-devsim's, on the contract's device topics.
#include <string>

namespace archer::testing {

struct ValveTopics {
  std::string commands = "cmd.valves";
  std::string transactions = "tx.valves";
  std::string events = "evt.valves";
  std::string dead_letter = "dlq.valves";
};

struct ValveSettings {
  std::string timeout = "2s";
  int retries = 2;
  std::string snapshot_interval = "10s";
};

std::string valves_section(const ValveTopics& topics = {}, const ValveSettings& settings = {});

}  // namespace archer::testing
