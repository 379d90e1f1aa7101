#include "archer/testing/test_devices.h"

#include <gtest/gtest.h>

#include "archer/protocol/device_side.h"

namespace archer::testing {
namespace {

using protocol::Bytes;
using protocol::DeviceResponse;
using protocol::ResponseStatus;

}  // namespace

TestDevices::TestDevices(const std::string& uri, std::chrono::milliseconds late_by)
    : client_(std::make_unique<mqtt::async_client>(uri, "archer-test-devices", mqtt::create_options(MQTTVERSION_5), nullptr)),
      late_by_(late_by) {
  client_->set_message_callback([this](mqtt::const_message_ptr message) { on_request(message); });
  auto options = mqtt::connect_options_builder().mqtt_version(MQTTVERSION_5).clean_start(true).finalize();
  client_->connect(options)->wait_for(std::chrono::seconds(10));
  EXPECT_TRUE(client_->is_connected()) << "test devices could not connect to " << uri;
  client_->subscribe("devices/+/commands", 1)->wait_for(std::chrono::seconds(10));
  late_thread_ = std::thread([this] { run_late_answers(); });
}

TestDevices::~TestDevices() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  pending_changed_.notify_all();
  late_thread_.join();
  try {
    if (client_->is_connected()) client_->disconnect()->wait_for(std::chrono::seconds(5));
  } catch (const mqtt::exception&) {
  }
}

void TestDevices::set_mode(const std::string& device, Mode mode) {
  std::lock_guard lock(mutex_);
  modes_[device] = mode;
}

void TestDevices::announce(const std::string& device, bool online) {
  client_->publish("devices/" + device + "/status", online ? "online" : "offline", 1, true)->wait_for(std::chrono::seconds(10));
}

std::vector<TestDevices::Action> TestDevices::actions(const std::string& device) {
  std::lock_guard lock(mutex_);
  return actions_[device];
}

std::size_t TestDevices::requests_received() {
  std::lock_guard lock(mutex_);
  return requests_;
}

void TestDevices::on_request(const mqtt::const_message_ptr& message) {
  const std::string& topic = message->get_topic();
  const std::string device = topic.substr(8, topic.size() - 8 - 9);  // devices/<id>/commands
  std::string why;
  auto request = protocol::read_request(*message, "devices/" + device + "/responses", why);
  if (!request) {
    ADD_FAILURE() << "device " << device << " received something that is not a DeviceCommand: " << why;
    return;
  }
  const protocol::InteractionId& interaction = request->command.interaction_id;

  std::unique_lock lock(mutex_);
  ++requests_;
  const Mode mode = modes_.count(device) != 0 ? modes_[device] : Mode::ok;
  Bytes bytes;
  if (const Bytes* before = answered_.find(interaction)) {
    bytes = *before;  // a repeat: the same answer, no second action
  } else {
    if (mode == Mode::silent) return;
    if (mode == Mode::reject) {
      bytes = protocol::encode(DeviceResponse{interaction, ResponseStatus::REJECTED, "not allowed now", {}});
    } else {
      Action action{interaction.str(), request->command.action, {}};
      for (const auto& [name, value] : request->command.args) action.args[name] = value;
      actions_[device].push_back(std::move(action));
      bytes = protocol::encode(DeviceResponse{interaction, ResponseStatus::OK, "done", {}});
    }
    answered_.remember(interaction, bytes);
  }
  auto response = protocol::reply_message(*request, bytes, /*mqtt5=*/true);
  if (mode == Mode::late) {
    pending_.push_back({std::chrono::steady_clock::now() + late_by_, response});
    pending_changed_.notify_all();
    return;
  }
  lock.unlock();
  client_->publish(response);
  if (mode == Mode::twice) client_->publish(response);
}

void TestDevices::run_late_answers() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    if (pending_.empty()) {
      pending_changed_.wait(lock);
      continue;
    }
    auto next = std::min_element(pending_.begin(), pending_.end(),
                                 [](const Pending& a, const Pending& b) { return a.when < b.when; });
    if (pending_changed_.wait_until(lock, next->when) == std::cv_status::timeout) {
      auto due = std::min_element(pending_.begin(), pending_.end(),
                                  [](const Pending& a, const Pending& b) { return a.when < b.when; });
      auto message = due->message;
      pending_.erase(due);
      lock.unlock();
      client_->publish(message);
      lock.lock();
    }
  }
}

}  // namespace archer::testing
