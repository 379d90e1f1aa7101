#pragma once
// librdkafka's own log lines (a broker unreachable, a failed request) through archer::log, so that
// they come in the format the process logs in (text, logfmt, json) instead of librdkafka's
// `%3|1700000000.000|FAIL|rdkafka#consumer-1| ...` on stderr. For clients made without an
// RdKafka::EventCb (the producer has one and logs its events itself).
struct rd_kafka_conf_s;

namespace archer::transport {

// Called on librdkafka's threads; only formats and writes a line.
void route_librdkafka_log(rd_kafka_conf_s* conf);

}  // namespace archer::transport
