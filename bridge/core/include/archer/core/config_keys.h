#pragma once
// Every table and key of the gateway config, in one place: the loader reads each table against
// this list (a key it asks for that is not here is a loader bug, reported as a config error), and
// refuses every key of the file it did not ask for. docs/configuration.md documents exactly this
// list; a unit test holds the two together.
#include <string_view>
#include <vector>

namespace archer {

// Stands for any key name: the librdkafka properties of [kafka], the payload fields of [ingest.bind].
inline constexpr std::string_view kAnyKey = "*";

struct ConfigTableKeys {
  // "" for the root (whose keys are the tables), "mqtt", "mqtt.tls", "ingest" (each [[ingest]]
  // section), "ingest.bind", ...
  std::string_view table;
  std::vector<std::string_view> keys;
};

const std::vector<ConfigTableKeys>& config_keys();
// The keys of `table`; null for a table the config does not have.
const std::vector<std::string_view>* config_keys_of(std::string_view table);

}  // namespace archer
