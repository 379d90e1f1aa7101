#include "archer/devsim/commands.h"

#include <charconv>
#include <cmath>
#include <optional>
#include <string>

#include <fmt/format.h>

namespace archer::devsim {
namespace {

using protocol::DeviceResponse;
using protocol::ResponseStatus;

std::optional<std::string_view> arg(const protocol::DeviceCommand& command, std::string_view name) {
  for (const auto& [given, value] : command.args) {
    if (given == name) return std::string_view(value);
  }
  return std::nullopt;
}

struct Outcome {
  ResponseStatus status;
  std::string detail;
};

// Reads a percent argument: a number from 0 to 100.
std::optional<double> percent(std::string_view text) {
  double value = 0;
  const auto* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (ec != std::errc() || ptr != end || text.empty() || !std::isfinite(value) || value < 0 || value > 100) {
    return std::nullopt;
  }
  return value;
}

// Checks a command without acting; the action when it is acceptable.
Outcome check_and_act(Device& device, const protocol::DeviceCommand& command, bool act) {
  const std::string_view action = command.action;
  if (action == "ping") return {ResponseStatus::OK, "pong"};
  if (device.kind() == Kind::valve) {
    if (action == "open" || action == "close" || action == "set") {
      double target = action == "close" ? 0 : 100;
      if (action != "close") {
        auto given = arg(command, "percent");
        if (!given && action == "set") return {ResponseStatus::REJECTED, "set needs the argument percent"};
        if (given) {
          auto value = percent(*given);
          if (!value) {
            return {ResponseStatus::REJECTED, fmt::format("percent must be a number from 0 to 100, not '{}'", *given)};
          }
          target = *value;
        }
      }
      if (act) device.set_target(target);
      return {ResponseStatus::OK, fmt::format("target {}%", target)};
    }
  }
  if (device.kind() == Kind::meter && action == "reset") {
    if (act) device.reset_energy();
    return {ResponseStatus::OK, "energy reset"};
  }
  return {ResponseStatus::REJECTED, fmt::format("unknown action '{}' for a {}", action, kind_name(device.kind()))};
}

}  // namespace

CommandProcessor::CommandProcessor(const Options& options, std::uint64_t seed)
    : options_(options),
      random_(seed),
      outcome_({options.reject_ratio, options.no_answer_ratio}),
      late_({options.late_ratio}),
      twice_({options.twice_ratio}) {}

std::chrono::milliseconds CommandProcessor::latency() {
  if (options_.latency_max <= options_.latency_min) return options_.latency_min;
  std::uniform_int_distribution<long long> pick(options_.latency_min.count(), options_.latency_max.count());
  return std::chrono::milliseconds(pick(random_));
}

Decision CommandProcessor::handle(Device& device, protocol::AnsweredInteractions& answered,
                                  const mqtt::message& request, std::string_view own_response_topic) {
  const bool mqtt5 = options_.mqtt_version == 5;
  Decision d;
  d.delay = latency();
  std::string why;
  protocol::DeviceRequest unreadable;
  const auto read = protocol::read_request(request, own_response_topic, why, &unreadable);
  if (!read) {
    // Answered ERROR under the request's CorrelationData, the only id it has.
    d.valid = false;
    d.interaction_id = protocol::InteractionId(unreadable.correlation);
    d.response = protocol::encode(DeviceResponse{
        d.interaction_id, ResponseStatus::ERROR, fmt::format("not a DeviceCommand (ADCM) buffer: {}", why), {}});
    d.reply = protocol::reply_message(unreadable, d.response, mqtt5);
    return d;
  }
  const protocol::DeviceCommand& command = read->command;
  d.interaction_id = command.interaction_id;
  if (const protocol::Bytes* before = answered.find(d.interaction_id)) {
    d.duplicate = true;
    d.response = *before;
    const auto earlier = protocol::decode_device_response(*before);
    d.rejected = earlier && earlier->status == ResponseStatus::REJECTED;
    d.reply = protocol::reply_message(*read, d.response, mqtt5);
    return d;
  }
  const std::size_t outcome = outcome_.pick();  // 0 reject, 1 no answer, 2 normal
  Outcome result;
  if (outcome == 0) {
    result = {ResponseStatus::REJECTED, "rejected by the device (simulated refusal)"};
  } else {
    result = check_and_act(device, command, /*act=*/true);
    d.performed = result.status == ResponseStatus::OK;
  }
  d.rejected = result.status == ResponseStatus::REJECTED;
  d.answer = outcome != 1;
  d.response = protocol::encode(DeviceResponse{d.interaction_id, result.status, result.detail, {}});
  answered.remember(d.interaction_id, d.response);
  if (!d.answer) return d;
  d.reply = protocol::reply_message(*read, d.response, mqtt5);
  if (late_.pick() == 0) {
    d.late = true;
    d.delay += options_.late_delay;
  }
  if (twice_.pick() == 0) d.copies = 2;
  return d;
}

}  // namespace archer::devsim
