#pragma once
// The fleet's MQTT connections: one Paho client per connection, with its will, its (re)connects, its
// window of unacknowledged publishes and the devices' retained presence.
// Threads: Paho's threads run the callbacks, which only count, flip flags, wake window waiters and
// hand commands to the handler; publish_answer() is the responder's; every other method is the
// caller's (the scheduler's) thread.
#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <mqtt/async_client.h>

#include "archer/devsim/options.h"
#include "archer/devsim/stats.h"
#include "device_table.h"

namespace archer::devsim {

class Connections {
 public:
  // Receives every message of a connection's command subscription, on Paho's thread.
  using CommandHandler = std::function<void(std::size_t connection, const mqtt::const_message_ptr& message)>;

  // Creates the clients (not connected yet). `options`, `devices` and `stats` must outlive it.
  Connections(const Options& options, const DeviceTable& devices, Stats& stats);
  ~Connections();
  Connections(const Connections&) = delete;
  Connections& operator=(const Connections&) = delete;

  // Set once, before connect_all().
  void set_command_handler(CommandHandler handler) { command_handler_ = std::move(handler); }

  std::size_t count() const { return connections_.size(); }
  bool up(std::size_t c) const;

  // Starts every connect (at most 256 in flight) and waits up to 30 s for all to be up.
  void connect_all(const std::atomic<bool>& stop);
  // Reconnects the connections whose retry time is before `now` and announces the devices of those
  // that just connected (`online`, through the window).
  void housekeeping(Clock::time_point now, const std::atomic<bool>& stop, Clock::time_point end);
  // Waits while the connection's window is full (until `end` when not zero); false when it went down
  // or the run is stopping.
  bool wait_window(std::size_t c, const std::atomic<bool>& stop, Clock::time_point end);
  // A telemetry publish in the window; its acknowledgement is counted and timed from `scheduled` and
  // `sent`. False (counted, logged) when the client refused it.
  bool publish_telemetry(std::size_t c, mqtt::message_ptr message, Clock::time_point scheduled, Clock::time_point sent);
  // A command answer, outside the window. False when the connection is down or the client refused it.
  bool publish_answer(std::size_t c, mqtt::message_ptr message);
  // --disconnect-every: clean (`offline` for each device, DISCONNECT) or unclean (the broker drops the
  // connection and publishes the will); reconnected after reconnect_after.
  void disconnect_on_purpose(std::size_t c);
  // Waits until no connection that is up has publishes unacknowledged, or `timeout`.
  void wait_acknowledged(std::chrono::milliseconds timeout);
  // `offline` for every device, through the windows (5 s in all), then DISCONNECT (bounded).
  void disconnect_all();

 private:
  struct Connection;
  class PublishListener;
  class ConnectListener;
  struct PendingPublish;

  // Paho callbacks
  void on_connected(std::size_t c);
  void on_lost(std::size_t c, const std::string& cause);
  void connect_succeeded(std::size_t c, const mqtt::token& token);
  void connect_failed(std::size_t c, const mqtt::token& token);
  void publish_done(const mqtt::token& token, bool ok);

  void start_connect(std::size_t c);
  void send_presence(std::size_t c, const std::atomic<bool>& stop, Clock::time_point end);

  const Options& options_;
  const DeviceTable& devices_;
  Stats& stats_;
  CommandHandler command_handler_;
  std::unique_ptr<PublishListener> publish_listener_;
  std::vector<std::unique_ptr<Connection>> connections_;
  std::mutex window_mutex_;
  std::condition_variable window_cv_;
  std::atomic<bool> nagle_due_{false};  // a connection came up since housekeeping last turned Nagle off
};

}  // namespace archer::devsim
