#pragma once
// Devices for actuator tests, on the shared device side of the protocol (archer/protocol/device_side.h):
// one MQTT 5 client answers DeviceCommands for any device on devices/+/commands, to the request's
// ResponseTopic with its CorrelationData. A repeated interaction id gets the first answer again,
// without acting twice.
// Each device can be told to reject, stay silent, answer late or answer twice.
#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <mqtt/async_client.h>

#include "archer/protocol/device_side.h"

namespace archer::testing {

class TestDevices {
 public:
  enum class Mode { ok, reject, silent, late, twice };

  struct Action {
    std::string interaction_id;
    std::string action;
    std::map<std::string, std::string> args;
  };

  explicit TestDevices(const std::string& uri, std::chrono::milliseconds late_by = std::chrono::milliseconds(1500));
  ~TestDevices();

  void set_mode(const std::string& device, Mode mode);
  // Presence: a retained status message, as a real device's connect (online) or will (offline).
  void announce(const std::string& device, bool online);

  // What each device actually did, in order (repeats of an interaction id are not actions).
  std::vector<Action> actions(const std::string& device);
  std::size_t requests_received();  // every DeviceCommand message, repeats included

 private:
  struct Pending {
    std::chrono::steady_clock::time_point when;
    mqtt::message_ptr message;
  };
  void on_request(const mqtt::const_message_ptr& request);
  void run_late_answers();

  std::unique_ptr<mqtt::async_client> client_;
  std::chrono::milliseconds late_by_;
  std::mutex mutex_;
  std::condition_variable pending_changed_;
  std::map<std::string, Mode> modes_;
  std::map<std::string, std::vector<Action>> actions_;
  protocol::AnsweredInteractions answered_{100'000};
  std::vector<Pending> pending_;
  std::size_t requests_ = 0;
  bool stopping_ = false;
  std::thread late_thread_;
};

}  // namespace archer::testing
