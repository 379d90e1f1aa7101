#include "archer/core/config.h"

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <set>

#include <fmt/format.h>
#include <toml++/toml.h>

#include "archer/core/config_keys.h"
#include "archer/core/secret_file.h"
#include "archer/core/secrets.h"
#include "archer/core/toml_reader.h"
#include "archer/core/units.h"

namespace archer {
namespace {

std::filesystem::path resolve(const std::filesystem::path& base, const std::string& value) {
  std::filesystem::path path(value);
  return path.is_absolute() ? path : base / path;
}

std::filesystem::path default_spool_dir() {
  // Under systemd (StateDirectory=), the first entry of $STATE_DIRECTORY is ours.
  if (const char* state = std::getenv("STATE_DIRECTORY"); state != nullptr && *state != '\0') {
    std::string_view first(state);
    first = first.substr(0, first.find(':'));
    return std::filesystem::path(first) / "spool";
  }
  return std::filesystem::current_path() / "archer-spool";
}

void check_id(TableReader& reader, std::string_view key, const std::optional<std::string>& value) {
  if (value && !is_valid_id(*value)) reader.error(key, fmt::format("'{}' must match [A-Za-z0-9._:-]{{1,128}}", *value));
}

void check_file_exists(TableReader& reader, std::string_view key, const std::filesystem::path& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) reader.error(key, fmt::format("file '{}' does not exist", path.string()));
}

// The secret a `..._file` key names, or nullopt with the problem reported at `key`.
std::optional<std::string> read_secret(std::string_view value, const std::filesystem::path& base, std::string& error) {
  std::optional<std::filesystem::path> file = secret_file_path(value, base, error);
  if (!file) return std::nullopt;
  return read_secret_file(*file, is_credential_reference(value), error);
}

void read_gateway(TableReader& reader, Config& config) {
  auto id = reader.string("id", true);
  check_id(reader, "id", id);
  if (id) config.gateway.id = *id;
}

void read_mqtt(TableReader& reader, Config& config, const std::filesystem::path& base) {
  MqttConfig& mqtt = config.mqtt;
  if (auto uri = reader.string("uri", true)) {
    if (uri->rfind("tcp://", 0) != 0 && uri->rfind("ssl://", 0) != 0 && uri->rfind("mqtt://", 0) != 0 &&
        uri->rfind("mqtts://", 0) != 0 && uri->rfind("ws://", 0) != 0 && uri->rfind("wss://", 0) != 0) {
      reader.error("uri", fmt::format("'{}' must start with tcp://, ssl://, mqtt://, mqtts://, ws:// or wss://", *uri));
    }
    mqtt.uri = *uri;
  }
  mqtt.client_id = reader.string("client_id").value_or("archer-" + config.gateway.id);
  if (mqtt.client_id.empty() || mqtt.client_id.size() > 65535) reader.error("client_id", "must not be empty");
  if (auto expiry = reader.duration("session_expiry")) mqtt.session_expiry = *expiry;
  if (auto keepalive = reader.duration("keepalive")) mqtt.keepalive = *keepalive;
  mqtt.username = reader.string("username");
  if (auto file = reader.string("password_file")) {
    std::string error;
    mqtt.password_file = secret_file_path(*file, base, error).value_or(*file);
    mqtt.password = read_secret(*file, base, error);
    if (!mqtt.password) reader.error("password_file", error);
  }
  if (const toml::table* tls_table = reader.table("tls")) {
    TableReader tls = reader.nested(*tls_table, reader.key_path("tls"), config_keys_of("mqtt.tls"));
    MqttTlsConfig out;
    for (auto [key, field] : {std::pair{"ca_file", &out.ca_file}, {"cert_file", &out.cert_file}, {"key_file", &out.key_file}}) {
      if (auto file = tls.string(key)) {
        *field = resolve(base, *file);
        check_file_exists(tls, key, *field);
      }
    }
    if (out.cert_file.empty() != out.key_file.empty()) tls.error("cert_file", "cert_file and key_file go together");
    mqtt.tls = out;
  }
  // A TLS uri without [mqtt.tls] verifies the broker against the system's trust store; [mqtt.tls]
  // with a plain uri would look protected and send everything in the clear.
  const bool secure_uri = mqtt.uri.rfind("ssl://", 0) == 0 || mqtt.uri.rfind("mqtts://", 0) == 0 || mqtt.uri.rfind("wss://", 0) == 0;
  if (mqtt.tls && !secure_uri && !mqtt.uri.empty()) {
    reader.error("tls", fmt::format("[mqtt.tls] is set but mqtt.uri '{}' is not a TLS one: use ssl://, mqtts:// or "
                                    "wss:// in mqtt.uri, or remove [mqtt.tls]",
                                    mqtt.uri));
  }
}

// Here the properties only have to be scalars; librdkafka judges them in the startup check
// (bridge/daemon/startup_check.h), placed with the positions recorded here. A credential comes from
// a file: `"NAME_file" = "path"` for a secret property NAME (archer/core/secrets.h) is read now and
// handed on as NAME; NAME itself, inline, is an error.
void read_kafka(const toml::table& table, Config& config, ConfigErrors& errors, const std::filesystem::path& base) {
  config.positions.add("kafka", position_of(table));
  for (const auto& [key, value] : in_file_order(table)) {
    const std::string name(key->str());
    config.positions.add(kafka_key(name), position_of(*value));
    auto text = scalar_text(*value);
    if (!text) {
      errors.add(position_of(*value), kafka_key(name), "expected a string, number or boolean (a librdkafka property)");
      continue;
    }
    if (is_secret_property(name)) {
      errors.add(position_of(*value), kafka_key(name),
                 fmt::format("a credential is never written in the config: use \"{}_file\" = \"/path\" "
                             "(a file of mode 0600 holding it)",
                             name));
      continue;
    }
    constexpr std::string_view kFileSuffix = "_file";
    const std::string stem = name.ends_with(kFileSuffix) ? name.substr(0, name.size() - kFileSuffix.size()) : "";
    if (!stem.empty() && is_secret_property(stem)) {
      std::string error;
      std::optional<std::string> secret = read_secret(*text, base, error);
      if (!secret) {
        errors.add(position_of(*value), kafka_key(name), error);
        continue;
      }
      // librdkafka's words about the property then point at the line of its file.
      config.positions.add(kafka_key(stem), position_of(*value));
      config.kafka.properties.emplace_back(stem, std::move(*secret));
      continue;
    }
    config.kafka.properties.emplace_back(name, std::move(*text));
  }
  const bool has_bootstrap = std::any_of(config.kafka.properties.begin(), config.kafka.properties.end(), [](const auto& p) {
    return p.first == "bootstrap.servers" || p.first == "metadata.broker.list";
  });
  if (!has_bootstrap) errors.add(position_of(table), kafka_key("bootstrap.servers"), "required key is missing");
}

void read_spool(TableReader& reader, Config& config, const std::filesystem::path& base) {
  if (auto dir = reader.string("dir")) config.spool.dir = resolve(base, *dir);
  if (auto size = reader.size("max_size")) {
    if (*size < 1024 * 1024) reader.error("max_size", "must be at least 1MiB");
    config.spool.max_size = *size;
  }
  if (auto sync = reader.duration("sync")) config.spool.sync = *sync;
  if (const toml::node* found = reader.node("high_water")) {
    // A percentage with its sign, so that nobody reads 0.9 as 0.9 %.
    const auto* text = found->as_string();
    double percent = 0;
    bool ok = text != nullptr && text->get().size() > 1 && text->get().back() == '%';
    if (ok) {
      const std::string& value = text->get();
      const char* end = value.data() + value.size() - 1;
      ok = std::from_chars(value.data(), end, percent).ptr == end && percent >= 1 && percent <= 100;
    }
    if (!ok) {
      reader.error("high_water", fmt::format("{} must be a percentage from 1% to 100%, e.g. \"90%\"",
                                             text != nullptr ? "'" + text->get() + "'" : "the value"));
    } else {
      config.spool.high_water = percent / 100;
    }
  }
  if (auto policy = reader.string("on_full")) {
    if (*policy == "backpressure") config.spool.on_full = SpoolFullPolicy::backpressure;
    else if (*policy == "drop_oldest") config.spool.on_full = SpoolFullPolicy::drop_oldest;
    else reader.error("on_full", fmt::format("'{}' must be \"backpressure\" or \"drop_oldest\"", *policy));
  }
}

void read_http(TableReader& reader, Config& config) {
  auto listen = reader.string("listen", true);
  if (!listen) return;
  const std::size_t colon = listen->rfind(':');
  HttpConfig http;
  unsigned port = 0;
  // No colon: the port is empty (not data() + npos + 1, which overflows; found by tests/fuzz).
  const char* port_begin = listen->data() + (colon == std::string::npos ? listen->size() : colon + 1);
  const char* port_end = listen->data() + listen->size();
  const bool ok = colon != std::string::npos && colon != 0 &&
                  std::from_chars(port_begin, port_end, port).ptr == port_end && port_begin != port_end && port <= 65535;
  if (!ok) {
    reader.error("listen", fmt::format("'{}' must be host:port, e.g. \"127.0.0.1:9464\"", *listen));
    return;
  }
  http.host = listen->substr(0, colon);
  if (http.host.size() > 2 && http.host.front() == '[' && http.host.back() == ']') http.host = http.host.substr(1, http.host.size() - 2);
  http.port = static_cast<std::uint16_t>(port);
  config.http = http;
}

void read_log(TableReader& reader, Config& config) {
  if (auto level = reader.string("level"); level && !log::parse_level(*level, config.log.level)) {
    reader.error("level", fmt::format("'{}' must be \"debug\", \"info\", \"warn\" or \"error\"", *level));
  }
  if (auto format = reader.string("format"); format && !log::parse_format(*format, config.log.format)) {
    reader.error("format", fmt::format("'{}' must be \"text\", \"logfmt\" or \"json\"", *format));
  }
}

void read_ingest(TableReader& reader, IngestSection& section, const std::filesystem::path& base) {
  auto name = reader.string("name", true);
  check_id(reader, "name", name);
  section.name = name.value_or("");
  if (auto mqtt = reader.topic_template("mqtt", true)) section.mqtt = std::move(*mqtt);
  if (auto group = reader.string("share_group")) {
    if (group->empty() || group->find_first_of("/+#") != std::string::npos) {
      reader.error("share_group", fmt::format("'{}' must be non-empty and contain no '/', '+' or '#'", *group));
    }
    section.share_group = group;
  }
  if (auto qos = reader.integer("qos", 0, 2)) section.qos = static_cast<int>(*qos);
  if (auto schema = reader.string("schema", true)) {
    section.schema = resolve(base, *schema);
    check_file_exists(reader, "schema", section.schema);
  }
  if (const toml::node* formats = reader.node("formats")) {
    const auto* list = formats->as_array();
    section.formats.clear();
    if (list == nullptr || list->empty()) reader.error("formats", "expected a non-empty array, e.g. [\"flatbuffers\", \"json\"]");
    else {
      for (const toml::node& entry : *list) {
        const auto* text = entry.as_string();
        if (text != nullptr && text->get() == "flatbuffers") section.formats.push_back(PayloadFormat::flatbuffers);
        else if (text != nullptr && text->get() == "json") section.formats.push_back(PayloadFormat::json);
        else reader.error("formats", "each format must be \"flatbuffers\" or \"json\"");
      }
    }
  }
  section.topic = reader.string("topic", true).value_or("");
  section.dead_letter = reader.string("dead_letter").value_or("dlq." + section.name);
  for (auto [key, topic] : {std::pair{"topic", &section.topic}, {"dead_letter", &section.dead_letter}}) {
    if (!topic->empty() && !is_valid_id(*topic)) reader.error(key, fmt::format("'{}' is not a valid Kafka topic name", *topic));
  }
  if (!section.topic.empty() && section.topic == section.dead_letter) reader.error("dead_letter", "must differ from topic");

  std::string problem;
  const std::string key_text = reader.string("key").value_or("{device}");
  if (auto key = StringTemplate::parse(key_text, problem)) {
    for (const std::string& placeholder : key->placeholder_names()) {
      if (!section.mqtt.has_capture(placeholder)) {
        reader.error("key", fmt::format("'{{{}}}' is not captured by mqtt = \"{}\"", placeholder, section.mqtt.text()));
      }
    }
    section.key = std::move(*key);
  } else {
    reader.error("key", problem);
  }

  if (const toml::table* bind = reader.table("bind")) {
    for (const auto& [field, capture] : *bind) {
      const auto* capture_name = capture.as_string();
      const std::string key = reader.key_path("bind." + std::string(field.str()));
      if (reader.positions() != nullptr) reader.positions()->add(key, position_of(capture));
      if (capture_name == nullptr) {
        reader.errors().add(position_of(capture), key, "expected the name of a topic capture");
      } else if (!section.mqtt.has_capture(capture_name->get())) {
        reader.errors().add(
            position_of(capture), key,
            fmt::format("'{}' is not captured by mqtt = \"{}\"", capture_name->get(), section.mqtt.text()));
      } else {
        section.bind.emplace_back(std::string(field.str()), capture_name->get());
      }
    }
  }
  if (auto size = reader.size("max_payload")) {
    if (*size == 0 || *size > 256 * 1024 * 1024) reader.error("max_payload", "must be between 1B and 256MiB (MQTT's limit)");
    section.max_payload = *size;
  }

  // "forever" (the default) or a duration; nullopt is forever.
  auto retention = [&](std::string_view key) -> std::optional<std::chrono::milliseconds> {
    const toml::node* found = reader.node(key);
    const auto* text = found != nullptr ? found->as_string() : nullptr;
    if (found == nullptr || (text != nullptr && text->get() == "forever")) return std::nullopt;
    std::string unparsed;
    auto duration = text != nullptr ? parse_duration(text->get(), unparsed) : std::nullopt;
    if (!duration) {
      reader.error(key, fmt::format("{} is neither \"forever\" nor a duration such as \"720h\"",
                                    text != nullptr ? "'" + text->get() + "'" : "the value"));
    } else if (duration->count() <= 0) {
      reader.error(key, "must be longer than 0ms, or \"forever\"");
    }
    return duration;
  };
  section.retention = retention("retention");
  section.dead_letter_retention = retention("dead_letter_retention");
}

void read_actuator(TableReader& reader, ActuatorSection& section) {
  auto name = reader.string("name", true);
  check_id(reader, "name", name);
  section.name = name.value_or("");
  for (auto [key, topic] : {std::pair{"commands", &section.commands}, {"transactions", &section.transactions}, {"events", &section.events}}) {
    *topic = reader.string(key, true).value_or("");
    if (!topic->empty() && !is_valid_id(*topic)) reader.error(key, fmt::format("'{}' is not a valid Kafka topic name", *topic));
  }
  section.dead_letter = reader.string("dead_letter").value_or("dlq." + section.name);
  if (!is_valid_id(section.dead_letter)) {
    reader.error("dead_letter", fmt::format("'{}' is not a valid Kafka topic name", section.dead_letter));
  }
  std::string problem;
  section.request = *TopicTemplate::parse("devices/{device}/commands", problem);
  section.response = *TopicTemplate::parse("devices/{device}/responses", problem);
  for (auto [key, topic] : {std::pair{"request", &section.request}, {"response", &section.response}}) {
    auto parsed = reader.topic_template(key, false);
    if (!parsed) continue;
    if (parsed->capture_names() != std::vector<std::string>{"device"} || parsed->has_wildcards()) {
      reader.error(key, fmt::format("'{}' must capture {{device}} alone and have no '+' or '#'", parsed->text()));
    }
    *topic = std::move(*parsed);
  }
  if (auto timeout = reader.duration("timeout")) {
    if (timeout->count() == 0) reader.error("timeout", "must be longer than 0ms");
    section.timeout = *timeout;
  }
  if (auto retries = reader.integer("retries", 0, 100)) section.retries = static_cast<int>(*retries);
  if (auto concurrency = reader.integer("max_concurrent_devices", 1, 100000)) section.max_concurrent_devices = static_cast<int>(*concurrency);
  if (auto interval = reader.duration("snapshot_interval")) {
    if (interval->count() == 0) reader.error("snapshot_interval", "must be longer than 0ms");
    section.snapshot_interval = *interval;
  }
}

// Array-of-tables sections ([[ingest]], [[actuator]]): each element is read by `read`.
template <class Section, class Read>
void read_sections(TableReader& root, std::string_view key, std::vector<Section>& out, Read read) {
  const std::vector<std::string_view>* accepted = config_keys_of(key);
  const toml::node* found = root.node(key);
  if (found == nullptr) return;
  const auto* list = found->as_array();
  if (list == nullptr || !list->is_array_of_tables()) {
    root.error(key, fmt::format("expected [[{}]] sections", key));
    return;
  }
  for (const toml::node& element : *list) {
    TableReader reader = root.nested(*element.as_table(), fmt::format("{}[{}]", key, out.size()), accepted);
    read(reader, out.emplace_back());
  }
}

void check_cross_section(const Config& config, const toml::table& root, ConfigErrors& errors) {
  auto where = [&](std::string_view kind, std::size_t index) {
    return position_of(*root.get(kind)->as_array()->get(index));
  };
  std::set<std::string, std::less<>> names;
  for (std::size_t i = 0; i < config.ingest.size(); ++i) {
    const IngestSection& a = config.ingest[i];
    if (!a.name.empty() && !names.insert(a.name).second) errors.add(where("ingest", i), fmt::format("ingest[{}].name", i), fmt::format("'{}' is used by another section", a.name));
    for (std::size_t j = 0; j < i; ++j) {
      const IngestSection& b = config.ingest[j];
      if (!a.mqtt.text().empty() && !b.mqtt.text().empty() && a.mqtt.overlaps(b.mqtt)) {
        errors.add(where("ingest", i), fmt::format("ingest[{}].mqtt", i),
                   fmt::format("'{}' overlaps '{}' of section '{}': a message would be ingested twice", a.mqtt.text(), b.mqtt.text(), b.name));
      }
    }
  }
  for (std::size_t i = 0; i < config.actuators.size(); ++i) {
    const ActuatorSection& a = config.actuators[i];
    if (!a.name.empty() && !names.insert(a.name).second) errors.add(where("actuator", i), fmt::format("actuator[{}].name", i), fmt::format("'{}' is used by another section", a.name));
    for (std::size_t j = 0; j < i; ++j) {
      const ActuatorSection& b = config.actuators[j];
      if (a.response.overlaps(b.response)) {
        errors.add(where("actuator", i), fmt::format("actuator[{}].response", i),
                   fmt::format("'{}' overlaps the response topic of section '{}': a response would reach one of them only",
                               a.response.text(), b.name));
      }
    }
    for (const IngestSection& ingest : config.ingest) {
      if (!ingest.mqtt.text().empty() && ingest.mqtt.overlaps(a.response)) {
        errors.add(where("actuator", i), fmt::format("actuator[{}].response", i),
                   fmt::format("'{}' overlaps ingest section '{}' ('{}')", a.response.text(), ingest.name, ingest.mqtt.text()));
      }
    }
  }
  if (config.ingest.empty() && config.actuators.empty()) {
    errors.add(position_of(root), "ingest", "the config needs at least one [[ingest]] or [[actuator]] section");
  }
}

}  // namespace

std::string kafka_key(std::string_view property) { return fmt::format("kafka.\"{}\"", property); }

std::string Config::error_at(std::string_view key_path, std::string_view message) const {
  return format_config_error(file.string(), positions.of(key_path), key_path, message);
}

bool IngestSection::accepts(PayloadFormat format) const {
  return std::find(formats.begin(), formats.end(), format) != formats.end();
}

ConfigResult parse_config(std::string_view text, const std::filesystem::path& file) {
  ConfigResult result;
  const std::string file_name = file.string();
  std::string syntax_error;
  std::optional<toml::table> parsed = parse_toml(text, file_name, syntax_error);
  if (!parsed) {
    result.errors.push_back(std::move(syntax_error));
    return result;
  }
  const toml::table& root = *parsed;

  const std::filesystem::path base = file.has_parent_path() ? file.parent_path() : std::filesystem::path(".");
  ConfigErrors errors(file_name);
  Config config;
  config.file = file;
  config.spool.dir = default_spool_dir();
  {
    TableReader reader(root, "", errors, &config.positions, config_keys_of(""));
    // Required tables: report one missing error each, then read what is there.
    auto required = [&](std::string_view key) -> const toml::table* {
      const toml::table* table = reader.table(key);
      if (table == nullptr && root.get(key) == nullptr)
        errors.add(position_of(root), fmt::format("[{}]", key), "required table is missing");
      return table;
    };
    if (const auto* table = required("gateway")) {
      TableReader gateway = reader.nested(*table, "gateway", config_keys_of("gateway"));
      read_gateway(gateway, config);
    }
    if (const auto* table = required("mqtt")) {
      TableReader mqtt = reader.nested(*table, "mqtt", config_keys_of("mqtt"));
      read_mqtt(mqtt, config, base);
    }
    if (const auto* table = required("kafka")) read_kafka(*table, config, errors, base);
    if (const auto* table = reader.table("spool")) {
      TableReader spool = reader.nested(*table, "spool", config_keys_of("spool"));
      read_spool(spool, config, base);
    }
    if (const auto* table = reader.table("http")) {
      TableReader http = reader.nested(*table, "http", config_keys_of("http"));
      read_http(http, config);
    }
    if (const auto* table = reader.table("log")) {
      TableReader log_table = reader.nested(*table, "log", config_keys_of("log"));
      read_log(log_table, config);
    }
    read_sections(reader, "ingest", config.ingest, [&](TableReader& section_reader, IngestSection& section) {
      read_ingest(section_reader, section, base);
    });
    read_sections(reader, "actuator", config.actuators, read_actuator);
  }
  check_cross_section(config, root, errors);

  if (!errors.empty()) {
    result.errors = errors.sorted();
    return result;
  }
  result.config = std::move(config);
  return result;
}

ConfigResult load_config(const std::filesystem::path& file) {
  std::string error;
  std::optional<std::string> text = read_config_text(file, error);
  if (!text) return ConfigResult{std::nullopt, {std::move(error)}};
  return parse_config(*text, file);
}

}  // namespace archer
