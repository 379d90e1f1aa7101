#include "archer/testing/test_devices.h"

#include <gtest/gtest.h>

#include "archer/schemas/command_generated.h"

namespace archer::testing {
namespace {

std::string response_bytes(const std::string& interaction_id, archer::command::ResponseStatus status,
                           const std::string& detail) {
  flatbuffers::FlatBufferBuilder builder;
  builder.Finish(archer::command::CreateDeviceResponseDirect(builder, interaction_id.c_str(), status, detail.c_str()),
                 "ADRS");
  return std::string(reinterpret_cast<const char*>(builder.GetBufferPointer()), builder.GetSize());
}

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

void TestDevices::on_request(const mqtt::const_message_ptr& request) {
  const std::string& topic = request->get_topic();
  const std::string device = topic.substr(8, topic.size() - 8 - 9);  // devices/<id>/commands
  const std::string& payload = request->get_payload_str();
  flatbuffers::Verifier verifier(reinterpret_cast<const std::uint8_t*>(payload.data()), payload.size());
  if (!verifier.VerifyBuffer<archer::command::DeviceCommand>("ADCM")) {
    ADD_FAILURE() << "device " << device << " received something that is not a DeviceCommand";
    return;
  }
  const auto* command = flatbuffers::GetRoot<archer::command::DeviceCommand>(payload.data());
  const std::string interaction = command->interaction_id()->str();

  std::unique_lock lock(mutex_);
  ++requests_;
  const Mode mode = modes_.count(device) != 0 ? modes_[device] : Mode::ok;
  std::string bytes;
  if (auto seen = answered_.find(interaction); seen != answered_.end()) {
    bytes = seen->second;  // a repeat: the same answer, no second action
  } else {
    if (mode == Mode::silent) return;
    if (mode == Mode::reject) {
      bytes = response_bytes(interaction, archer::command::ResponseStatus::REJECTED, "not allowed now");
    } else {
      Action action{interaction, command->action()->str(), {}};
      if (command->args() != nullptr) {
        for (const auto* arg : *command->args()) action.args[arg->name()->str()] = arg->value()->str();
      }
      actions_[device].push_back(std::move(action));
      bytes = response_bytes(interaction, archer::command::ResponseStatus::OK, "done");
    }
    answered_[interaction] = bytes;
  }
  auto response = mqtt::message::create(
      request->get_properties().contains(mqtt::property::RESPONSE_TOPIC)
          ? mqtt::get<std::string>(request->get_properties(), mqtt::property::RESPONSE_TOPIC)
          : "devices/" + device + "/responses",
      bytes, 1, false);
  mqtt::properties properties;
  if (request->get_properties().contains(mqtt::property::CORRELATION_DATA)) {
    properties.add({mqtt::property::CORRELATION_DATA,
                    mqtt::get<mqtt::binary>(request->get_properties(), mqtt::property::CORRELATION_DATA)});
  }
  const mqtt::properties& incoming = request->get_properties();
  for (std::size_t i = 0; i < incoming.size(); ++i) {
    // Echo the trace context, as an instrumented device would.
    const MQTTProperty& raw = incoming.c_struct().array[i];
    if (raw.identifier == MQTTPROPERTY_CODE_USER_PROPERTY) properties.add(mqtt::property(raw));
  }
  response->set_properties(properties);
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
