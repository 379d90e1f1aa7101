#include "archer/ingest/incoming.h"

namespace archer::ingest {
namespace {

std::string_view view(const MQTTLenString& text) {
  return text.data == nullptr ? std::string_view{} : std::string_view(text.data, static_cast<std::size_t>(text.len));
}

}  // namespace

Incoming incoming_from_mqtt(const mqtt::message& message) {
  Incoming in;
  in.topic = message.get_topic_ref().str();
  const mqtt::binary_ref& payload = message.get_payload_ref();
  in.payload = std::span(reinterpret_cast<const std::uint8_t*>(payload.data()), payload.size());
  in.qos = message.get_qos();
  in.retained = message.is_retained();
  // The C structure gives views without copying each property.
  const MQTTProperties& properties = message.get_properties().c_struct();
  for (int i = 0; i < properties.count; ++i) {
    const MQTTProperty& property = properties.array[i];
    if (property.identifier == MQTTPROPERTY_CODE_CONTENT_TYPE) in.content_type = view(property.value.data);
    if (property.identifier == MQTTPROPERTY_CODE_USER_PROPERTY) {
      in.user_properties.emplace_back(view(property.value.data), view(property.value.value));
    }
  }
  return in;
}

spool::SpoolRecord spool_record_from_mqtt(const mqtt::message& message, std::string_view route,
                                          std::int64_t received_ms) {
  const Incoming in = incoming_from_mqtt(message);
  spool::SpoolRecord record;
  record.route = std::string(route);
  record.topic = std::string(in.topic);
  record.payload.assign(reinterpret_cast<const char*>(in.payload.data()), in.payload.size());
  record.qos = static_cast<std::uint8_t>(in.qos);
  record.retained = in.retained;
  record.content_type = std::string(in.content_type);
  for (const auto& [name, value] : in.user_properties) record.user_properties.emplace_back(name, value);
  record.received_ms = received_ms;
  return record;
}

Incoming incoming_from_spool(const spool::SpoolRecord& record) {
  Incoming in;
  in.topic = record.topic;
  in.payload = std::span(reinterpret_cast<const std::uint8_t*>(record.payload.data()), record.payload.size());
  in.qos = record.qos;
  in.retained = record.retained;
  in.content_type = record.content_type;
  in.received_ms = record.received_ms;
  for (const auto& [name, value] : record.user_properties) in.user_properties.emplace_back(name, value);
  return in;
}

}  // namespace archer::ingest
