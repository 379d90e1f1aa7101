#include "archer/core/headers.h"

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

}  // namespace archer::headers
