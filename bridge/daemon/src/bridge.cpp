#include "archer/daemon/bridge.h"

#include <csignal>
#include <cstring>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>

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

// Logs the counters every interval until the loop stops.
void schedule_stats(boost::asio::steady_timer& timer, const ingest::IngestService& ingest) {
  timer.expires_after(kStatsInterval);
  timer.async_wait([&timer, &ingest](const boost::system::error_code& ec) {
    if (ec) return;
    ingest.log_stats();
    schedule_stats(timer, ingest);
  });
}

}  // namespace

int run_bridge(const Config& config) {
  log::info("bridge", "gateway {} starting (archer-bridge {}), config {}", config.gateway.id, kVersion,
            config.file.string());
  Metrics metrics;
  std::string error;
  auto producer = transport::KafkaProducer::create(config.kafka, error);
  if (!producer) {
    log::error("bridge", "{}", error);
    return kExitStartFailed;
  }
  auto ingest = ingest::IngestService::create(config, *producer, metrics, error);
  if (!ingest) {
    log::error("bridge", "{}", error);
    return kExitStartFailed;
  }

  boost::asio::io_context io;
  transport::MqttSession mqtt(config.mqtt);
  std::unique_ptr<HttpServer> http;
  if (config.http) {
    try {
      http = std::make_unique<HttpServer>(io, *config.http, metrics, [&mqtt] { return mqtt.connected(); });
    } catch (const boost::system::system_error& failure) {
      log::error("bridge", "cannot listen on {}:{}: {}", config.http->host, config.http->port, failure.what());
      return kExitStartFailed;
    }
  }

  for (auto& [filter, qos] : ingest->subscriptions()) mqtt.add_subscription(filter, qos);
  Counter& unrouted = metrics.counter("archer_mqtt_unrouted_total", "MQTT messages no section takes");
  mqtt.set_message_handler([&](const mqtt::const_message_ptr& message) {
    if (!ingest->offer(message)) {
      unrouted.add();
      log::debug("bridge", "no section takes topic '{}'", message->get_topic());
    }
  });

  ingest->start();
  mqtt.start();

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
      } else {
        log::warn("bridge", "reload: {} is valid; this version applies mapping changes on restart", config.file.string());
      }
      wait_reload();
    });
  };
  wait_reload();
  boost::asio::steady_timer stats_timer(io);
  schedule_stats(stats_timer, *ingest);
  io.run();

  // Ordered shutdown: no new input, then everything taken is handed to Kafka.
  mqtt.stop(std::chrono::seconds(5));
  ingest->stop();
  const int left = producer->flush(kDrainTimeout);
  ingest->log_stats();
  if (left > 0) log::error("bridge", "{} record(s) not acknowledged by Kafka within {}s", left, kDrainTimeout.count());
  else log::info("bridge", "drained; stopped");
  return kExitOk;
}

}  // namespace archer::daemon
