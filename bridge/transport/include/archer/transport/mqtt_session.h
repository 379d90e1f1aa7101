#pragma once
// The gateway's MQTT 5 session with the broker: one client id, a persistent session
// (clean start off, session expiry from the config), reconnects with capped exponential backoff
// and jitter, and every subscription made again on each (re)connect. Everything the gateway receives over MQTT comes
// through here.
//
// Threading: the message handler runs on Paho's callback thread, before the broker is acknowledged
// (QoS 1/2). It must only hand the message over, never wait: Paho C has one callback thread for every
// client in the process, so a handler that blocks stalls every session. Backpressure is
// pause_intake().
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <mqtt/async_client.h>

#include "archer/core/config.h"

namespace archer::transport {

class MqttSession {
 public:
  using MessageHandler = std::function<void(const mqtt::const_message_ptr&)>;

  explicit MqttSession(MqttConfig config);
  ~MqttSession();
  MqttSession(const MqttSession&) = delete;
  MqttSession& operator=(const MqttSession&) = delete;

  // Before start() (they throw std::logic_error after it): what to subscribe to, who receives every
  // message, who hears of every (re)connect.
  void add_subscription(std::string filter, int qos);
  void set_message_handler(MessageHandler handler);
  // Called (on Paho's thread) each time the session is connected and subscribed again.
  void add_ready_listener(std::function<void()> listener);
  // A request/response session (commands and device answers): Nagle's algorithm off, so a small
  // request written just after a PUBACK does not wait out the broker's delayed ACK (about 40 ms).
  // Paho gives no way to one client's socket, so this is the process's choice: once such a session
  // connects, every MQTT connection of the process has TCP_NODELAY, then and at every connect after
  // (archer/core/tcp_nodelay.h). A telemetry-only process keeps Nagle: its PUBACKs share segments,
  // 11-21 % less CPU per reading than without (docs/performance.md).
  void disable_nagle();

  // After start (a reload): subscribes now when connected, and on every reconnect from now on. The
  // broker's answer is logged; true when it granted the subscription within `timeout`.
  bool subscribe(const std::string& filter, int qos, std::chrono::milliseconds timeout);
  // After start: unsubscribes and stops subscribing on reconnect. True when the broker answered.
  bool unsubscribe(const std::string& filter, std::chrono::milliseconds timeout);

  // Connects (retrying in the background until it succeeds) and subscribes. Returns at once.
  void start();
  // Waits up to `timeout` for the first successful connect and subscribe.
  bool wait_connected(std::chrono::milliseconds timeout);
  bool connected() const { return subscribed_.load(); }

  // Backpressure without blocking Paho's thread (one thread serves every client of the process, so
  // a callback that waits would stall the other sessions too): pause disconnects, keeping the
  // session, so the broker queues for it; resume connects again. Any thread, Paho's included; both
  // return at once. Messages Paho already holds are still delivered (at most the broker's in-flight
  // window).
  void pause_intake();
  void resume_intake();
  bool intake_paused() const { return paused_.load(); }

  // Before a planned stop: gives this session's share of every shared subscription ($share/...) to
  // the group's other members. Unsubscribes those filters, so the broker routes no more to this
  // session, then waits until what the broker had already queued for it has arrived: a QoS 1 marker
  // published to a topic of the session's own (handover_topic()) comes back after everything queued
  // before it, Mosquitto keeping one queue per client, in order. True when there was nothing to hand
  // over or the marker came back within `timeout`; false (logged) when the broker refused the marker
  // topic or it did not come back: what it still holds for this session then waits for its next start.
  bool hand_over_shares(std::chrono::milliseconds timeout);
  const std::string& handover_topic() const { return handover_topic_; }

  // Stops intake: disconnects cleanly, keeping the session (the broker queues for us meanwhile).
  void stop(std::chrono::milliseconds timeout);

  mqtt::async_client& client() { return *client_; }

 private:
  // Counts SUBACKs after a (re)connect; the session is ready when every subscription is granted.
  class SubscribeListener : public mqtt::iaction_listener {
   public:
    explicit SubscribeListener(MqttSession& session) : session_(session) {}
    void on_success(const mqtt::token& token) override;
    void on_failure(const mqtt::token& token) override;

   private:
    void granted(const mqtt::token& token);
    void refused(const mqtt::token& token);
    MqttSession& session_;
  };

  void on_connected();
  void on_connection_lost(const std::string& cause);
  void require_not_started(const char* what) const;
  void connect_until_stopped();
  // One line for a failed connect (rate-limited while it repeats), naming the cause.
  void report_failed_connect(const std::string& failure, bool broker_refused);
  // Waits (bounded) until every subscription of this connection is answered, or the connection is gone.
  void settle_subscriptions(std::unique_lock<std::mutex>& lock);
  void build_connect_options();

  MqttConfig config_;
  std::string handover_topic_;  // from the client id, once
  std::unique_ptr<mqtt::async_client> client_;
  mqtt::connect_options connect_options_;
  std::vector<std::pair<std::string, int>> subscriptions() const;

  // Fixed before start; changed after it only by subscribe()/unsubscribe(), under the mutex.
  mutable std::mutex subscriptions_mutex_;
  std::vector<std::pair<std::string, int>> subscriptions_;
  MessageHandler handler_;
  std::vector<std::function<void()>> ready_listeners_;
  SubscribeListener subscribe_listener_{*this};
  std::atomic<int> pending_subacks_{0};
  std::atomic<bool> subscribed_{false};
  std::atomic<bool> stopping_{false};
  std::atomic<bool> paused_{false};
  // The hand-over's marker, awaited while marker_awaited_ (Paho's thread checks it per message).
  std::atomic<bool> marker_awaited_{false};
  std::mutex marker_mutex_;
  std::condition_variable marker_cv_;
  std::string marker_token_;  // guarded by marker_mutex_
  bool marker_seen_ = false;  // guarded by marker_mutex_
  bool started_ = false;
  bool need_connect_ = true;  // guarded by connected_mutex_: the connector thread's work
  std::mutex connected_mutex_;
  std::condition_variable connected_cv_;
  std::thread connect_thread_;
};

}  // namespace archer::transport
