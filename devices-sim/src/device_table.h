#pragma once
// The fleet's devices: each simulated Device with its lock, its memory of answered interactions, its
// topics and the connection that carries it.
// Threads: built on the caller's thread before any other starts and never resized; a slot's Device,
// answers and last_advance are guarded by its mutex, everything else in the table is read-only.
#include <chrono>
#include <cstddef>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "archer/core/topic_template.h"
#include "archer/devsim/device.h"
#include "archer/devsim/options.h"
#include "archer/protocol/device_side.h"

namespace archer::devsim {

using Clock = std::chrono::steady_clock;

struct DeviceSlot {
  std::mutex mutex;
  std::unique_ptr<Device> device;
  std::unique_ptr<protocol::AnsweredInteractions> answered;
  Clock::time_point last_advance;
  std::size_t connection = 0;
  std::string telemetry_topic, status_topic, command_topic, response_topic;

  // Moves the device's dynamics forward to `now`; the caller holds `mutex`.
  void advance_to(Clock::time_point now);
};

class DeviceTable {
 public:
  // Kinds by the options' weights, ids numbered per kind; each device's seed and clock skew are
  // drawn from `random`, in device order.
  DeviceTable(const Options& options, std::mt19937_64& random);
  DeviceTable(const DeviceTable&) = delete;
  DeviceTable& operator=(const DeviceTable&) = delete;

  std::size_t size() const { return slots_.size(); }
  DeviceSlot& operator[](std::size_t device) { return *slots_[device]; }
  const DeviceSlot& operator[](std::size_t device) const { return *slots_[device]; }
  int count_of(Kind kind) const { return devices_by_kind_[static_cast<int>(kind)]; }

  // One connection per device (options.connections == 0), or the devices dealt round robin over
  // options.connections.
  std::size_t connection_count() const { return devices_on_.size(); }
  const std::vector<std::size_t>& devices_on(std::size_t connection) const { return devices_on_[connection]; }
  // What a connection subscribes to for its devices' commands.
  std::string command_subscription(std::size_t connection) const;
  // The device a command topic names, when it is one of ours.
  std::optional<std::size_t> find_by_command_topic(std::string_view topic) const;

 private:
  bool per_device_connections_;
  std::optional<TopicTemplate> command_template_;
  std::vector<std::unique_ptr<DeviceSlot>> slots_;
  std::vector<std::vector<std::size_t>> devices_on_;
  std::unordered_map<std::string, std::size_t> index_;
  int devices_by_kind_[kKindCount] = {};
};

}  // namespace archer::devsim
