#include "archer/actuators/snapshot.h"

#include <gtest/gtest.h>

#include "archer/actuators/view_loader.h"

namespace archer::actuators {
namespace {

TEST(Snapshot, RoundTrips) {
  Snapshot snapshot;
  snapshot.gateway = "gw-01";
  snapshot.section = "valves";
  snapshot.command_partition = 2;
  snapshot.committed_offset = 41;
  snapshot.time_ms = 123;
  snapshot.transactions = {{0, 10}, {1, 20}};
  snapshot.events = {{0, 5}};
  snapshot.exchanges.push_back(Exchange{InteractionId("i1"), CommandId("c1"), DeviceId("v1"), 2, 99, Bytes{1, 2},
                                        std::nullopt, {2, 41}, true});
  snapshot.done.emplace_back(CommandId("c2"), 42);
  const Bytes bytes = encode(snapshot);
  // As it may come out of a Kafka message set: not aligned.
  Bytes shifted(bytes.size() + 1);
  std::copy(bytes.begin(), bytes.end(), shifted.begin() + 1);
  const auto decoded = decode_snapshot(std::span(shifted).subspan(1));
  ASSERT_TRUE(decoded);
  EXPECT_EQ(decoded->gateway, "gw-01");
  EXPECT_EQ(decoded->command_partition, 2);
  EXPECT_EQ(decoded->committed_offset, 41);
  EXPECT_EQ(decoded->transactions, snapshot.transactions);
  EXPECT_EQ(decoded->events, snapshot.events);
  ASSERT_EQ(decoded->exchanges.size(), 1u);
  EXPECT_EQ(decoded->exchanges[0].interaction_id, InteractionId("i1"));
  EXPECT_EQ(decoded->exchanges[0].attempts, 2u);
  EXPECT_EQ(decoded->exchanges[0].response, (Bytes{1, 2}));
  EXPECT_FALSE(decoded->exchanges[0].closed);
  EXPECT_EQ(decoded->exchanges[0].position.partition, 2);
  EXPECT_EQ(decoded->exchanges[0].position.offset, 41);
  ASSERT_EQ(decoded->done.size(), 1u);
  EXPECT_EQ(decoded->done[0].second, 42);
}

TEST(Snapshot, RefusesWhatIsNotASnapshot) {
  std::string why;
  EXPECT_FALSE(decode_snapshot(Bytes{1, 2, 3, 4, 5, 6, 7, 8, 9}, &why));
  EXPECT_EQ(why, "not an ActuatorSnapshot (ASNP) buffer");
  EXPECT_EQ(snapshot_key("valves", 3), "valves/3");
  EXPECT_EQ(snapshot_topic("gw-01"), "snapshot.gw-01");
}

TEST(Snapshot, AnEmptyOrMisalignedShortRecordIsRefused) {
  const std::uint8_t storage[8] = {};
  std::string why;
  EXPECT_FALSE(decode_snapshot(std::span<const std::uint8_t>(storage + 1, 0), &why));
  EXPECT_EQ(why, "not an ActuatorSnapshot (ASNP) buffer");
  EXPECT_FALSE(decode_snapshot(std::span<const std::uint8_t>(storage + 1, 7), &why));
}

TEST(Snapshot, CommandOffsetHeaderRoundTrips) {
  const CommandPosition position = parse_command_offset(format_command_offset({3, 1234}));
  EXPECT_EQ(position.partition, 3);
  EXPECT_EQ(position.offset, 1234);
  EXPECT_FALSE(parse_command_offset("nonsense").known());
  EXPECT_FALSE(parse_command_offset("").known());
}

}  // namespace
}  // namespace archer::actuators
