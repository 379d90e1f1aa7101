// archer-ctl tail TOPIC (--config FILE | --bootstrap SERVERS) [--schema FILE.bfbs] [--from-beginning]
//                       [--count N] [--follow]
//
// Prints records as JSON, one per line: topic, partition, offset, key, headers, and the value
// decoded with its schema. The schema comes from --schema, or from the config: the section whose
// raw datalog the topic is, or the built-in command/transaction/event schemas for an actuator's
// topics. Values that do not verify against it (and dead letters) print as text.
#include <csignal>
#include <cstdio>

#include <flatbuffers/idl.h>
#include <fmt/format.h>

#include "archer/core/headers.h"
#include "archer/core/json_text.h"
#include "archer/ingest/validator.h"
#include "archer/transport/kafka_headers.h"
#include "archer/transport/kafka_reader.h"
#include "args.h"
#include "commands.h"

namespace archer::ctl {
namespace {

volatile std::sig_atomic_t g_interrupted = 0;

std::filesystem::path builtin_schema(std::string_view name) {
  return std::filesystem::path(ARCHER_SCHEMA_DIR) / (std::string(name) + ".bfbs");
}

// The schema for `topic` per the config; empty when none applies (dead letters, unknown topics).
std::filesystem::path schema_for(const Config& config, const std::string& topic) {
  for (const IngestSection& section : config.ingest) {
    if (section.topic == topic) return section.schema;
  }
  for (const ActuatorSection& section : config.actuators) {
    if (section.commands == topic) return builtin_schema("command");
    if (section.transactions == topic) return builtin_schema("transaction");
    if (section.events == topic || section.events + ".replay" == topic) return builtin_schema("event");
  }
  return {};
}

// Decodes verified FlatBuffers to compact JSON.
class Decoder {
 public:
  static std::unique_ptr<Decoder> load(const std::filesystem::path& file, std::string& error) {
    auto loaded = ingest::Schema::load(file);
    if (!loaded) {
      error = loaded.error;
      return nullptr;
    }
    ingest::ValidatorSettings settings;
    settings.max_payload = std::uint64_t{1} << 31;
    auto validator = ingest::Validator::create(loaded.schema, settings, error);
    auto parser = validator ? loaded.schema->make_json_parser(error) : nullptr;
    if (!parser) return nullptr;
    parser->opts.strict_json = true;
    parser->opts.indent_step = -1;
    return std::unique_ptr<Decoder>(new Decoder(std::move(*validator), std::move(parser)));
  }

  // JSON of the value, or nullopt when it is not a buffer of this schema.
  std::optional<std::string> decode(std::span<const std::uint8_t> value) {
    auto result = validator_.validate(value, "application/x-flatbuffers", {});
    std::string text;
    if (!result.ok() || !flatbuffers::GenerateText(*parser_, result.bytes().data(), &text)) return std::nullopt;
    return text;
  }

 private:
  Decoder(ingest::Validator validator, std::unique_ptr<flatbuffers::Parser> parser)
      : validator_(std::move(validator)), parser_(std::move(parser)) {}
  ingest::Validator validator_;
  std::unique_ptr<flatbuffers::Parser> parser_;
};

}  // namespace

const CommandSpec kTail{
    "tail",
    "usage: archer-ctl tail TOPIC (--config FILE | --bootstrap SERVERS) [--schema FILE.bfbs]\n"
    "                        [--from-beginning] [--count N] [--follow]\n",
    {{"--config"}, {"--bootstrap"}, {"--schema"}, {"--count", FlagType::count}},
    {"--from-beginning", "--follow"},
    {"TOPIC"},
};

int tail(const std::vector<std::string>& argv) {
  int status = 0;
  const auto args = Args::parse_or_print(argv, kTail, status);
  if (!args) return status;
  if (!args->value("--config") && !args->value("--bootstrap")) {
    return usage_error("tail", "--config FILE or --bootstrap SERVERS is required");
  }
  const std::string topic = args->positional()[0];
  KafkaConfig kafka;
  std::filesystem::path schema_file;
  if (auto file = args->value("--config")) {
    ConfigResult loaded = load_config(*file);
    if (!loaded.config) {
      for (const std::string& error : loaded.errors) std::fprintf(stderr, "%s\n", error.c_str());
      return kExitUsage;
    }
    kafka = loaded.config->kafka;
    schema_file = schema_for(*loaded.config, topic);
  }
  if (auto bootstrap = args->value("--bootstrap")) kafka.properties.emplace_back("bootstrap.servers", *bootstrap);
  if (auto file = args->value("--schema")) schema_file = *file;

  std::string error;
  std::unique_ptr<Decoder> decoder;
  if (!schema_file.empty()) {
    decoder = Decoder::load(schema_file, error);
    if (!decoder) {
      std::fprintf(stderr, "archer-ctl: %s\n", error.c_str());
      return kExitUsage;
    }
  }
  std::uint64_t limit = UINT64_MAX;
  if (auto count = args->count("--count")) limit = *count;
  auto reader = transport::KafkaReader::open(kafka, topic, "",
                                  args->has("--from-beginning") || !args->has("--follow") ? transport::KafkaReader::Start::beginning
                                                                                          : transport::KafkaReader::Start::end,
                                  error);
  if (!reader) {
    std::fprintf(stderr, "archer-ctl: %s\n", error.c_str());
    return 1;
  }
  std::signal(SIGINT, [](int) { g_interrupted = 1; });
  std::signal(SIGTERM, [](int) { g_interrupted = 1; });
  std::uint64_t printed = 0;
  reader->read(
      [&](const RdKafka::Message& message) {
        if (printed >= limit) return;
        const auto found = transport::headers_of(message);
        std::string headers_json;
        for (const auto& [name, value] : found.entries()) {
          headers_json += fmt::format("{}{}:{}", headers_json.empty() ? "" : ",", json_string(name), json_string(value));
        }
        const std::span value(static_cast<const std::uint8_t*>(message.payload()), message.len());
        std::optional<std::string> decoded = decoder ? decoder->decode(value) : std::nullopt;
        const std::string value_json =
            decoded ? *decoded : json_string(std::string_view(reinterpret_cast<const char*>(value.data()), value.size()));
        std::printf("{\"topic\":%s,\"partition\":%d,\"offset\":%lld,\"key\":%s,\"headers\":{%s},\"value\":%s}\n",
                    json_string(message.topic_name()).c_str(), message.partition(),
                    static_cast<long long>(message.offset()),
                    message.key() != nullptr ? json_string(*message.key()).c_str() : "null", headers_json.c_str(),
                    value_json.c_str());
        std::fflush(stdout);
        ++printed;
      },
      args->has("--follow"), [&] { return g_interrupted != 0 || printed >= limit; });
  return 0;
}

}  // namespace archer::ctl
