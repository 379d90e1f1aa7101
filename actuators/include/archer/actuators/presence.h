#pragma once
// Device presence from `devices/<id>/status`: a retained "online" on connect, "offline" as the last
// will (plain UTF-8 text). A device that never announced itself counts as online: presence is an
// optimisation for devices that announce it, not a requirement.
// Threading: offer() on Paho's thread; is_offline() from any thread; listeners are called on
// Paho's thread and must only hand the news over.
#include <functional>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include <mqtt/message.h>

#include "archer/core/topic_template.h"

namespace archer::actuators {

class PresenceTracker {
 public:
  PresenceTracker();

  static constexpr const char* kTopicTemplate = "devices/{device}/status";
  std::string filter() const { return topic_.filter(); }

  // True when `message` was a status message (taken).
  bool offer(const mqtt::message& message);
  bool is_offline(const std::string& device) const;
  // Called with the device id whenever a device comes online.
  void on_online(std::function<void(const std::string&)> listener);

 private:
  TopicTemplate topic_;
  mutable std::mutex mutex_;
  std::unordered_map<std::string, bool> online_;
  std::vector<std::function<void(const std::string&)>> listeners_;
};

}  // namespace archer::actuators
