#include "device_table.h"

#include <algorithm>

#include "archer/devsim/faults.h"

namespace archer::devsim {
namespace {

std::string render(const std::string& pattern, const std::string& device) {
  std::string out = pattern;
  for (auto at = out.find("{device}"); at != std::string::npos; at = out.find("{device}", at + device.size())) {
    out.replace(at, 8, device);
  }
  return out;
}

}  // namespace

void DeviceSlot::advance_to(Clock::time_point now) {
  device->advance(std::chrono::duration<double>(now - last_advance).count());
  last_advance = now;
}

DeviceTable::DeviceTable(const Options& options, std::mt19937_64& random)
    : per_device_connections_(options.connections == 0) {
  std::string error;
  command_template_ = TopicTemplate::parse(options.command_topic, error);

  std::vector<double> weights;
  double total = 0;
  for (const auto& [kind, weight] : options.kinds) total += weight;
  for (const auto& [kind, weight] : options.kinds) weights.push_back(weight / total);
  weights.pop_back();  // the last kind takes the remainder
  std::vector<Kind> kinds;
  {
    RatioPicker picker(weights);
    for (int i = 0; i < options.devices; ++i) {
      const std::size_t choice = std::min(picker.pick(), options.kinds.size() - 1);
      kinds.push_back(options.kinds[choice].first);
      ++devices_by_kind_[static_cast<int>(kinds.back())];
    }
  }
  int numbered[kKindCount] = {};
  std::uniform_int_distribution<std::int64_t> skew(-options.clock_skew.count(), options.clock_skew.count());
  for (Kind kind : kinds) {
    auto slot = std::make_unique<DeviceSlot>();
    const int k = static_cast<int>(kind);
    std::string id = device_id(kind, ++numbered[k], devices_by_kind_[k]);
    slot->device = std::make_unique<Device>(id, kind, random(), skew(random), options.valve_speed);
    slot->answered = std::make_unique<protocol::AnsweredInteractions>(options.remember);
    slot->telemetry_topic = render(options.telemetry_topic, id);
    slot->status_topic = render(options.status_topic, id);
    slot->command_topic = render(options.command_topic, id);
    slot->response_topic = render(options.response_topic, id);
    index_.emplace(id, slots_.size());
    slots_.push_back(std::move(slot));
  }

  const std::size_t count = per_device_connections_ ? slots_.size() : static_cast<std::size_t>(options.connections);
  devices_on_.resize(count);
  for (std::size_t d = 0; d < slots_.size(); ++d) {
    const std::size_t c = per_device_connections_ ? d : d % count;
    slots_[d]->connection = c;
    devices_on_[c].push_back(d);
  }
}

std::string DeviceTable::command_subscription(std::size_t connection) const {
  if (per_device_connections_) return slots_[devices_on_[connection].front()]->command_topic;
  return command_template_->filter();
}

std::optional<std::size_t> DeviceTable::find_by_command_topic(std::string_view topic) const {
  std::vector<std::string_view> captures;
  if (!command_template_->match(topic, captures)) return std::nullopt;
  std::string_view device;
  for (std::size_t i = 0; i < captures.size(); ++i) {
    if (command_template_->capture_names()[i] == "device") device = captures[i];
  }
  auto it = index_.find(std::string(device));
  if (it == index_.end()) return std::nullopt;
  return it->second;
}

}  // namespace archer::devsim
