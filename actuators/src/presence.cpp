#include "archer/actuators/presence.h"

namespace archer::actuators {

PresenceTracker::PresenceTracker() {
  std::string error;
  topic_ = *TopicTemplate::parse(kTopicTemplate, error);
}

bool PresenceTracker::offer(const mqtt::message& message) {
  std::vector<std::string_view> captures;
  if (!topic_.match(message.get_topic(), captures) || captures.front().empty()) return false;
  const std::string device(captures.front());
  const bool online = message.get_payload_str() == "online";
  std::vector<std::function<void(const std::string&)>> to_tell;
  {
    std::lock_guard lock(mutex_);
    online_[device] = online;
    if (online) to_tell = listeners_;
  }
  for (const auto& listener : to_tell) listener(device);
  return true;
}

bool PresenceTracker::is_offline(const std::string& device) const {
  std::lock_guard lock(mutex_);
  auto it = online_.find(device);
  return it != online_.end() && !it->second;
}

void PresenceTracker::on_online(std::function<void(const std::string&)> listener) {
  std::lock_guard lock(mutex_);
  listeners_.push_back(std::move(listener));
}

}  // namespace archer::actuators
