#pragma once
// Kafka record headers of the contract (docs/contract.md, "Kafka records"). Values are text.
// Plain data: the conversion to and from librdkafka's header lists is in transport/kafka_headers.h.
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace archer::headers {

inline constexpr std::string_view kId = "archer-id";                // UUIDv7 of this record
inline constexpr std::string_view kTime = "archer-time";            // ingest time, Unix ms
inline constexpr std::string_view kGateway = "archer-gateway";
inline constexpr std::string_view kSource = "archer-source";        // the MQTT topic
inline constexpr std::string_view kSchema = "archer-schema";        // name@sha256-prefix
inline constexpr std::string_view kCausation = "archer-causation";  // archer-id of the cause
inline constexpr std::string_view kError = "archer-error";          // dead letters: reason code
inline constexpr std::string_view kErrorDetail = "archer-error-detail";
inline constexpr std::string_view kMqttQos = "archer-mqtt-qos";      // dead letters: to send again
inline constexpr std::string_view kMqttRetain = "archer-mqtt-retain";
// Event-log outcomes: "<partition>:<offset>" of their command in the command log.
inline constexpr std::string_view kCommandOffset = "archer-command-offset";
inline constexpr std::string_view kTraceparent = "traceparent";     // W3C trace context
inline constexpr std::string_view kMqttPrefix = "mqtt.";            // mqtt.<user property>
inline constexpr std::string_view kMqttContentType = "mqtt.content-type";
inline constexpr std::string_view kMqttCorrelationData = "mqtt.correlation-data";  // dead device answers

// An ordered list of headers (a name may repeat, as Kafka allows).
class RecordHeaders {
 public:
  // The headers every record Archer writes starts with: a new archer-id (UUIDv7), archer-time
  // (now, Unix ms) and archer-gateway.
  static RecordHeaders for_new_record(std::string_view gateway_id);

  void add(std::string_view name, std::string_view value) { entries_.emplace_back(name, value); }
  // The first value of `name`, or empty.
  std::string_view get(std::string_view name) const;
  const std::vector<std::pair<std::string, std::string>>& entries() const { return entries_; }

 private:
  std::vector<std::pair<std::string, std::string>> entries_;
};

}  // namespace archer::headers
