// archer-ctl redrive DLQ_TOPIC --config FILE [--section NAME] [--from-beginning]
//
// Sends dead letters through the section's validation again, e.g. after a schema fix: what passes
// now goes to the raw datalog (with the dead letter's archer-id as archer-causation), what still
// fails goes to the dead-letter topic again, with its new reason. Reads from where the last redrive
// of this section stopped (consumer group archer.<gateway>.redrive.<section>) to the topic's
// current end, and commits only once everything it wrote is acknowledged by Kafka.
#include <atomic>
#include <charconv>
#include <cstdio>

#include <fmt/format.h>

#include "archer/core/headers.h"
#include "archer/ingest/section_pipeline.h"
#include "archer/transport/kafka_headers.h"
#include "archer/transport/kafka_reader.h"
#include "args.h"
#include "commands.h"

namespace archer::ctl {
namespace {

constexpr auto kFlushTimeout = std::chrono::seconds(60);

// The MQTT message a dead letter came from, rebuilt from its headers; views into `found`.
std::optional<ingest::Incoming> incoming_from_dead_letter(const RdKafka::Message& message,
                                                          const headers::RecordHeaders& found) {
  ingest::Incoming in;
  in.topic = found.get(headers::kSource);
  if (in.topic.empty()) return std::nullopt;
  in.payload = std::span(static_cast<const std::uint8_t*>(message.payload()), message.len());
  const std::string_view qos = found.get(headers::kMqttQos);
  std::from_chars(qos.data(), qos.data() + qos.size(), in.qos);
  in.retained = found.get(headers::kMqttRetain) == "true";
  in.content_type = found.get(headers::kMqttContentType);
  in.causation = found.get(headers::kId);
  for (const auto& [name, value] : found.entries()) {
    if (name == headers::kTraceparent) in.user_properties.emplace_back(name, value);
    else if (name.rfind(headers::kMqttPrefix, 0) == 0 && name != headers::kMqttContentType) {
      in.user_properties.emplace_back(std::string_view(name).substr(headers::kMqttPrefix.size()), value);
    }
  }
  return in;
}

}  // namespace

const CommandSpec kRedrive{
    "redrive",
    "usage: archer-ctl redrive DLQ_TOPIC --config FILE [--section NAME] [--from-beginning]\n",
    {{"--config", FlagType::text, true}, {"--section"}},
    {"--from-beginning"},
    {"DLQ_TOPIC"},
};

int redrive(const std::vector<std::string>& argv) {
  int status = 0;
  const auto args = Args::parse_or_print(argv, kRedrive, status);
  if (!args) return status;
  const std::string dead_letter_topic = args->positional()[0];
  ConfigResult loaded = load_config(*args->value("--config"));
  if (!loaded.config) {
    for (const std::string& error : loaded.errors) std::fprintf(stderr, "%s\n", error.c_str());
    return kExitUsage;
  }
  const Config& config = *loaded.config;
  const IngestSection* section = nullptr;
  for (const IngestSection& candidate : config.ingest) {
    if (args->value("--section") ? candidate.name == *args->value("--section") : candidate.dead_letter == dead_letter_topic) {
      section = &candidate;
    }
  }
  if (section == nullptr) {
    std::fprintf(stderr, "archer-ctl: no [[ingest]] section %s\n",
                 args->value("--section") ? fmt::format("named '{}'", *args->value("--section")).c_str()
                                          : fmt::format("has dead_letter = \"{}\" (use --section)", dead_letter_topic).c_str());
    return kExitUsage;
  }

  std::string error;
  auto producer = transport::KafkaProducer::create(config.kafka, error);
  Metrics metrics;
  auto pipeline = producer ? ingest::SectionPipeline::create(*section, config.gateway.id, metrics, nullptr, error) : nullptr;
  const std::string group = fmt::format("archer.{}.redrive.{}", config.gateway.id, section->name);
  auto reader = pipeline ? transport::KafkaReader::open(config.kafka, dead_letter_topic, group,
                                             args->has("--from-beginning") ? transport::KafkaReader::Start::beginning
                                                                           : transport::KafkaReader::Start::committed,
                                             error)
                         : nullptr;
  if (!reader) {
    std::fprintf(stderr, "archer-ctl: %s\n", error.c_str());
    return 1;
  }

  std::atomic<bool> never{false};
  std::uint64_t accepted = 0;
  std::uint64_t unusable = 0;
  std::uint64_t rejected_again = 0;
  std::uint64_t not_produced = 0;
  const std::uint64_t read = reader->read(
      [&](const RdKafka::Message& message) {
        const auto found = transport::headers_of(message);
        auto in = incoming_from_dead_letter(message, found);
        if (!in) {
          ++unusable;  // no archer-source: not a dead letter of ours
          return;
        }
        const auto outcome = pipeline->process(*in, *producer, 0, never);
        if (outcome == ingest::SectionPipeline::Outcome::accepted) ++accepted;
        else if (outcome == ingest::SectionPipeline::Outcome::rejected) ++rejected_again;
        else ++not_produced;
      },
      false, [] { return false; });

  const int left = producer->flush(kFlushTimeout);
  const auto failed = pipeline->counters().delivery_failed->value() + not_produced;
  if (left > 0 || failed > 0) {
    std::fprintf(stderr, "archer-ctl: %d record(s) unacknowledged, %llu failed; offsets not committed, run again\n",
                 left, static_cast<unsigned long long>(failed));
    return 1;
  }
  if (!reader->commit(error)) {
    std::fprintf(stderr, "archer-ctl: commit failed (%s): the next redrive sends these again\n", error.c_str());
    return 1;
  }
  std::printf("redrive %s -> section %s: %llu read, %llu accepted into %s, %llu rejected again, %llu not ours\n",
              dead_letter_topic.c_str(), section->name.c_str(), static_cast<unsigned long long>(read),
              static_cast<unsigned long long>(accepted), section->topic.c_str(),
              static_cast<unsigned long long>(rejected_again), static_cast<unsigned long long>(unusable));
  return 0;
}

}  // namespace archer::ctl
