#include "archer/testing/valves_section.h"

#include <fmt/format.h>

namespace archer::testing {

std::string valves_section(const ValveTopics& topics, const ValveSettings& settings) {
  return fmt::format(R"([[actuator]]
name = "valves"
commands = "{}"
transactions = "{}"
events = "{}"
dead_letter = "{}"
timeout = "{}"
retries = {}
snapshot_interval = "{}"
)",
                     topics.commands, topics.transactions, topics.events, topics.dead_letter, settings.timeout,
                     settings.retries, settings.snapshot_interval);
}

}  // namespace archer::testing
