#include "archer/core/config.h"

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>

#include <fmt/format.h>
#include <toml++/toml.h>

#include "archer/core/units.h"

namespace archer {
namespace {

// Collects errors with their place in the file. Every check reports and carries on, so one run of
// --check-config shows every problem.
class Errors {
 public:
  explicit Errors(std::string file) : file_(std::move(file)) {}

  void add(const toml::source_region& where, std::string_view key, std::string_view message) {
    entries_.push_back({where.begin.line, where.begin.column,
                        fmt::format("{}:{}:{}: {}: {}", file_, where.begin.line, where.begin.column, key, message)});
  }
  std::vector<std::string> sorted() {
    std::stable_sort(entries_.begin(), entries_.end(),
                     [](const Entry& a, const Entry& b) { return std::tie(a.line, a.column) < std::tie(b.line, b.column); });
    std::vector<std::string> out;
    for (Entry& entry : entries_) out.push_back(std::move(entry.text));
    return out;
  }
  bool empty() const { return entries_.empty(); }

 private:
  struct Entry {
    toml::source_index line;
    toml::source_index column;
    std::string text;
  };
  std::string file_;
  std::vector<Entry> entries_;
};

// Reads one TOML table: typed getters that report wrong types, and, at the end, every key that no
// getter asked for ("unknown key"), so a typo never passes silently.
class TableReader {
 public:
  TableReader(const toml::table& table, std::string path, Errors& errors)
      : table_(table), path_(std::move(path)), errors_(errors) {}
  TableReader(const TableReader&) = delete;
  TableReader& operator=(const TableReader&) = delete;
  ~TableReader() { report_unknown_keys(); }

  std::string key_path(std::string_view key) const { return path_.empty() ? std::string(key) : path_ + "." + std::string(key); }
  const toml::source_region& where() const { return table_.source(); }
  const toml::node* node(std::string_view key) {
    known_.insert(std::string(key));
    return table_.get(key);
  }
  void error(std::string_view key, std::string_view message) {
    const toml::node* found = table_.get(key);
    errors_.add(found != nullptr ? found->source() : table_.source(), key_path(key), message);
  }
  void missing(std::string_view key) { errors_.add(table_.source(), key_path(key), "required key is missing"); }

  std::optional<std::string> string(std::string_view key, bool required = false) {
    const toml::node* found = node(key);
    if (found == nullptr) {
      if (required) missing(key);
      return std::nullopt;
    }
    if (const auto* value = found->as_string()) return value->get();
    error(key, fmt::format("expected a string, found {}", toml::impl::node_type_friendly_names[static_cast<int>(found->type())]));
    return std::nullopt;
  }

  std::optional<std::int64_t> integer(std::string_view key, std::int64_t min, std::int64_t max) {
    const toml::node* found = node(key);
    if (found == nullptr) return std::nullopt;
    const auto* value = found->as_integer();
    if (value == nullptr) {
      error(key, "expected an integer");
      return std::nullopt;
    }
    if (value->get() < min || value->get() > max) {
      error(key, fmt::format("{} is out of range [{}, {}]", value->get(), min, max));
      return std::nullopt;
    }
    return value->get();
  }

  std::optional<std::chrono::milliseconds> duration(std::string_view key) {
    const toml::node* found = node(key);
    if (found == nullptr) return std::nullopt;
    const auto* value = found->as_string();
    if (value == nullptr) {
      error(key, "expected a duration string with a unit, e.g. \"5s\"");
      return std::nullopt;
    }
    std::string problem;
    auto parsed = parse_duration(value->get(), problem);
    if (!parsed) error(key, problem);
    return parsed;
  }

  std::optional<std::uint64_t> size(std::string_view key) {
    const toml::node* found = node(key);
    if (found == nullptr) return std::nullopt;
    if (const auto* bytes = found->as_integer()) {
      if (bytes->get() >= 0) return static_cast<std::uint64_t>(bytes->get());
      error(key, "a size must not be negative");
      return std::nullopt;
    }
    const auto* value = found->as_string();
    if (value == nullptr) {
      error(key, "expected a size, e.g. \"256KiB\"");
      return std::nullopt;
    }
    std::string problem;
    auto parsed = parse_size(value->get(), problem);
    if (!parsed) error(key, problem);
    return parsed;
  }

  std::optional<TopicTemplate> topic_template(std::string_view key, bool required) {
    auto text = string(key, required);
    if (!text) return std::nullopt;
    std::string problem;
    auto parsed = TopicTemplate::parse(*text, problem);
    if (!parsed) error(key, problem);
    return parsed;
  }

  // A sub-table; reports a wrong type. Null when absent.
  const toml::table* table(std::string_view key) {
    const toml::node* found = node(key);
    if (found == nullptr) return nullptr;
    if (const auto* value = found->as_table()) return value;
    error(key, "expected a table");
    return nullptr;
  }

  Errors& errors() { return errors_; }

 private:
  void report_unknown_keys() {
    for (const auto& [key, value] : table_) {
      if (known_.count(std::string(key.str())) == 0) errors_.add(key.source(), key_path(key.str()), "unknown key");
    }
  }

  const toml::table& table_;
  std::string path_;
  Errors& errors_;
  std::set<std::string, std::less<>> known_;
};

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
    mqtt.password_file = resolve(base, *file);
    check_file_exists(reader, "password_file", *mqtt.password_file);
  }
  if (const toml::table* tls_table = reader.table("tls")) {
    TableReader tls(*tls_table, reader.key_path("tls"), reader.errors());
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
  const bool secure_uri = mqtt.uri.rfind("ssl://", 0) == 0 || mqtt.uri.rfind("mqtts://", 0) == 0 || mqtt.uri.rfind("wss://", 0) == 0;
  if (secure_uri && !mqtt.tls) reader.error("uri", "an ssl:// broker needs an [mqtt.tls] table");
}

// librdkafka validates its own properties when the clients are made; here they only have to be scalars.
void read_kafka(const toml::table& table, Config& config, Errors& errors) {
  // A TOML table is sorted by key; keep the file's order, which is the one an operator reads.
  std::vector<std::pair<const toml::key*, const toml::node*>> in_file_order;
  for (const auto& [key, value] : table) in_file_order.emplace_back(&key, &value);
  std::sort(in_file_order.begin(), in_file_order.end(), [](const auto& a, const auto& b) {
    return std::tie(a.first->source().begin.line, a.first->source().begin.column) <
           std::tie(b.first->source().begin.line, b.first->source().begin.column);
  });
  for (const auto& [key_pointer, value_pointer] : in_file_order) {
    const toml::key& key = *key_pointer;
    const toml::node& value = *value_pointer;
    std::string text;
    if (const auto* s = value.as_string()) text = s->get();
    else if (const auto* i = value.as_integer()) text = std::to_string(i->get());
    else if (const auto* b = value.as_boolean()) text = b->get() ? "true" : "false";
    else if (const auto* f = value.as_floating_point()) text = fmt::format("{}", f->get());
    else {
      errors.add(value.source(), "kafka." + std::string(key.str()), "expected a string, number or boolean (a librdkafka property)");
      continue;
    }
    config.kafka.properties.emplace_back(std::string(key.str()), std::move(text));
  }
  const bool has_bootstrap = std::any_of(config.kafka.properties.begin(), config.kafka.properties.end(), [](const auto& p) {
    return p.first == "bootstrap.servers" || p.first == "metadata.broker.list";
  });
  if (!has_bootstrap) errors.add(table.source(), "kafka.bootstrap.servers", "required key is missing");
}

void read_spool(TableReader& reader, Config& config, const std::filesystem::path& base) {
  if (auto dir = reader.string("dir")) config.spool.dir = resolve(base, *dir);
  if (auto size = reader.size("max_size")) {
    if (*size < 1024 * 1024) reader.error("max_size", "must be at least 1MiB");
    config.spool.max_size = *size;
  }
  if (auto sync = reader.duration("sync")) config.spool.sync = *sync;
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
  const char* port_begin = listen->data() + colon + 1;
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
      if (capture_name == nullptr) {
        reader.errors().add(capture.source(), reader.key_path("bind." + std::string(field.str())), "expected the name of a topic capture");
      } else if (!section.mqtt.has_capture(capture_name->get())) {
        reader.errors().add(capture.source(), reader.key_path("bind." + std::string(field.str())),
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
  const toml::node* found = root.node(key);
  if (found == nullptr) return;
  const auto* list = found->as_array();
  if (list == nullptr || !list->is_array_of_tables()) {
    root.error(key, fmt::format("expected [[{}]] sections", key));
    return;
  }
  for (const toml::node& element : *list) {
    TableReader reader(*element.as_table(), fmt::format("{}[{}]", key, out.size()), root.errors());
    read(reader, out.emplace_back());
  }
}

void check_cross_section(const Config& config, const toml::table& root, Errors& errors) {
  auto where = [&](std::string_view kind, std::size_t index) -> const toml::source_region& {
    return root.get(kind)->as_array()->get(index)->source();
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
    errors.add(root.source(), "ingest", "the config needs at least one [[ingest]] or [[actuator]] section");
  }
}

}  // namespace

bool IngestSection::accepts(PayloadFormat format) const {
  return std::find(formats.begin(), formats.end(), format) != formats.end();
}

ConfigResult parse_config(std::string_view text, const std::filesystem::path& file) {
  ConfigResult result;
  const std::string file_name = file.string();
  toml::table root;
  try {
    root = toml::parse(text, file_name);
  } catch (const toml::parse_error& error) {
    result.errors.push_back(fmt::format("{}:{}:{}: {}", file_name, error.source().begin.line, error.source().begin.column, error.description()));
    return result;
  }

  const std::filesystem::path base = file.has_parent_path() ? file.parent_path() : std::filesystem::path(".");
  Errors errors(file_name);
  Config config;
  config.file = file;
  config.spool.dir = default_spool_dir();
  {
    TableReader reader(root, "", errors);
    // Required tables: report one missing error each, then read what is there.
    auto required = [&](std::string_view key) -> const toml::table* {
      const toml::table* table = reader.table(key);
      if (table == nullptr && root.get(key) == nullptr) errors.add(root.source(), fmt::format("[{}]", key), "required table is missing");
      return table;
    };
    if (const auto* table = required("gateway")) {
      TableReader gateway(*table, "gateway", errors);
      read_gateway(gateway, config);
    }
    if (const auto* table = required("mqtt")) {
      TableReader mqtt(*table, "mqtt", errors);
      read_mqtt(mqtt, config, base);
    }
    if (const auto* table = required("kafka")) read_kafka(*table, config, errors);
    if (const auto* table = reader.table("spool")) {
      TableReader spool(*table, "spool", errors);
      read_spool(spool, config, base);
    }
    if (const auto* table = reader.table("http")) {
      TableReader http(*table, "http", errors);
      read_http(http, config);
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
  std::ifstream in(file, std::ios::binary);
  if (!in) return ConfigResult{std::nullopt, {fmt::format("{}: cannot be read", file.string())}};
  std::ostringstream text;
  text << in.rdbuf();
  return parse_config(text.str(), file);
}

}  // namespace archer
