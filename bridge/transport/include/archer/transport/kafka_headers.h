#pragma once
// RecordHeaders to and from librdkafka's header lists: the one place where the core's plain header
// list meets librdkafka.
#include <librdkafka/rdkafkacpp.h>

#include "archer/core/headers.h"

namespace archer::transport {

// A new librdkafka header list; ownership passes to produce() on success.
RdKafka::Headers* to_kafka(const headers::RecordHeaders& headers);
// The headers of a consumed record (none: empty).
headers::RecordHeaders headers_of(const RdKafka::Message& message);

}  // namespace archer::transport
