#pragma once
// The gateway's configuration (docs/contract.md, "Config"), loaded from TOML once at start and on
// SIGHUP. Loading is strict and collects every problem before failing: each error names the file,
// line, column and key. Paths in the file are relative to the file's own directory.
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "archer/core/config_errors.h"
#include "archer/core/log.h"
#include "archer/core/topic_template.h"

namespace archer {

struct GatewayConfig {
  std::string id;
};

struct MqttTlsConfig {
  std::filesystem::path ca_file;
  std::filesystem::path cert_file;
  std::filesystem::path key_file;
};

struct MqttConfig {
  std::string uri;
  std::string client_id;
  std::chrono::milliseconds session_expiry{std::chrono::hours(1)};
  std::chrono::milliseconds keepalive{std::chrono::seconds(30)};
  std::optional<std::string> username;
  std::optional<std::filesystem::path> password_file;
  // Read from password_file when the config is loaded (archer/core/secret_file.h); never shown.
  std::optional<std::string> password;
  std::optional<MqttTlsConfig> tls;
};

struct KafkaConfig {
  // librdkafka properties, verbatim, in file order; a credential given as `"NAME_file" = "path"`
  // is here as NAME with the file's content (archer/core/secret_file.h), where the file had it.
  std::vector<std::pair<std::string, std::string>> properties;
};

enum class SpoolFullPolicy { backpressure, drop_oldest };

struct SpoolConfig {
  std::filesystem::path dir;
  std::uint64_t max_size = std::uint64_t{1} << 30;
  SpoolFullPolicy on_full = SpoolFullPolicy::backpressure;
  // How often spooled readings are fsynced: the power-loss window. 0 fsyncs every reading.
  std::chrono::milliseconds sync{100};
  // The fraction of max_size above which the gateway is not ready (/readyz); "90%" in the file.
  double high_water = 0.9;
};

struct HttpConfig {
  std::string host;
  std::uint16_t port = 0;
};

// [log]; the command line's --log-level and --log-format win over it (archer/core/log_config.h).
struct LogConfig {
  log::Level level = log::Level::info;
  log::Format format = log::Format::text;
};

enum class PayloadFormat { flatbuffers, json };

struct IngestSection {
  std::string name;
  TopicTemplate mqtt;
  std::optional<std::string> share_group;
  int qos = 1;
  std::filesystem::path schema;
  std::vector<PayloadFormat> formats{PayloadFormat::flatbuffers};
  std::string topic;
  StringTemplate key;
  // payload field -> topic capture that it must equal
  std::vector<std::pair<std::string, std::string>> bind;
  std::uint64_t max_payload = 256 * 1024;
  std::string dead_letter;
  // How long Kafka keeps the raw datalog and the dead letters (`archer-ctl topics` checks and
  // creates them so). nullopt: forever, the default: the raw datalog is the event store.
  std::optional<std::chrono::milliseconds> retention;
  std::optional<std::chrono::milliseconds> dead_letter_retention;

  bool accepts(PayloadFormat format) const;
};

struct ActuatorSection {
  std::string name;
  std::string commands;
  std::string transactions;
  std::string events;
  TopicTemplate request;
  TopicTemplate response;
  std::chrono::milliseconds timeout{std::chrono::seconds(5)};
  int retries = 2;
  int max_concurrent_devices = 64;
  // Device answers that are not a valid DeviceResponse, with the reason (default "dlq.<name>").
  std::string dead_letter;
  // How often the gateway writes its state to snapshot.<gateway>, so a start reads only what follows.
  std::chrono::milliseconds snapshot_interval{std::chrono::seconds(10)};

  bool operator==(const ActuatorSection&) const = default;  // a reload restarts a section that changed
};

struct Config {
  std::filesystem::path file;
  // Where each key was read, so that problems found after loading name file:line:col and key too.
  KeyPositions positions;
  GatewayConfig gateway;
  MqttConfig mqtt;
  KafkaConfig kafka;
  SpoolConfig spool;
  std::optional<HttpConfig> http;
  LogConfig log;
  std::vector<IngestSection> ingest;
  std::vector<ActuatorSection> actuators;

  // "file:line:col: key: message" for a problem of `key_path` found after loading (a schema that
  // does not load, a librdkafka property refused), placed as KeyPositions::of places it.
  std::string error_at(std::string_view key_path, std::string_view message) const;
};

// The key path of a librdkafka property in [kafka]: kafka."linger.ms".
std::string kafka_key(std::string_view property);

struct ConfigResult {
  std::optional<Config> config;
  std::vector<std::string> errors;  // "file:line:col: key: message", in file order
};

ConfigResult load_config(const std::filesystem::path& file);
// Parses `text` as if it were the content of `file` (relative paths resolve against file's directory).
ConfigResult parse_config(std::string_view text, const std::filesystem::path& file);

}  // namespace archer
