#include "archer/core/config_keys.h"

#include <algorithm>

namespace archer {

const std::vector<ConfigTableKeys>& config_keys() {
  static const std::vector<ConfigTableKeys> keys{
      {"", {"gateway", "mqtt", "kafka", "spool", "http", "log", "ingest", "actuator"}},
      {"gateway", {"id"}},
      {"mqtt", {"uri", "client_id", "session_expiry", "keepalive", "username", "password_file", "tls"}},
      {"mqtt.tls", {"ca_file", "cert_file", "key_file"}},
      {"kafka", {"bootstrap.servers", kAnyKey}},
      {"spool", {"dir", "max_size", "on_full", "sync", "high_water"}},
      {"http", {"listen"}},
      {"log", {"level", "format"}},
      {"ingest",
       {"name", "mqtt", "share_group", "qos", "schema", "formats", "topic", "dead_letter", "key", "bind", "max_payload",
        "retention", "dead_letter_retention"}},
      {"ingest.bind", {kAnyKey}},
      {"actuator",
       {"name", "commands", "transactions", "events", "dead_letter", "request", "response", "timeout", "retries",
        "max_concurrent_devices", "snapshot_interval"}},
  };
  return keys;
}

const std::vector<std::string_view>* config_keys_of(std::string_view table) {
  const auto& all = config_keys();
  const auto found = std::find_if(all.begin(), all.end(), [&](const ConfigTableKeys& t) { return t.table == table; });
  return found == all.end() ? nullptr : &found->keys;
}

}  // namespace archer
