#pragma once
// The captures of one MQTT topic under an [[ingest]] section's `mqtt` template, each checked as an
// id. A capture names who sent the message: with the shipped broker ACL (config/mosquitto/acl) the
// device level is the device's authenticated user name. Every capture is checked, not only those
// that make the key: each one is compared with payload fields (`bind`), may make the key, and is
// what an operator, a rule or a command later calls that device, so one rule for what a device may
// be called holds everywhere. A level that is not an id needs no capture: '+' matches it.
// Pure logic: no MQTT, no Kafka.
#include <string>
#include <string_view>
#include <vector>

#include "archer/core/topic_template.h"
#include "archer/ingest/validator.h"

namespace archer::ingest {

struct TopicCaptures {
  // One per capture of the template, in order; views into the template's names and the topic.
  std::vector<Capture> values;
  // Empty when the topic matches and every capture is a valid id; else the detail of a bad_topic
  // dead letter, naming the capture and why.
  std::string problem;
  bool ok() const { return problem.empty(); }
};

TopicCaptures capture_topic(const TopicTemplate& mqtt, std::string_view topic);

}  // namespace archer::ingest
