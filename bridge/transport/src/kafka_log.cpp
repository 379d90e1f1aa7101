#include "archer/transport/kafka_log.h"

#include <librdkafka/rdkafka.h>

#include "archer/core/log.h"

namespace archer::transport {
namespace {

// librdkafka's levels are syslog's: 0-3 errors, 4 warning, 5-6 notice and info, 7 debug.
void relay(const rd_kafka_t* /*handle*/, int level, const char* facility, const char* text) {
  if (level <= 3)
    log::error("kafka", "{}: {}", facility, text);
  else if (level == 4)
    log::warn("kafka", "{}: {}", facility, text);
  else if (level <= 6)
    log::info("kafka", "{}: {}", facility, text);
  else
    log::debug("kafka", "{}: {}", facility, text);
}

}  // namespace

void route_librdkafka_log(rd_kafka_conf_s* conf) { rd_kafka_conf_set_log_cb(conf, relay); }

}  // namespace archer::transport
