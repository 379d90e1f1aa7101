#pragma once
// Parsing of archer-devkafka's names and numbers: Kafka API keys and error codes, by number or by name.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <librdkafka/rdkafka.h>

namespace archer::devkafka {

// "0", "Produce", "produce" -> 0. Names are the Kafka protocol's request names (case-insensitive).
std::optional<std::int16_t> parse_api_key(std::string_view text);
// "6", "NOT_LEADER_FOR_PARTITION", "TRANSPORT", "_TRANSPORT", "RD_KAFKA_RESP_ERR__TRANSPORT", "-195".
std::optional<rd_kafka_resp_err_t> parse_error_code(std::string_view text);
std::optional<long long> parse_int(std::string_view text);

}  // namespace archer::devkafka
