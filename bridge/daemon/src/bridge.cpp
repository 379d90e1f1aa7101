#include "archer/daemon/bridge.h"

#include <csignal>
#include <cstring>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>

#include "archer/actuators/gateway.h"
#include "archer/actuators/presence.h"
#include "archer/actuators/replay.h"
#include "archer/core/log.h"
#include "archer/core/metrics.h"
#include "archer/core/version.h"
#include "archer/daemon/http_server.h"
#include "archer/ingest/ingest_service.h"
#include "archer/transport/kafka_producer.h"
#include "archer/transport/mqtt_session.h"

namespace archer::daemon {
namespace {

constexpr int kExitOk = 0;
constexpr int kExitStartFailed = 1;
constexpr auto kStatsInterval = std::chrono::seconds(10);
constexpr auto kDrainTimeout = std::chrono::seconds(30);

constexpr auto kActuatorDrain = std::chrono::seconds(10);

// Logs the counters every interval until the loop stops.
void schedule_stats(boost::asio::steady_timer& timer, const std::function<void()>& log_stats) {
  timer.expires_after(kStatsInterval);
  timer.async_wait([&timer, &log_stats](const boost::system::error_code& ec) {
    if (ec) return;
    log_stats();
    schedule_stats(timer, log_stats);
  });
}

}  // namespace

int run_bridge(const Config& config) {
  log::info("bridge", "gateway {} starting (archer-bridge {}), config {}", config.gateway.id, kVersion,
            config.file.string());
  Metrics metrics;
  std::string error;
  // Actuators and ingest have a producer each: the ingest one is replaced after a fatal error
  // without touching exchanges under way.
  auto producer = transport::KafkaProducer::create(config.kafka, error, "actuators");
  if (!producer) {
    log::error("bridge", "{}", error);
    return kExitStartFailed;
  }
  auto ingest = ingest::IngestService::create(config, metrics, error);
  if (!ingest) {
    log::error("bridge", "{}", error);
    return kExitStartFailed;
  }

  boost::asio::io_context io;
  transport::MqttSession mqtt(config.mqtt);
  actuators::PresenceTracker presence;
  std::vector<std::unique_ptr<actuators::ActuatorGateway>> gateways;
  for (const ActuatorSection& section : config.actuators) {
    gateways.push_back(std::make_unique<actuators::ActuatorGateway>(config, section, *producer, mqtt, presence, metrics));
  }
  std::unique_ptr<HttpServer> http;
  if (config.http) {
    try {
      http = std::make_unique<HttpServer>(io, *config.http, metrics,
                                          [&mqtt, &ingest] { return mqtt.connected() && ingest->ready(); });
    } catch (const boost::system::system_error& failure) {
      log::error("bridge", "cannot listen on {}:{}: {}", config.http->host, config.http->port, failure.what());
      return kExitStartFailed;
    }
  }

  for (auto& [filter, qos] : ingest->subscriptions()) mqtt.add_subscription(filter, qos);
  if (!gateways.empty()) mqtt.add_subscription(presence.filter(), 1);
  for (const auto& gateway : gateways) {
    auto [filter, qos] = gateway->subscription();
    mqtt.add_subscription(filter, qos);
  }
  Counter& unrouted = metrics.counter("archer_mqtt_unrouted_total", "MQTT messages no section takes");
  mqtt.set_message_handler([&](const mqtt::const_message_ptr& message) {
    if (!gateways.empty() && presence.offer(*message)) return;
    for (const auto& gateway : gateways) {
      if (gateway->offer(message)) return;
    }
    if (ingest->offer(message)) return;
    unrouted.add();
    log::debug("bridge", "no section takes topic '{}'", message->get_topic());
  });

  ingest->start();
  mqtt.start();
  // Each gateway rebuilds its view from its logs before it consumes a command.
  for (const auto& gateway : gateways) {
    if (!gateway->start(error)) {
      log::error("bridge", "{}", error);
      for (const auto& started : gateways) started->stop(std::chrono::milliseconds(0));
      mqtt.stop(std::chrono::seconds(5));
      ingest->stop();
      return kExitStartFailed;
    }
  }

  boost::asio::signal_set stop_signals(io, SIGTERM, SIGINT);
  stop_signals.async_wait([&](const boost::system::error_code& ec, int signal) {
    if (ec) return;
    log::info("bridge", "{} received: draining", strsignal(signal));
    io.stop();
  });
  boost::asio::signal_set reload_signal(io, SIGHUP);
  std::function<void()> wait_reload = [&] {
    reload_signal.async_wait([&](const boost::system::error_code& ec, int) {
      if (ec) return;
      ConfigResult reloaded = load_config(config.file);
      if (!reloaded.config) {
        for (const std::string& problem : reloaded.errors) log::error("bridge", "reload: {}", problem);
        log::error("bridge", "reload refused: the running configuration stays");
      } else if (std::string problem; !ingest->reload(*reloaded.config, problem)) {
        log::error("bridge", "reload refused: {}", problem);
      } else {
        log::info("bridge", "reload: {} applied to the ingest sections (actuator settings apply on restart)",
                  config.file.string());
      }
      wait_reload();
    });
  };
  wait_reload();
  const std::function<void()> log_stats = [&] {
    ingest->log_stats();
    for (const auto& gateway : gateways) gateway->log_stats();
  };
  boost::asio::steady_timer stats_timer(io);
  schedule_stats(stats_timer, log_stats);
  io.run();

  // Ordered shutdown: no new commands, running exchanges finish (MQTT still up), then no new
  // readings, then everything taken is handed to Kafka.
  for (const auto& gateway : gateways) gateway->stop(kActuatorDrain);
  mqtt.stop(std::chrono::seconds(5));
  ingest->stop();
  const int left = producer->flush(kDrainTimeout);
  log_stats();
  if (left > 0) log::error("bridge", "{} record(s) not acknowledged by Kafka within {}s", left, kDrainTimeout.count());
  else log::info("bridge", "drained; stopped");
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
