#include "archer/transport/kafka_headers.h"

namespace archer::transport {

RdKafka::Headers* to_kafka(const headers::RecordHeaders& headers) {
  RdKafka::Headers* out = RdKafka::Headers::create();
  for (const auto& [key, value] : headers.entries()) out->add(key, value.data(), value.size());
  return out;
}

headers::RecordHeaders headers_of(const RdKafka::Message& message) {
  headers::RecordHeaders out;
  // librdkafka's accessor is not const, but only parses the message's header block once.
  const RdKafka::Headers* found = const_cast<RdKafka::Message&>(message).headers();
  if (found == nullptr) return out;
  for (const RdKafka::Headers::Header& header : found->get_all()) {
    const auto* value = static_cast<const char*>(header.value());
    out.add(header.key(), value == nullptr ? std::string_view{} : std::string_view(value, header.value_size()));
  }
  return out;
}

}  // namespace archer::transport
