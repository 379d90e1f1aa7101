#pragma once
// A message to ingest, wherever it came from: an MQTT delivery, or a dead letter sent through
// validation again by `archer-ctl redrive`. Views only: the owner keeps the bytes alive.
#include <cstdint>
#include <span>
#include <string_view>
#include <utility>
#include <vector>

#include <mqtt/message.h>

#include "archer/spool/spool.h"

namespace archer::ingest {

struct Incoming {
  std::string_view topic;  // the MQTT topic it was published to
  std::span<const std::uint8_t> payload;
  int qos = 0;
  bool retained = false;
  std::string_view content_type;                                               // MQTT 5, may be empty
  std::vector<std::pair<std::string_view, std::string_view>> user_properties;  // MQTT 5, in order
  std::string_view causation;    // archer-id of the record this one re-drives, if any
  std::int64_t received_ms = 0;  // Unix ms of MQTT receipt (0: unknown, e.g. a re-driven dead letter)
};

// Views into `message`, which must outlive the result.
Incoming incoming_from_mqtt(const mqtt::message& message);

// The message as the spool keeps it; `route` names the section that takes it.
spool::SpoolRecord spool_record_from_mqtt(const mqtt::message& message, std::string_view route,
                                          std::int64_t received_ms);
// Views into `record`, which must outlive the result.
Incoming incoming_from_spool(const spool::SpoolRecord& record);

}  // namespace archer::ingest
