#include "archer/daemon/actuator_set.h"

#include <algorithm>

#include <fmt/format.h>

#include "archer/core/log.h"

namespace archer::daemon {
namespace {

constexpr auto kSubscribeTimeout = std::chrono::seconds(10);

}  // namespace

ActuatorSet::ActuatorSet(transport::MqttSession& session, Metrics& metrics, Unrouted unrouted)
    : session_(session), metrics_(metrics) {
  presence_.on_online([this](const std::string& device) {
    for (const auto& gateway : *current()) gateway->on_device_online(device);
  });
  session_.set_message_handler([this, unrouted = std::move(unrouted)](const mqtt::const_message_ptr& message) {
    if (presence_.offer(*message)) return;
    for (const auto& gateway : *current()) {
      if (gateway->offer(message)) return;
    }
    unrouted(message);
  });
  session_.add_ready_listener([this] {
    for (const auto& gateway : *current()) gateway->on_session_ready();
  });
}

ActuatorSet::~ActuatorSet() { stop(std::chrono::milliseconds(0)); }

std::shared_ptr<actuators::ActuatorGateway> ActuatorSet::launch(const Config& config, const ActuatorSection& section,
                                                                std::string& error) {
  auto gateway = std::make_shared<actuators::ActuatorGateway>(config, section, session_, presence_, metrics_);
  if (!gateway->start(error)) return nullptr;
  return gateway;
}

void ActuatorSet::start_session() {
  if (session_started_) return;
  session_started_ = true;
  session_.disable_nagle();  // commands and answers: request/response
  session_.start();
}

bool ActuatorSet::start(const Config& config, std::string& error) {
  if (config.actuators.empty()) return true;
  auto gateways = std::make_shared<Gateways>();
  session_.add_subscription(presence_.filter(), 1);
  for (const ActuatorSection& section : config.actuators) {
    auto gateway = launch(config, section, error);
    if (!gateway) return false;
    auto [filter, qos] = gateway->subscription();
    session_.add_subscription(filter, qos);
    gateways->push_back(std::move(gateway));
  }
  gateways_ = std::move(gateways);
  start_session();
  return true;
}

std::vector<std::string> ActuatorSet::apply(const Config& fresh, std::chrono::milliseconds drain) {
  std::vector<std::string> done;
  const std::shared_ptr<const Gateways> before = current();
  auto running_as = [&](const std::string& name) -> std::shared_ptr<actuators::ActuatorGateway> {
    for (const auto& gateway : *before) {
      if (gateway->section().name == name) return gateway;
    }
    return nullptr;
  };
  auto wanted = [&](const std::string& name) {
    return std::any_of(fresh.actuators.begin(), fresh.actuators.end(),
                       [&](const ActuatorSection& s) { return s.name == name; });
  };
  // First the sections that go or change: they hand their open exchanges back to the logs.
  std::vector<std::string> released_filters;
  for (const auto& gateway : *before) {
    const std::string& name = gateway->section().name;
    const bool unchanged = std::any_of(fresh.actuators.begin(), fresh.actuators.end(),
                                       [&](const ActuatorSection& s) { return s == gateway->section(); });
    if (unchanged) continue;
    gateway->stop(drain);
    released_filters.push_back(gateway->subscription().first);
    done.push_back(wanted(name) ? name + " restarted (changed)" : name + " removed");
  }
  auto after = std::make_shared<Gateways>();
  std::vector<std::pair<std::string, int>> new_filters;
  for (const ActuatorSection& section : fresh.actuators) {
    if (auto running = running_as(section.name); running && running->section() == section) {
      after->push_back(running);
      continue;
    }
    std::string error;
    auto gateway = launch(fresh, section, error);
    if (!gateway) {
      log::error("bridge", "reload: actuator {} cannot start: {}", section.name, error);
      done.push_back(section.name + " not started: " + error);
      continue;
    }
    if (!running_as(section.name)) done.push_back(section.name + " added");
    new_filters.push_back(gateway->subscription());
    after->push_back(std::move(gateway));
  }
  // Routes first, then subscriptions: an answer that arrives at once finds its gateway.
  gateways_ = after;
  if (!session_started_ && !after->empty()) {
    session_.add_subscription(presence_.filter(), 1);
    for (const auto& [filter, qos] : new_filters) session_.add_subscription(filter, qos);
    start_session();
  } else {
    for (const auto& [filter, qos] : new_filters) {
      const bool already = std::any_of(before->begin(), before->end(), [&](const auto& g) {
        return g->subscription().first == filter &&
               std::find(released_filters.begin(), released_filters.end(), filter) == released_filters.end();
      });
      if (!already) session_.subscribe(filter, qos, kSubscribeTimeout);
    }
    for (const std::string& filter : released_filters) {
      const bool still_used =
          std::any_of(after->begin(), after->end(), [&](const auto& g) { return g->subscription().first == filter; });
      if (!still_used) session_.unsubscribe(filter, kSubscribeTimeout);
    }
  }
  return done;
}

void ActuatorSet::stop(std::chrono::milliseconds drain) {
  for (const auto& gateway : *current()) gateway->stop(drain);
}

Readiness ActuatorSet::ready() const {
  Readiness out;
  const auto gateways = current();
  if (!gateways->empty() && !session_.connected()) {
    out.not_ready("mqtt: the actuation session is not connected and subscribed");
  }
  for (const auto& gateway : *gateways) out.add(gateway->ready());
  return out;
}

Readiness ActuatorSet::health() const {
  Readiness out;
  for (const auto& gateway : *current()) out.add(gateway->health());
  return out;
}

void ActuatorSet::log_stats() const {
  for (const auto& gateway : *current()) gateway->log_stats();
}

}  // namespace archer::daemon
