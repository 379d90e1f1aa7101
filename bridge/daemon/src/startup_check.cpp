#include "archer/daemon/startup_check.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <memory>
#include <set>

#include <fmt/format.h>
#include <librdkafka/rdkafkacpp.h>
#include <boost/asio/ip/address.hpp>

#include "archer/core/secrets.h"
#include "archer/ingest/schema.h"
#include "archer/ingest/validator.h"
#include "archer/transport/kafka_log.h"
#include "archer/transport/kafka_producer.h"
#include "archer/transport/kafka_reader.h"
#include "archer/transport/mqtt_tls.h"

namespace archer::daemon {
namespace {

// Places and collects the problems of one config.
class Problems {
 public:
  explicit Problems(const Config& config) : config_(config), errors_(config.file.string()) {}
  void add(const std::string& key, std::string_view message) { errors_.add(config_.positions.of(key), key, message); }
  std::vector<std::string> sorted() const { return errors_.sorted(); }
  std::size_t count() const { return errors_.sorted().size(); }

 private:
  const Config& config_;
  ConfigErrors errors_;
};

// The same loading and Validator the ingest pipeline builds for each section.
void check_ingest(const Config& config, Problems& problems) {
  for (std::size_t i = 0; i < config.ingest.size(); ++i) {
    const IngestSection& section = config.ingest[i];
    const std::string prefix = fmt::format("ingest[{}].", i);
    const ingest::SchemaLoadResult loaded = ingest::Schema::load(section.schema);
    if (!loaded) {
      problems.add(prefix + "schema", loaded.error);
      continue;
    }
    const ingest::ValidatorSettings settings = ingest::ValidatorSettings::from(section);
    const std::vector<ingest::SettingsProblem> unfit = ingest::settings_problems(*loaded.schema, settings);
    for (const ingest::SettingsProblem& problem : unfit) problems.add(prefix + problem.key, problem.message);
    if (!unfit.empty()) continue;
    // What else the Validator builds (the JSON parser) comes from the schema alone.
    std::string error;
    if (!ingest::Validator::create(loaded.schema, settings, error)) problems.add(prefix + "schema", error);
  }
}

// The configuration of one librdkafka client the bridge makes, and a client made from it.
struct KafkaClient {
  std::string what;  // "producer", "consumer"
  transport::KafkaProperties defaults;
  bool consumer = false;
};

// librdkafka checks some properties only together, when a client is made (enable.idempotence with
// acks, SSL files, SASL mechanisms). The probe gets no brokers, so it connects to nothing, and is quiet.
std::string client_problem(const KafkaClient& client, const KafkaConfig& kafka) {
  KafkaConfig probe;
  for (const auto& property : kafka.properties) {
    if (property.first != "bootstrap.servers" && property.first != "metadata.broker.list") {
      probe.properties.push_back(property);
    }
  }
  probe.properties.emplace_back("log_level", "0");
  std::string error;
  std::unique_ptr<RdKafka::Conf> conf = transport::make_kafka_conf(client.defaults, probe, error);
  if (!conf) return error;
  transport::route_librdkafka_log(conf->c_ptr_global());
  if (client.consumer) {
    std::unique_ptr<RdKafka::KafkaConsumer> made(RdKafka::KafkaConsumer::create(conf.get(), error));
    if (made) made->close();
    return made ? std::string() : error;
  }
  std::unique_ptr<RdKafka::Producer> made(RdKafka::Producer::create(conf.get(), error));
  return made ? std::string() : error;
}

void check_kafka(const Config& config, Problems& problems) {
  std::vector<KafkaClient> clients;
  // The ingest service's producer; each actuator gateway's producer and readers (command log under
  // its group, transaction, event and snapshot logs).
  if (!config.ingest.empty()) clients.push_back({"producer", transport::producer_defaults("ingest"), false});
  if (!config.actuators.empty()) {
    clients.push_back({"producer", transport::producer_defaults("actuators"), false});
    clients.push_back({"consumer", transport::reader_defaults(fmt::format("archer.{}", config.gateway.id)), true});
  }
  std::set<std::string> reported;  // the clients share [kafka]: one problem per property
  bool refused_any = false;
  for (const KafkaClient& client : clients) {
    std::vector<transport::RefusedProperty> refused;
    if (transport::make_kafka_conf(client.defaults, config.kafka, refused)) continue;
    refused_any = true;
    for (const transport::RefusedProperty& property : refused) {
      if (!reported.insert(property.name).second) continue;
      if (property.from_config) {
        problems.add(kafka_key(property.name), fmt::format("refused by librdkafka: {}", property.reason));
      } else {
        problems.add("kafka", fmt::format("librdkafka refuses the default {} = '{}': {}", property.name, property.value,
                                          property.reason));
      }
    }
  }
  if (refused_any) return;
  std::set<std::string> kinds_made;
  for (const KafkaClient& client : clients) {
    if (!kinds_made.insert(client.what).second) continue;
    if (std::string problem = client_problem(client, config.kafka); !problem.empty()) {
      // librdkafka's words may quote a value it could not use: never a credential's.
      problems.add("kafka", fmt::format("librdkafka cannot make a {} with these properties: {}", client.what,
                                        without_secrets(std::move(problem), config.kafka.properties)));
    }
  }
}

void check_readable(const std::string& key, const std::filesystem::path& file, Problems& problems) {
  std::ifstream in(file, std::ios::binary);
  if (!in) problems.add(key, fmt::format("'{}' cannot be read: {}", file.string(), std::strerror(errno)));
}

void check_mqtt(const Config& config, Problems& problems) {
  if (!config.mqtt.tls) return;
  const MqttTlsConfig& tls = *config.mqtt.tls;
  bool readable = true;
  for (const auto& [key, file] : {std::pair{"mqtt.tls.ca_file", &tls.ca_file},
                                  {"mqtt.tls.cert_file", &tls.cert_file},
                                  {"mqtt.tls.key_file", &tls.key_file}}) {
    if (file->empty()) continue;
    const std::size_t before = problems.count();
    check_readable(key, *file, problems);
    readable = readable && problems.count() == before;
  }
  // Loaded as a connection loads them: a key that is not the certificate's, or is encrypted, fails
  // here rather than at every connect.
  if (!readable) return;
  for (const transport::TlsFileProblem& problem : transport::tls_file_problems(tls)) {
    problems.add(problem.key.empty() ? "mqtt.tls" : "mqtt.tls." + problem.key, problem.message);
  }
}

// The HTTP endpoint binds with boost::asio::ip::make_address: a host name is not an address.
void check_http(const Config& config, Problems& problems) {
  if (!config.http) return;
  boost::system::error_code ec;
  boost::asio::ip::make_address(config.http->host, ec);
  if (ec) {
    problems.add("http.listen", fmt::format("'{}' is not an IP address ({}): e.g. \"127.0.0.1:9464\" or \"[::1]:9464\"",
                                            config.http->host, ec.message()));
  }
}

}  // namespace

std::vector<std::string> check_startup(const Config& config) {
  Problems problems(config);
  check_mqtt(config, problems);
  check_kafka(config, problems);
  check_http(config, problems);
  check_ingest(config, problems);
  return problems.sorted();
}

}  // namespace archer::daemon
