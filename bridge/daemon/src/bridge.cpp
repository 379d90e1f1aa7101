#include "archer/daemon/bridge.h"

#include <csignal>
#include <cstring>
#include <deque>

#include <fmt/ranges.h>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>

#include "archer/actuators/replay.h"
#include "archer/core/callback_guard.h"
#include "archer/core/log.h"
#include "archer/core/log_config.h"
#include "archer/core/metrics.h"
#include "archer/core/readiness.h"
#include "archer/core/version.h"
#include "archer/daemon/actuator_set.h"
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
constexpr auto kMetricsInterval = std::chrono::seconds(1);
// How often the start checks whether it is ready yet, to tell systemd once it is.
constexpr auto kReadyPoll = std::chrono::milliseconds(200);
constexpr auto kDrainTimeout = std::chrono::seconds(30);

constexpr auto kActuatorDrain = std::chrono::seconds(10);
constexpr auto kSubscribeTimeout = std::chrono::seconds(10);
// A planned stop waits at most this long for the broker to have delivered this gateway's queued share.
constexpr auto kHandOverTimeout = std::chrono::seconds(10);

// The tables a reload does not apply (the running sessions and clients were made from them).
std::vector<std::string> restart_only_changes(const Config& running, const Config& fresh) {
  std::vector<std::string> out;
  if (running.gateway.id != fresh.gateway.id) out.push_back("[gateway]");
  const MqttConfig& a = running.mqtt;
  const MqttConfig& b = fresh.mqtt;
  if (a.uri != b.uri || a.client_id != b.client_id || a.session_expiry != b.session_expiry ||
      a.keepalive != b.keepalive || a.username != b.username || a.password_file != b.password_file ||
      a.password != b.password || a.tls.has_value() != b.tls.has_value()) {
    out.push_back("[mqtt]");
  }
  if (running.kafka.properties != fresh.kafka.properties) out.push_back("[kafka]");
  if (running.spool.dir != fresh.spool.dir || running.spool.max_size != fresh.spool.max_size ||
      running.spool.on_full != fresh.spool.on_full || running.spool.sync != fresh.spool.sync) {
    out.push_back("[spool]");
  }
  const bool http_changed =
      running.http.has_value() != fresh.http.has_value() ||
      (running.http && (running.http->host != fresh.http->host || running.http->port != fresh.http->port));
  if (http_changed) out.push_back("[http]");
  return out;
}

// Calls `tick` every `interval` on the loop until the loop stops.
void every(boost::asio::steady_timer& timer, std::chrono::microseconds interval, const std::function<void()>& tick) {
  timer.expires_after(interval);
  timer.async_wait([&timer, interval, &tick](const boost::system::error_code& ec) {
    if (ec) return;
    tick();
    every(timer, interval, tick);
  });
}

// The reloaded configurations: what runs keeps references into the one it was built from.
class Configs {
 public:
  const Config& keep(Config config) { return kept_.emplace_back(std::move(config)); }

 private:
  std::deque<Config> kept_;
};

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
  Counter& unrouted = metrics.counter("archer_mqtt_unrouted_total", "MQTT messages no section takes");
  auto unrouted_message = [&unrouted](const mqtt::const_message_ptr& message) {
    unrouted.add();
    log::debug("bridge", "no section takes topic '{}'", message->get_topic());
  };
  ActuatorSet actuators(actuation, metrics, unrouted_message);
  Configs configs;
  const Config* running = &config;
  const bool ingesting = !config.ingest.empty();
  auto readiness = [&] {
    Readiness out;
    if (ingesting && !mqtt.connected() && !mqtt.intake_paused()) {
      out.not_ready("mqtt: the telemetry session is not connected and subscribed");
    }
    out.add(ingest->ready());
    out.add(actuators.ready());
    return out;
  };
  // The main loop answers this, so it turns; the other loops say whether they do.
  auto health = [&] {
    Readiness out = ingest->health();
    out.add(actuators.health());
    return out;
  };
  ServiceManager systemd;
  bool told_ready = false;  // READY=1 sent (a reload before it must not send it)
  // systemd's one-line STATUS=.
  auto status_line = [&] {
    const Readiness now = readiness();
    if (!now.ready()) return "not ready: " + now.text();
    return fmt::format("ready: {} ingest and {} actuator sections", running->ingest.size(), running->actuators.size());
  };
  std::unique_ptr<HttpServer> http;
  if (config.http) {
    try {
      http = std::make_unique<HttpServer>(io, *config.http, metrics, readiness, health, config.gateway.id);
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
  mqtt.set_message_handler([&](const mqtt::const_message_ptr& message) {
    if (!ingest->offer(message)) unrouted_message(message);
  });

  if (!actuators.start(config, error)) {
    log::error("bridge", "{}", error);
    return kExitStartFailed;
  }
  ingest->start();
  if (ingesting) mqtt.start();

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
      ingest::IngestService::SubscriptionChanges changes;
      std::string problem;
      if (!reloaded.errors.empty()) {
        for (const std::string& line : reloaded.errors) log::error("bridge", "reload: {}", line);
        log::error("bridge", "reload refused: the running configuration stays");
      } else if (const Config& fresh = configs.keep(std::move(*reloaded.config));
                 !ingest->reload(fresh, changes, problem)) {
        log::error("bridge", "reload refused: {}; the running configuration stays", problem);
      } else {
        apply_log_config(fresh.log);
        for (const std::string& unchanged : restart_only_changes(*running, fresh)) {
          log::warn("bridge", "reload: {} changed: it applies at the next restart", unchanged);
        }
        for (const auto& [filter, qos] : changes.added) mqtt.subscribe(filter, qos, kSubscribeTimeout);
        for (const std::string& filter : changes.removed) mqtt.unsubscribe(filter, kSubscribeTimeout);
        const std::vector<std::string> actuated = actuators.apply(fresh, kActuatorDrain);
        running = &fresh;
        log::info("bridge", "reload: {} applied: {} ingest section(s){}{}", config.file.string(), fresh.ingest.size(),
                  actuated.empty() ? "" : "; actuators: ", fmt::join(actuated, ", "));
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
    actuators.log_stats();
  };
  const std::function<void()> tick_stats = [&] {
    log_stats();
    systemd.status(status_line());
  };
  boost::asio::steady_timer stats_timer(io);
  every(stats_timer, kStatsInterval, tick_stats);
  // The gauges that are read rather than counted.
  auto session_gauge = [&](const char* session) -> Gauge& {
    return metrics.gauge("archer_mqtt_connected", "1 while the MQTT session is connected and subscribed",
                         {{"session", session}});
  };
  Gauge& telemetry_connected = session_gauge("telemetry");
  Gauge& actuation_connected = session_gauge("actuation");
  const std::function<void()> refresh_metrics = [&] {
    ingest->refresh_metrics();
    telemetry_connected.set(ingesting && mqtt.connected() ? 1 : 0);
    actuation_connected.set(!actuators.empty() && actuation.connected() ? 1 : 0);
  };
  refresh_metrics();
  boost::asio::steady_timer metrics_timer(io);
  every(metrics_timer, kMetricsInterval, refresh_metrics);

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
  // Only while every loop turns: a stuck actuator or drainer loop gets the unit restarted.
  const std::function<void()> pet_watchdog = [&] {
    if (const Readiness healthy = health(); healthy.ready()) {
      systemd.watchdog();
    } else {
      log::error("bridge", "not petting the watchdog: {}", healthy.text());
    }
  };
  if (const auto interval = systemd.watchdog_interval()) {
    systemd.watchdog();
    every(watchdog_timer, *interval, pet_watchdog);
  }
  run_guarded("main loop", io);

  // Ordered shutdown: telemetry intake stops first (its share of shared subscriptions handed to the
  // group's other members, so the broker queues none of it for this gateway), then running exchanges
  // finish while the actuation session is still up, then everything taken is handed to Kafka.
  if (ingesting) mqtt.hand_over_shares(kHandOverTimeout);
  mqtt.stop(std::chrono::seconds(5));
  actuators.stop(kActuatorDrain);
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
