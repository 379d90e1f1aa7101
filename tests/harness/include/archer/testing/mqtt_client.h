#pragma once
// A real MQTT 5 client for tests (Paho C++): publishes with a bounded window of unacknowledged
// messages, and collects what it receives on its subscriptions.
#include <chrono>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <mqtt/async_client.h>

namespace archer::testing {

class MqttClient {
 public:
  // Connects (MQTT 5, clean start) before returning; fails the test if it cannot.
  MqttClient(const std::string& uri, const std::string& client_id);
  ~MqttClient();
  MqttClient(const MqttClient&) = delete;
  MqttClient& operator=(const MqttClient&) = delete;

  // Waits while `window` publishes are unacknowledged, then sends this one.
  void publish(const std::string& topic, const std::string& payload, int qos = 1,
               const mqtt::properties& properties = {}, bool retained = false);
  // Waits for every publish to be acknowledged (PUBACK/PUBCOMP).
  void wait_all(std::chrono::milliseconds timeout = std::chrono::seconds(30));

  void subscribe(const std::string& filter, int qos = 1);
  // Waits until `count` messages have arrived; returns them all (may be more).
  std::vector<mqtt::const_message_ptr> wait_messages(std::size_t count, std::chrono::milliseconds timeout);
  std::size_t received_count();

  mqtt::async_client& client() { return *client_; }

 private:
  std::unique_ptr<mqtt::async_client> client_;
  std::deque<mqtt::delivery_token_ptr> pending_;
  std::size_t window_ = 64;  // below Paho C's default of 100 buffered messages
  std::mutex mutex_;
  std::condition_variable arrived_;
  std::vector<mqtt::const_message_ptr> received_;
};

}  // namespace archer::testing
