#include "archer/protocol/device_side.h"

#include "archer/core/headers.h"

namespace archer::protocol {

std::optional<DeviceRequest> read_request(const mqtt::message& message, std::string_view own_response_topic,
                                          std::string& why, DeviceRequest* unreadable) {
  DeviceRequest request;
  const mqtt::properties& properties = message.get_properties();
  request.reply_topic = properties.contains(mqtt::property::RESPONSE_TOPIC)
                            ? mqtt::get<std::string>(properties, mqtt::property::RESPONSE_TOPIC)
                            : std::string(own_response_topic);
  if (properties.contains(mqtt::property::CORRELATION_DATA)) {
    request.correlation = mqtt::get<mqtt::binary>(properties, mqtt::property::CORRELATION_DATA);
  }
  const std::size_t users = properties.count(mqtt::property::USER_PROPERTY);
  for (std::size_t i = 0; i < users; ++i) {
    auto [name, value] = mqtt::get<mqtt::string_pair>(properties, mqtt::property::USER_PROPERTY, i);
    if (name == headers::kTraceparent) request.traceparent = value;
  }
  const auto& payload = message.get_payload_ref();
  auto command = decode_device_command(
      std::span(reinterpret_cast<const std::uint8_t*>(payload.data()), payload.size()), &why);
  if (!command) {
    if (unreadable != nullptr) *unreadable = std::move(request);
    return std::nullopt;
  }
  request.command = std::move(*command);
  return request;
}

mqtt::message_ptr reply_message(const DeviceRequest& request, const Bytes& response, bool mqtt5) {
  auto message = mqtt::message::create(request.reply_topic, response.data(), response.size(), 1, false);
  if (mqtt5) {
    mqtt::properties properties;
    const std::string& correlation =
        request.correlation.empty() ? request.command.interaction_id.str() : request.correlation;
    if (!correlation.empty()) properties.add({mqtt::property::CORRELATION_DATA, mqtt::binary(correlation)});
    if (!request.traceparent.empty()) {
      properties.add({mqtt::property::USER_PROPERTY, std::string(headers::kTraceparent), request.traceparent});
    }
    message->set_properties(std::move(properties));
  }
  return message;
}

const Bytes* AnsweredInteractions::find(const InteractionId& interaction) {
  auto found = entries_.find(interaction);
  if (found == entries_.end()) return nullptr;
  order_.splice(order_.begin(), order_, found->second);
  return &found->second->second;
}

void AnsweredInteractions::remember(const InteractionId& interaction, Bytes response) {
  if (auto found = entries_.find(interaction); found != entries_.end()) {
    found->second->second = std::move(response);
    order_.splice(order_.begin(), order_, found->second);
    return;
  }
  order_.emplace_front(interaction, std::move(response));
  entries_.emplace(interaction, order_.begin());
  while (entries_.size() > capacity_) {
    entries_.erase(order_.back().first);
    order_.pop_back();
  }
}

}  // namespace archer::protocol
