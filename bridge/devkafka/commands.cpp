#include "commands.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <utility>

namespace archer::devkafka {
namespace {

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

constexpr std::array<std::pair<std::string_view, std::int16_t>, 50> kApiKeys{{
    {"Produce", 0},
    {"Fetch", 1},
    {"ListOffsets", 2},
    {"Offset", 2},
    {"Metadata", 3},
    {"LeaderAndIsr", 4},
    {"StopReplica", 5},
    {"UpdateMetadata", 6},
    {"ControlledShutdown", 7},
    {"OffsetCommit", 8},
    {"OffsetFetch", 9},
    {"FindCoordinator", 10},
    {"GroupCoordinator", 10},
    {"JoinGroup", 11},
    {"Heartbeat", 12},
    {"LeaveGroup", 13},
    {"SyncGroup", 14},
    {"DescribeGroups", 15},
    {"ListGroups", 16},
    {"SaslHandshake", 17},
    {"ApiVersions", 18},
    {"ApiVersion", 18},
    {"CreateTopics", 19},
    {"DeleteTopics", 20},
    {"DeleteRecords", 21},
    {"InitProducerId", 22},
    {"OffsetForLeaderEpoch", 23},
    {"AddPartitionsToTxn", 24},
    {"AddOffsetsToTxn", 25},
    {"EndTxn", 26},
    {"WriteTxnMarkers", 27},
    {"TxnOffsetCommit", 28},
    {"DescribeAcls", 29},
    {"CreateAcls", 30},
    {"DeleteAcls", 31},
    {"DescribeConfigs", 32},
    {"AlterConfigs", 33},
    {"AlterReplicaLogDirs", 34},
    {"DescribeLogDirs", 35},
    {"SaslAuthenticate", 36},
    {"CreatePartitions", 37},
    {"CreateDelegationToken", 38},
    {"RenewDelegationToken", 39},
    {"ExpireDelegationToken", 40},
    {"DescribeDelegationToken", 41},
    {"DeleteGroups", 42},
    {"ElectLeaders", 43},
    {"IncrementalAlterConfigs", 44},
    {"AlterPartitionReassignments", 45},
    {"ListPartitionReassignments", 46},
}};

std::string_view strip_prefix(std::string_view text, std::string_view prefix) {
  if (text.size() >= prefix.size() && iequals(text.substr(0, prefix.size()), prefix)) {
    return text.substr(prefix.size());
  }
  return text;
}

}  // namespace

std::optional<long long> parse_int(std::string_view text) {
  long long value = 0;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (ec != std::errc{} || ptr != end || text.empty()) return std::nullopt;
  return value;
}

std::optional<std::int16_t> parse_api_key(std::string_view text) {
  if (auto number = parse_int(text)) {
    if (*number < 0 || *number > 32767) return std::nullopt;
    return static_cast<std::int16_t>(*number);
  }
  text = strip_prefix(text, "RD_KAFKAP_");
  if (text.size() > 7 && iequals(text.substr(text.size() - 7), "Request")) text.remove_suffix(7);
  for (const auto& [name, key] : kApiKeys) {
    if (iequals(name, text)) return key;
  }
  return std::nullopt;
}

std::optional<rd_kafka_resp_err_t> parse_error_code(std::string_view text) {
  if (auto number = parse_int(text)) {
    if (*number < -200 || *number > 1000) return std::nullopt;
    return static_cast<rd_kafka_resp_err_t>(*number);
  }
  text = strip_prefix(text, "RD_KAFKA_RESP_ERR_");
  const rd_kafka_err_desc* descs = nullptr;
  size_t count = 0;
  rd_kafka_get_err_descs(&descs, &count);
  // Internal (librdkafka) errors are named "_TRANSPORT"; accept them with or without the underscore,
  // preferring an exact match so that a broker error never loses to an internal one.
  for (size_t i = 0; i < count; ++i) {
    if (descs[i].name != nullptr && iequals(descs[i].name, text)) return descs[i].code;
  }
  for (size_t i = 0; i < count; ++i) {
    const std::string_view name = descs[i].name != nullptr ? descs[i].name : "";
    if (name.size() > 1 && name[0] == '_' && iequals(name.substr(1), text)) return descs[i].code;
  }
  return std::nullopt;
}

}  // namespace archer::devkafka
