#pragma once
// The figures of librdkafka's statistics (statistics.interval.ms, a JSON document per interval) that
// an operator graphs and that /readyz judges: the producer queue and each broker's state and RTT.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace archer::transport {

struct KafkaBrokerStats {
  std::string name;  // "host:port/id", or ".../bootstrap" before the id is known
  std::int32_t node_id = -1;
  std::string state;  // librdkafka's: INIT, TRY_CONNECT, CONNECT, ..., UP, DOWN
  double rtt_p50_seconds = 0;
  double rtt_p99_seconds = 0;
};

struct KafkaStats {
  std::int64_t queued_messages = 0;  // msg_cnt: produced, not yet acknowledged (or failed)
  std::int64_t queued_bytes = 0;     // msg_size
  std::vector<KafkaBrokerStats> brokers;

  int brokers_up() const;
  // No broker is UP while at least one is being connected to. With sparse connections an idle client
  // may have no connection at all (every broker INIT): that is not called unreachable.
  bool unreachable() const;
};

// Null when `json` is not librdkafka's statistics document.
std::optional<KafkaStats> parse_kafka_stats(std::string_view json);

}  // namespace archer::transport
