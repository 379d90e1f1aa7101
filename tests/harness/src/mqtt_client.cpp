#include "archer/testing/mqtt_client.h"

#include <gtest/gtest.h>

namespace archer::testing {

MqttClient::MqttClient(const std::string& uri, const std::string& client_id)
    : client_(std::make_unique<mqtt::async_client>(uri, client_id, mqtt::create_options(MQTTVERSION_5), nullptr)) {
  client_->set_message_callback([this](mqtt::const_message_ptr message) {
    std::lock_guard lock(mutex_);
    received_.push_back(std::move(message));
    arrived_.notify_all();
  });
  auto options = mqtt::connect_options_builder().mqtt_version(MQTTVERSION_5).clean_start(true).finalize();
  client_->connect(options)->wait_for(std::chrono::seconds(10));
  EXPECT_TRUE(client_->is_connected()) << "test client " << client_id << " could not connect to " << uri;
}

MqttClient::~MqttClient() {
  try {
    if (client_->is_connected()) client_->disconnect()->wait_for(std::chrono::seconds(5));
  } catch (const mqtt::exception&) {
    // The broker may already be gone at the end of a test.
  }
}

void MqttClient::publish(const std::string& topic, const std::string& payload, int qos,
                         const mqtt::properties& properties, bool retained) {
  while (pending_.size() >= window_) {
    pending_.front()->wait_for(std::chrono::seconds(30));
    pending_.pop_front();
  }
  auto message = mqtt::message::create(topic, payload, qos, retained, properties);
  pending_.push_back(client_->publish(message));
}

void MqttClient::wait_all(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!pending_.empty()) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    ASSERT_TRUE(left.count() > 0 && pending_.front()->wait_for(left)) << pending_.size() << " publishes unacknowledged";
    pending_.pop_front();
  }
}

void MqttClient::subscribe(const std::string& filter, int qos) {
  client_->subscribe(filter, qos)->wait_for(std::chrono::seconds(10));
}

std::vector<mqtt::const_message_ptr> MqttClient::wait_messages(std::size_t count, std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  arrived_.wait_for(lock, timeout, [&] { return received_.size() >= count; });
  return received_;
}

std::size_t MqttClient::received_count() {
  std::lock_guard lock(mutex_);
  return received_.size();
}

}  // namespace archer::testing
