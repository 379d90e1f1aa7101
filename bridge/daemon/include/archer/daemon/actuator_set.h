#pragma once
// The running [[actuator]] sections, one ActuatorGateway each, on the actuation MQTT session; a
// reload adds, removes and restarts them while the session runs.
//
// A changed or removed section's gateway stops as at shutdown: it takes no new command, lets running
// exchanges finish for the drain period and leaves the rest open in its transaction log, commits what
// is done and writes a snapshot. The new gateway of a changed section then loads that log like any
// start and resumes the open exchanges with their interaction ids (devices answer a repeated id
// without acting again), so a reload neither loses nor repeats a command.
//
// Threading: Paho's callback thread routes messages and session events through the current set
// (an atomic snapshot); start, apply and stop run on the main loop.
#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <mqtt/message.h>

#include "archer/actuators/gateway.h"
#include "archer/actuators/presence.h"
#include "archer/core/config.h"
#include "archer/core/metrics.h"
#include "archer/core/readiness.h"
#include "archer/transport/mqtt_session.h"

namespace archer::daemon {

class ActuatorSet {
 public:
  using Unrouted = std::function<void(const mqtt::const_message_ptr&)>;
  // Sets the session's message handler and ready listener: before anything starts the session.
  ActuatorSet(transport::MqttSession& session, Metrics& metrics, Unrouted unrouted);
  ~ActuatorSet();

  // Builds and starts a gateway per section of `config` (which must outlive them), then the session.
  bool start(const Config& config, std::string& error);
  // SIGHUP: brings the running sections to those of `fresh` (which must outlive them). Returns what
  // it did, one phrase per section, e.g. "valves restarted (changed)".
  std::vector<std::string> apply(const Config& fresh, std::chrono::milliseconds drain);
  void stop(std::chrono::milliseconds drain);

  bool empty() const { return current()->empty(); }
  Readiness ready() const;
  Readiness health() const;
  void log_stats() const;

 private:
  using Gateways = std::vector<std::shared_ptr<actuators::ActuatorGateway>>;
  std::shared_ptr<const Gateways> current() const { return gateways_.load(); }
  std::shared_ptr<actuators::ActuatorGateway> launch(const Config& config, const ActuatorSection& section,
                                                     std::string& error);
  void start_session();

  transport::MqttSession& session_;
  Metrics& metrics_;
  actuators::PresenceTracker presence_;
  std::atomic<std::shared_ptr<const Gateways>> gateways_{std::make_shared<const Gateways>()};
  bool session_started_ = false;
};

}  // namespace archer::daemon
