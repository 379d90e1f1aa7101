#include "archer/devsim/commands.h"

#include <charconv>
#include <cmath>

#include <fmt/format.h>

#include "archer/schemas/command_generated.h"
#include "archer/schemas/device_response_generated.h"

namespace archer::devsim {
namespace {

namespace cmd = archer::command;

std::string response_bytes(std::string_view interaction_id, cmd::ResponseStatus status, std::string_view detail) {
  flatbuffers::FlatBufferBuilder fbb(256);
  auto id = fbb.CreateString(interaction_id.data(), interaction_id.size());
  auto text = fbb.CreateString(detail.data(), detail.size());
  fbb.Finish(cmd::CreateDeviceResponse(fbb, id, status, text), "ADRS");
  return std::string(reinterpret_cast<const char*>(fbb.GetBufferPointer()), fbb.GetSize());
}

std::optional<std::string_view> arg(const cmd::DeviceCommand& command, std::string_view name) {
  if (command.args() == nullptr) return std::nullopt;
  for (const cmd::Arg* a : *command.args()) {
    if (a != nullptr && a->name() != nullptr && a->name()->string_view() == name) {
      return a->value() != nullptr ? a->value()->string_view() : std::string_view();
    }
  }
  return std::nullopt;
}

struct Outcome {
  cmd::ResponseStatus status;
  std::string detail;
};

// Reads a percent argument: a number from 0 to 100.
std::optional<double> percent(std::string_view text) {
  double value = 0;
  const auto* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (ec != std::errc() || ptr != end || text.empty() || !std::isfinite(value) || value < 0 || value > 100) return std::nullopt;
  return value;
}

// Checks a command without acting; the action when it is acceptable.
Outcome check_and_act(Device& device, const cmd::DeviceCommand& command, bool act) {
  const std::string_view action = command.action()->string_view();
  if (action == "ping") return {cmd::ResponseStatus::OK, "pong"};
  if (device.kind() == Kind::valve) {
    if (action == "open" || action == "close" || action == "set") {
      double target = action == "close" ? 0 : 100;
      if (action != "close") {
        auto given = arg(command, "percent");
        if (!given && action == "set") return {cmd::ResponseStatus::REJECTED, "set needs the argument percent"};
        if (given) {
          auto value = percent(*given);
          if (!value) return {cmd::ResponseStatus::REJECTED, fmt::format("percent must be a number from 0 to 100, not '{}'", *given)};
          target = *value;
        }
      }
      if (act) device.set_target(target);
      return {cmd::ResponseStatus::OK, fmt::format("target {}%", target)};
    }
  }
  if (device.kind() == Kind::meter && action == "reset") {
    if (act) device.reset_energy();
    return {cmd::ResponseStatus::OK, "energy reset"};
  }
  return {cmd::ResponseStatus::REJECTED, fmt::format("unknown action '{}' for a {}", action, kind_name(device.kind()))};
}

}  // namespace

const std::string* ResponseCache::find(const std::string& interaction_id) {
  auto it = map_.find(interaction_id);
  if (it == map_.end()) return nullptr;
  order_.splice(order_.begin(), order_, it->second);
  return &it->second->second;
}

void ResponseCache::insert(const std::string& interaction_id, std::string response) {
  if (auto it = map_.find(interaction_id); it != map_.end()) {
    it->second->second = std::move(response);
    order_.splice(order_.begin(), order_, it->second);
    return;
  }
  order_.emplace_front(interaction_id, std::move(response));
  map_.emplace(interaction_id, order_.begin());
  while (map_.size() > capacity_) {
    map_.erase(order_.back().first);
    order_.pop_back();
  }
}

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

Decision CommandProcessor::handle(Device& device, ResponseCache& cache, std::string_view payload, std::string_view correlation) {
  Decision d;
  d.delay = latency();
  flatbuffers::Verifier verifier(reinterpret_cast<const std::uint8_t*>(payload.data()), payload.size());
  if (payload.size() < 8 || !flatbuffers::BufferHasIdentifier(payload.data(), "ADCM") ||
      !verifier.VerifyBuffer<cmd::DeviceCommand>("ADCM")) {
    d.valid = false;
    d.interaction_id = std::string(correlation);
    d.response = response_bytes(d.interaction_id, cmd::ResponseStatus::ERROR, "not a DeviceCommand (ADCM) buffer");
    return d;
  }
  const auto* command = flatbuffers::GetRoot<cmd::DeviceCommand>(payload.data());
  d.interaction_id = command->interaction_id()->str();
  if (const std::string* before = cache.find(d.interaction_id)) {
    d.duplicate = true;
    d.response = *before;
    auto root = flatbuffers::GetRoot<cmd::DeviceResponse>(before->data());
    d.rejected = root->status() == cmd::ResponseStatus::REJECTED;
    return d;
  }
  const std::size_t outcome = outcome_.pick();  // 0 reject, 1 no answer, 2 normal
  Outcome result;
  if (outcome == 0) {
    result = {cmd::ResponseStatus::REJECTED, "rejected by the device (simulated refusal)"};
  } else {
    result = check_and_act(device, *command, /*act=*/true);
    d.performed = result.status == cmd::ResponseStatus::OK;
  }
  d.rejected = result.status == cmd::ResponseStatus::REJECTED;
  d.answer = outcome != 1;
  d.response = response_bytes(d.interaction_id, result.status, result.detail);
  cache.insert(d.interaction_id, d.response);
  if (d.answer && late_.pick() == 0) {
    d.late = true;
    d.delay += options_.late_delay;
  }
  if (d.answer && twice_.pick() == 0) d.copies = 2;
  return d;
}

}  // namespace archer::devsim
