// The actuation subcommands:
//   archer-ctl command --config FILE --actuator NAME --device ID --action ACTION [--arg K=V]...
//                      [--deadline DURATION] [--traceparent TP] [--wait DURATION]
//   archer-ctl tx      --config FILE --actuator NAME (--device ID | --command ID)
//   archer-ctl replay  --config FILE [--actuator NAME] [--from-beginning]
#include <chrono>
#include <cstdio>

#include <fmt/format.h>

#include "archer/actuators/replay.h"
#include "archer/protocol/messages.h"
#include "archer/core/clock.h"
#include "archer/core/headers.h"
#include "archer/core/id_check.h"
#include "archer/core/json_text.h"
#include "archer/core/units.h"
#include "archer/core/uuid.h"
#include "archer/transport/kafka_producer.h"
#include "archer/transport/kafka_reader.h"
#include "args.h"
#include "commands.h"

namespace archer::ctl {
namespace {

using protocol::Bytes;

std::span<const std::uint8_t> value_of(const RdKafka::Message& message) {
  return {static_cast<const std::uint8_t*>(message.payload()), message.len()};
}

std::string outcome_json(const protocol::Outcome& outcome) {
  std::string response = "null";
  if (auto decoded = protocol::decode_device_response(outcome.response)) {
    response = fmt::format("{{\"status\":{},\"detail\":{}}}", json_string(protocol::name_of(decoded->status)),
                           json_string(decoded->detail));
  }
  return fmt::format(
      "{{\"command_id\":{},\"interaction_id\":{},\"device\":{},\"status\":{},\"latency_ms\":{},\"detail\":{},"
      "\"response\":{}}}",
      json_string(outcome.command_id.str()), json_string(outcome.interaction_id.str()), json_string(outcome.device.str()),
      json_string(protocol::name_of(outcome.status)), outcome.latency_ms, json_string(outcome.detail), response);
}

// Loads --config and finds --actuator (or the only actuator section when not given).
struct Target {
  Config config;
  const ActuatorSection* section = nullptr;
};

// --config is a required flag of every command here.
std::optional<Target> load_target(const Args& args, bool actuator_required) {
  ConfigResult loaded = load_config(*args.value("--config"));
  if (!loaded.config) {
    for (const std::string& error : loaded.errors) std::fprintf(stderr, "%s\n", error.c_str());
    return std::nullopt;
  }
  Target target{std::move(*loaded.config)};
  const auto name = args.value("--actuator");
  for (const ActuatorSection& section : target.config.actuators) {
    if (!name || section.name == *name) target.section = &section;
    if (!name && target.config.actuators.size() > 1) target.section = nullptr;
  }
  if (target.section == nullptr && (actuator_required || name)) {
    std::fprintf(stderr, "archer-ctl: %s\n",
                 name ? fmt::format("no [[actuator]] section named '{}'", *name).c_str()
                      : "name the [[actuator]] section with --actuator");
    return std::nullopt;
  }
  return target;
}

const CommandSpec kCommand{
    "command",
    "usage: archer-ctl command --config FILE --actuator NAME --device ID --action ACTION [--arg K=V]...\n"
    "                          [--deadline DURATION] [--traceparent TP] [--wait DURATION]\n",
    {{"--config", FlagType::text, true},
     {"--actuator"},
     {"--device", FlagType::text, true},
     {"--action", FlagType::text, true},
     {"--arg", FlagType::pair, false, true},
     {"--deadline", FlagType::duration},
     {"--wait", FlagType::duration},
     {"--traceparent"}},
    {},
    {},
};

const CommandSpec kTx{
    "tx",
    "usage: archer-ctl tx --config FILE [--actuator NAME] (--device ID | --command ID)\n",
    {{"--config", FlagType::text, true}, {"--actuator"}, {"--device"}, {"--command"}},
    {},
    {},
};

const CommandSpec kReplay{
    "replay",
    "usage: archer-ctl replay --config FILE [--actuator NAME] [--from-beginning]\n",
    {{"--config", FlagType::text, true}, {"--actuator"}},
    {"--from-beginning"},
    {},
};

}  // namespace

int command(const std::vector<std::string>& argv) {
  int status = 0;
  const auto args = Args::parse_or_print(argv, kCommand, status);
  if (!args) return status;
  // Refused here rather than written: the gateway would never send it, only answer FAILED.
  if (const std::string why = id_problem(*args->value("--device")); !why.empty()) {
    return usage_error("command", fmt::format("--device: '{}' {}; a device id is [A-Za-z0-9._:-]{{1,128}}",
                                              printable_id(*args->value("--device")), why));
  }
  auto target = load_target(*args, true);
  if (!target) return kExitUsage;
  protocol::Command cmd{protocol::CommandId(new_record_id().to_string()), protocol::DeviceId(*args->value("--device")),
                        *args->value("--action"), {}, unix_ms(), 0};
  cmd.args = args->pairs("--arg");
  if (auto deadline = args->duration("--deadline")) cmd.deadline_ms = cmd.issued_at_ms + deadline->count();
  const std::optional<std::chrono::milliseconds> wait = args->duration("--wait");

  const ActuatorSection& section = *target->section;
  std::string error;
  // Positioned at the event log's end before the command exists, so its outcome cannot be missed.
  std::unique_ptr<transport::KafkaReader> events;
  if (wait) {
    events = transport::KafkaReader::open(target->config.kafka, section.events, "", transport::KafkaReader::Start::end,
                                          error, true);
    if (!events) {
      std::fprintf(stderr, "archer-ctl: %s\n", error.c_str());
      return 1;
    }
  }
  auto producer = transport::KafkaProducer::create(target->config.kafka, error);
  if (!producer) {
    std::fprintf(stderr, "archer-ctl: %s\n", error.c_str());
    return 1;
  }
  headers::RecordHeaders record_headers;
  record_headers.add(headers::kId, cmd.id.str());
  record_headers.add(headers::kTime, std::to_string(cmd.issued_at_ms));
  record_headers.add(headers::kGateway, target->config.gateway.id);
  if (auto trace = args->value("--traceparent")) record_headers.add(headers::kTraceparent, *trace);
  struct Delivery : transport::DeliveryListener {
    void on_delivery(const RdKafka::Message&, RdKafka::ErrorCode result) override { err = result; }
    std::atomic<RdKafka::ErrorCode> err{RdKafka::ERR__IN_PROGRESS};
  } delivery;
  const Bytes value = protocol::encode(cmd);
  std::atomic<bool> never{false};
  RdKafka::ErrorCode err = producer->produce({section.commands, cmd.device.str(), value, &record_headers, &delivery}, never);
  if (err == RdKafka::ERR_NO_ERROR && producer->flush(std::chrono::seconds(30)) == 0) err = delivery.err;
  if (err != RdKafka::ERR_NO_ERROR) {
    std::fprintf(stderr, "archer-ctl: the command was not written to %s: %s\n", section.commands.c_str(),
                 RdKafka::err2str(err).c_str());
    return 1;
  }
  std::printf("%s\n", cmd.id.str().c_str());
  std::fflush(stdout);
  if (!wait) return 0;

  const auto deadline = std::chrono::steady_clock::now() + *wait;
  std::optional<protocol::Outcome> outcome;
  events->read(
      [&](const RdKafka::Message& message) {
        auto decoded = protocol::decode_outcome(value_of(message));
        if (decoded && decoded->command_id == cmd.id) outcome = std::move(decoded);
      },
      true, [&] { return outcome.has_value() || std::chrono::steady_clock::now() >= deadline; });
  if (!outcome) {
    std::fprintf(stderr, "archer-ctl: no outcome for %s within %s\n", cmd.id.str().c_str(), args->value("--wait")->c_str());
    return 3;
  }
  std::printf("%s\n", outcome_json(*outcome).c_str());
  return outcome->status == protocol::OutcomeStatus::SUCCEEDED ? 0 : 1;
}

int tx(const std::vector<std::string>& argv) {
  int status = 0;
  const auto args = Args::parse_or_print(argv, kTx, status);
  if (!args) return status;
  if (!args->value("--device") && !args->value("--command"))
    return usage_error("tx", "--device ID or --command ID is required");
  auto target = load_target(*args, true);
  if (!target) return kExitUsage;
  std::string error;
  auto reader = transport::KafkaReader::open(target->config.kafka, target->section->transactions, "",
                                             transport::KafkaReader::Start::beginning, error, true);
  if (!reader) {
    std::fprintf(stderr, "archer-ctl: %s\n", error.c_str());
    return 1;
  }
  const auto device = args->value("--device");
  const auto command_id = args->value("--command");
  std::vector<protocol::Transaction> timeline;
  reader->read(
      [&](const RdKafka::Message& message) {
        auto record = protocol::decode_transaction(value_of(message));
        if (!record || (device && record->device.str() != *device) || (command_id && record->command_id.str() != *command_id)) return;
        timeline.push_back(std::move(*record));
      },
      false, [] { return false; });
  // One device's records share a partition, so log order is their order; across devices, by time.
  std::stable_sort(timeline.begin(), timeline.end(), [](const auto& a, const auto& b) { return a.time_ms < b.time_ms; });
  for (const auto& record : timeline) {
    std::string detail = record.detail;
    if (record.phase == protocol::Phase::RESPONDED) {
      if (auto response = protocol::decode_device_response(record.payload)) {
        detail = fmt::format("{} {}{}", protocol::name_of(response->status), response->detail,
                             record.detail.empty() ? "" : " (" + record.detail + ")");
      }
    } else if (record.phase == protocol::Phase::CLOSED) {
      if (auto outcome = protocol::decode_outcome(record.payload)) {
        detail = fmt::format("outcome {} in {} ms {}", protocol::name_of(outcome->status), outcome->latency_ms, outcome->detail);
      }
    } else if (record.phase == protocol::Phase::OPENED) {
      if (auto opened = protocol::decode_command(record.payload)) {
        detail = opened->action;
        for (const auto& [name, value] : opened->args) detail += fmt::format(" {}={}", name, value);
      }
    }
    std::printf("%s  %-12s %-10s attempt %u  command %s  interaction %s  %s\n", format_utc(record.time_ms).c_str(),
                record.device.str().c_str(), protocol::name_of(record.phase), record.attempt,
                record.command_id.str().c_str(), record.interaction_id.str().c_str(), detail.c_str());
  }
  if (timeline.empty()) std::fprintf(stderr, "archer-ctl: no transaction records match\n");
  return 0;
}

int replay(const std::vector<std::string>& argv) {
  int status = 0;
  const auto args = Args::parse_or_print(argv, kReplay, status);
  if (!args) return status;
  auto target = load_target(*args, false);
  if (!target) return kExitUsage;
  for (const ActuatorSection& section : target->config.actuators) {
    if (target->section != nullptr && &section != target->section) continue;
    actuators::ReplaySummary summary;
    std::string error;
    if (!actuators::replay(target->config, section, args->has("--from-beginning"), summary, error)) {
      std::fprintf(stderr, "archer-ctl: replay %s: %s\n", section.name.c_str(), error.c_str());
      status = 1;
      continue;
    }
    std::printf("replay %s: %llu command(s), %llu answered from %s, %llu not executed, %llu unreadable -> %s.replay\n",
                section.name.c_str(), static_cast<unsigned long long>(summary.commands),
                static_cast<unsigned long long>(summary.from_log), section.transactions.c_str(),
                static_cast<unsigned long long>(summary.not_executed), static_cast<unsigned long long>(summary.unreadable),
                section.events.c_str());
  }
  return status;
}

}  // namespace archer::ctl
