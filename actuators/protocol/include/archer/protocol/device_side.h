#pragma once
// The device's half of the gateway protocol (docs/devices.md), for every program that plays a
// device: archer-devsim and the test devices. One implementation, so the simulator, the tests and the
// documentation cannot disagree:
//   - a request is a DeviceCommand ("ADCM") on the device's request topic; MQTT 5 adds ResponseTopic
//     and CorrelationData;
//   - the answer is a DeviceResponse ("ADRS") to the request's ResponseTopic (else the device's own
//     response topic), QoS 1, echoing CorrelationData (MQTT 5) and a W3C traceparent;
//   - a device that sees an interaction id again answers as before, without acting twice.
// Pure logic over Paho's message type: no connection, no thread.
#include <cstddef>
#include <list>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include <mqtt/message.h>

#include "archer/protocol/messages.h"

namespace archer::protocol {

struct DeviceRequest {
  DeviceCommand command;
  std::string reply_topic;  // the request's ResponseTopic, else the device's configured response topic
  std::string correlation;  // the request's CorrelationData, as received (empty from a 3.1.1 gateway)
  std::string traceparent;  // the request's traceparent user property, if any
};

// Reads a request. Null and `why` when the payload is not a DeviceCommand; `correlation` and
// `reply_topic` of the failed request are still filled in `unreadable`, so the device can answer ERROR.
std::optional<DeviceRequest> read_request(const mqtt::message& message, std::string_view own_response_topic,
                                          std::string& why, DeviceRequest* unreadable = nullptr);

// The answer to `request`, ready to publish. With MQTT 5 (`mqtt5`), the CorrelationData is the
// request's, or the interaction id when the request had none.
mqtt::message_ptr reply_message(const DeviceRequest& request, const Bytes& response, bool mqtt5);

// Interaction id -> the exact response bytes a device gave, the least recently used forgotten first.
class AnsweredInteractions {
 public:
  explicit AnsweredInteractions(std::size_t capacity) : capacity_(capacity) {}
  // The earlier answer, when this interaction was answered before (refreshed as recently used).
  const Bytes* find(const InteractionId& interaction);
  void remember(const InteractionId& interaction, Bytes response);
  std::size_t size() const { return entries_.size(); }

 private:
  using Entry = std::pair<InteractionId, Bytes>;
  std::size_t capacity_;
  std::list<Entry> order_;  // most recent first
  std::unordered_map<InteractionId, std::list<Entry>::iterator> entries_;
};

}  // namespace archer::protocol
