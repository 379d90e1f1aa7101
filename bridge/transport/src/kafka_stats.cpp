#include "archer/transport/kafka_stats.h"

#include <algorithm>
#include <sstream>

#include <boost/property_tree/json_parser.hpp>
#include <boost/property_tree/ptree.hpp>

namespace archer::transport {

int KafkaStats::brokers_up() const {
  return static_cast<int>(std::count_if(brokers.begin(), brokers.end(), [](const auto& b) { return b.state == "UP"; }));
}

bool KafkaStats::unreachable() const {
  const bool connecting =
      std::any_of(brokers.begin(), brokers.end(), [](const auto& b) { return b.state != "INIT" && b.state != "UP"; });
  return brokers_up() == 0 && connecting;
}

std::optional<KafkaStats> parse_kafka_stats(std::string_view json) {
  namespace pt = boost::property_tree;
  pt::ptree root;
  try {
    std::istringstream in{std::string(json)};
    pt::read_json(in, root);
    KafkaStats out;
    out.queued_messages = root.get<std::int64_t>("msg_cnt");
    out.queued_bytes = root.get<std::int64_t>("msg_size");
    if (const auto brokers = root.get_child_optional("brokers")) {
      for (const auto& [name, broker] : *brokers) {
        KafkaBrokerStats one;
        one.name = name;
        one.node_id = broker.get<std::int32_t>("nodeid", -1);
        one.state = broker.get<std::string>("state", "");
        // librdkafka reports RTT in microseconds.
        one.rtt_p50_seconds = broker.get<double>("rtt.p50", 0) / 1e6;
        one.rtt_p99_seconds = broker.get<double>("rtt.p99", 0) / 1e6;
        out.brokers.push_back(std::move(one));
      }
    }
    return out;
  } catch (const pt::ptree_error&) {
    return std::nullopt;
  }
}

}  // namespace archer::transport
