#include "archer/core/headers.h"

#include <librdkafka/rdkafkacpp.h>

#include "archer/core/clock.h"
#include "archer/core/uuid.h"

namespace archer::headers {

RecordHeaders RecordHeaders::for_new_record(std::string_view gateway_id) {
  RecordHeaders out;
  out.add(kId, new_record_id().to_string());
  out.add(kTime, std::to_string(unix_ms()));
  out.add(kGateway, gateway_id);
  return out;
}

std::string_view RecordHeaders::get(std::string_view name) const {
  for (const auto& [key, value] : entries_) {
    if (key == name) return value;
  }
  return {};
}

RdKafka::Headers* RecordHeaders::to_kafka() const {
  RdKafka::Headers* out = RdKafka::Headers::create();
  for (const auto& [key, value] : entries_) out->add(key, value.data(), value.size());
  return out;
}

RecordHeaders RecordHeaders::from_kafka(const RdKafka::Headers* headers) {
  RecordHeaders out;
  if (headers == nullptr) return out;
  for (const RdKafka::Headers::Header& header : headers->get_all()) {
    const auto* value = static_cast<const char*>(header.value());
    out.add(header.key(), value == nullptr ? std::string_view{} : std::string_view(value, header.value_size()));
  }
  return out;
}

}  // namespace archer::headers
