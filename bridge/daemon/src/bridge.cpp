#include "archer/daemon/bridge.h"

#include <csignal>
#include <cstring>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>

#include "archer/actuators/gateway.h"
#include "archer/actuators/presence.h"
#include "archer/actuators/replay.h"
#include "archer/core/callback_guard.h"
#include "archer/core/log.h"
#include "archer/core/metrics.h"
#include "archer/core/readiness.h"
#include "archer/core/version.h"
#include "archer/daemon/http_server.h"
#include "archer/daemon/service_manager.h"
#include "archer/daemon/startup_check.h"
#include "archer/ingest/ingest_service.h"
#include "archer/transport/kafka_producer.h"
#include "archer/transport/mqtt_session.h"

namespace archer::daemon {
namespace {

constexpr int kExitOk = 0;
constexpr int kExitStartFailed = 1;
constexpr auto kStatsInterval = std::chrono::seconds(10);
// How often the start checks whether it is ready yet, to tell systemd once it is.
constexpr auto kReadyPoll = std::chrono::milliseconds(200);
constexpr auto kDrainTimeout = std::chrono::seconds(30);

constexpr auto kActuatorDrain = std::chrono::seconds(10);

// Calls `tick` every `interval` on the loop until the loop stops.
void every(boost::asio::steady_timer& timer, std::chrono::microseconds interval, const std::function<void()>& tick) {
  timer.expires_after(interval);
  timer.async_wait([&timer, interval, &tick](const boost::system::error_code& ec) {
    if (ec) return;
    tick();
    every(timer, interval, tick);
  });
}

// The actuation session's MQTT settings: the gateway's own, under a client id of its own, so that
// device answers never wait behind telemetry (a full spool pauses the telemetry session).
MqttConfig actuation_mqtt(const MqttConfig& mqtt) {
  MqttConfig out = mqtt;
  out.client_id += "-actuators";
  return out;
}

}  // namespace

int run_bridge(const Config& config) {
  log::info("bridge", "gateway {} starting (archer-bridge {}), config {}", config.gateway.id, kVersion,
            config.file.string());
  Metrics metrics;
  attach_callback_failure_counter(
      &metrics.counter("archer_callback_exceptions_total",
                       "Library callbacks (Paho, librdkafka, Asio) that threw; their event was dropped"));
  std::string error;
  auto ingest = ingest::IngestService::create(config, metrics, error);
  if (!ingest) {
    log::error("bridge", "{}", error);
    return kExitStartFailed;
  }

  boost::asio::io_context io;
  // Two MQTT sessions: telemetry, and actuation (device answers and presence), so that pausing
  // telemetry intake (a full spool) never pauses a command's answer.
  transport::MqttSession mqtt(config.mqtt);
  transport::MqttSession actuation(actuation_mqtt(config.mqtt));
  actuators::PresenceTracker presence;
  std::vector<std::unique_ptr<actuators::ActuatorGateway>> gateways;
  for (const ActuatorSection& section : config.actuators) {
    gateways.push_back(std::make_unique<actuators::ActuatorGateway>(config, section, actuation, presence, metrics));
  }
  const bool ingesting = !config.ingest.empty();
  auto readiness = [&] {
    Readiness out;
    if (ingesting && !mqtt.connected() && !mqtt.intake_paused()) {
      out.not_ready("mqtt: the telemetry session is not connected and subscribed");
    }
    if (!gateways.empty() && !actuation.connected()) {
      out.not_ready("mqtt: the actuation session is not connected and subscribed");
    }
    out.add(ingest->ready());
    for (const auto& gateway : gateways) out.add(gateway->ready());
    return out;
  };
  ServiceManager systemd;
  bool told_ready = false;  // READY=1 sent (a reload before it must not send it)
  // systemd's one-line STATUS=.
  auto status_line = [&] {
    const Readiness now = readiness();
    if (!now.ready()) return "not ready: " + now.text();
    return fmt::format("ready: {} ingest and {} actuator sections", config.ingest.size(), config.actuators.size());
  };
  std::unique_ptr<HttpServer> http;
  if (config.http) {
    try {
      http = std::make_unique<HttpServer>(io, *config.http, metrics, readiness, config.gateway.id);
    } catch (const boost::system::system_error& failure) {
      log::error("bridge", "cannot listen on {}:{}: {}", config.http->host, config.http->port, failure.what());
      return kExitStartFailed;
    }
  }

  for (auto& [filter, qos] : ingest->subscriptions()) mqtt.add_subscription(filter, qos);
  ingest->set_intake_control([&mqtt](bool pause) {
    if (pause)
      mqtt.pause_intake();
    else
      mqtt.resume_intake();
  });
  Counter& unrouted = metrics.counter("archer_mqtt_unrouted_total", "MQTT messages no section takes");
  auto unrouted_message = [&unrouted](const mqtt::const_message_ptr& message) {
    unrouted.add();
    log::debug("bridge", "no section takes topic '{}'", message->get_topic());
  };
  mqtt.set_message_handler([&](const mqtt::const_message_ptr& message) {
    if (!ingest->offer(message)) unrouted_message(message);
  });
  if (!gateways.empty()) {
    actuation.add_subscription(presence.filter(), 1);
    for (const auto& gateway : gateways) {
      auto [filter, qos] = gateway->subscription();
      actuation.add_subscription(filter, qos);
    }
    actuation.set_message_handler([&](const mqtt::const_message_ptr& message) {
      if (presence.offer(*message)) return;
      for (const auto& gateway : gateways) {
        if (gateway->offer(message)) return;
      }
      unrouted_message(message);
    });
  }

  for (const auto& gateway : gateways) {
    if (!gateway->start(error)) {
      log::error("bridge", "{}", error);
      return kExitStartFailed;
    }
  }
  ingest->start();
  if (ingesting) mqtt.start();
  if (!gateways.empty()) actuation.start();

  boost::asio::signal_set stop_signals(io, SIGTERM, SIGINT);
  stop_signals.async_wait([&](const boost::system::error_code& ec, int signal) {
    if (ec) return;
    log::info("bridge", "{} received: draining", strsignal(signal));
    systemd.stopping();
    io.stop();
  });
  boost::asio::signal_set reload_signal(io, SIGHUP);
  std::function<void()> wait_reload = [&] {
    reload_signal.async_wait([&](const boost::system::error_code& ec, int) {
      if (ec) return;
      systemd.reloading();
      ConfigResult reloaded = load_config(config.file);
      if (reloaded.config) reloaded.errors = check_startup(*reloaded.config);
      if (!reloaded.errors.empty()) {
        for (const std::string& problem : reloaded.errors) log::error("bridge", "reload: {}", problem);
        log::error("bridge", "reload refused: the running configuration stays");
      } else if (std::string problem; !ingest->reload(*reloaded.config, problem)) {
        log::error("bridge", "reload refused: {}", problem);
      } else {
        log::info("bridge", "reload: {} applied to the ingest sections (actuator settings apply on restart)",
                  config.file.string());
      }
      // Refused or applied, a configuration runs: the reload is over.
      if (told_ready)
        systemd.ready(status_line());
      else
        systemd.status(status_line());
      wait_reload();
    });
  };
  wait_reload();
  const std::function<void()> log_stats = [&] {
    ingest->log_stats();
    for (const auto& gateway : gateways) gateway->log_stats();
  };
  const std::function<void()> tick_stats = [&] {
    log_stats();
    systemd.status(status_line());
  };
  boost::asio::steady_timer stats_timer(io);
  every(stats_timer, kStatsInterval, tick_stats);

  // READY=1 once subscribed and loaded (systemd holds units ordered after this one until then).
  boost::asio::steady_timer ready_timer(io);
  std::function<void()> wait_ready = [&] {
    ready_timer.expires_after(kReadyPoll);
    ready_timer.async_wait([&](const boost::system::error_code& ec) {
      if (ec) return;
      if (!readiness().ready()) return wait_ready();
      told_ready = true;
      systemd.ready(status_line());
    });
  };
  wait_ready();
  // WATCHDOG=1 from this loop: it stops when the loop stops turning, and systemd restarts the unit.
  boost::asio::steady_timer watchdog_timer(io);
  const std::function<void()> pet_watchdog = [&] { systemd.watchdog(); };
  if (const auto interval = systemd.watchdog_interval()) {
    systemd.watchdog();
    every(watchdog_timer, *interval, pet_watchdog);
  }
  run_guarded("main loop", io);

  // Ordered shutdown: telemetry intake stops first, then running exchanges finish while the actuation
  // session is still up, then everything taken is handed to Kafka.
  mqtt.stop(std::chrono::seconds(5));
  for (const auto& gateway : gateways) gateway->stop(kActuatorDrain);
  actuation.stop(std::chrono::seconds(5));
  ingest->stop(kDrainTimeout);
  log_stats();
  log::info("bridge", "drained; stopped");
  return kExitOk;
}

}  // namespace archer::daemon

namespace archer::daemon {

int run_replay(const Config& config, bool from_beginning) {
  int status = kExitOk;
  for (const ActuatorSection& section : config.actuators) {
    actuators::ReplaySummary summary;
    std::string error;
    if (!actuators::replay(config, section, from_beginning, summary, error)) {
      log::error("replay", "{}: {}", section.name, error);
      status = kExitStartFailed;
    }
  }
  if (config.actuators.empty()) log::warn("replay", "the config has no [[actuator]] section: nothing to replay");
  return status;
}

}  // namespace archer::daemon
