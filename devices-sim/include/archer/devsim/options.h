#pragma once
// Everything archer-devsim can be told, from flags or a TOML file. Every flag `--some-name` has the
// TOML key `some_name` (top level, same value syntax); flags given after `--config FILE` and before
// it alike override the file.
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace archer::devsim {

enum class Kind { environment = 0, valve = 1, meter = 2 };
inline constexpr int kKindCount = 3;
// "env", "valve", "meter": the id prefix and the report's key.
std::string_view kind_name(Kind kind);
std::optional<Kind> parse_kind(std::string_view text);

enum class Fault { none = 0, random_bytes, truncated, wrong_schema, wrong_device, oversize, bad_json };
inline constexpr int kFaultCount = 7;  // including `none`
std::string_view fault_name(Fault fault);

enum class DisconnectMode { clean, unclean };
enum class Progress { automatic, always, never };

struct Options {
  // broker and connections
  std::string uri = "tcp://127.0.0.1:1883";
  int mqtt_version = 5;  // 5 or 3 (3.1.1)
  int qos = 1;
  int connections = 0;                       // 0: one MQTT client per device (client id = device id)
  std::string client_id_prefix = "devsim-";  // multiplexed connections: devsim-1 .. devsim-K
  int max_inflight = 64;                     // unacknowledged QoS>0 publishes per connection
  std::optional<std::string> username;
  std::optional<std::string> password;

  // fleet
  int devices = 10;
  std::vector<std::pair<Kind, double>> kinds = {{Kind::environment, 1}, {Kind::valve, 1}, {Kind::meter, 1}};
  double rate = 0;  // total messages/s across the fleet; 0: every device every `interval`
  std::chrono::microseconds interval = std::chrono::seconds(1);
  double jitter = 0.1;                      // +- fraction of the interval
  std::chrono::milliseconds duration{0};    // 0: until SIGINT/SIGTERM
  std::chrono::milliseconds clock_skew{0};  // each device's clock is off by up to +- this
  double valve_speed = 20;                  // percent per second
  std::uint64_t seed = 0;                   // 0: random

  // telemetry
  std::string telemetry_topic = "devices/{device}/telemetry";
  std::string status_topic = "devices/{device}/status";
  double json_ratio = 0;  // share of telemetry sent as JSON (--format flatbuffers=0, json=1, mixed=0.5)
  bool traceparent = false;

  // commands
  std::string command_topic = "devices/{device}/commands";
  std::string response_topic = "devices/{device}/responses";  // when the request names none (3.1.1)
  std::chrono::milliseconds latency_min{0};
  std::chrono::milliseconds latency_max{0};
  double reject_ratio = 0;
  double no_answer_ratio = 0;
  double late_ratio = 0;
  std::chrono::milliseconds late_delay = std::chrono::seconds(10);
  double twice_ratio = 0;
  std::size_t remember = 10000;  // interaction ids remembered per device

  // faults
  double fault_ratio[kFaultCount] = {};  // indexed by Fault; [none] unused
  std::uint64_t oversize_bytes = 300 * 1024;
  std::chrono::milliseconds disconnect_every{0};
  DisconnectMode disconnect_mode = DisconnectMode::clean;
  std::chrono::milliseconds reconnect_after = std::chrono::seconds(1);

  // report
  std::string report_file;
  Progress progress = Progress::automatic;
  std::string log_level = "info";
  std::string log_format = "text";

  // Cross-field checks (ratios sum, version/feature combinations). Empty when fine.
  std::string validate() const;
};

// error: a flag is wrong (`error` says which); bad_config: the --config file has problems, one
// "file:line:col: key: message" per line of `error`, all of them.
enum class ParseResult { run, help, version, error, bad_config };

// Applies one option by its flag name without dashes ("devices", "fault-oversize" or "fault_oversize").
bool apply_option(Options& options, std::string_view name, std::string_view value, std::string& error);

// Reads a TOML file of top-level keys into `options`, strictly (archer/core/toml_reader.h): every
// unknown key, wrong type and bad value is a "file:line:col: key: message", all of them, in file
// order. Empty when the file is fine.
std::vector<std::string> load_toml(Options& options, const std::string& file);

// argv: `--config FILE` is read first, then every other flag in order. `--name=value` or `--name value`;
// boolean flags (--traceparent) take no value.
ParseResult parse_args(int argc, const char* const* argv, Options& options, std::string& error);

std::string usage();

}  // namespace archer::devsim
