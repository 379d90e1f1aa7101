#include <gtest/gtest.h>

#include <set>

#include "archer/core/uuid.h"

TEST(Uuid, VersionVariantAndTimestamp) {
  archer::UuidV7Generator generator([] { return std::int64_t{1'764'000'000'123}; }, 42);
  const archer::Uuid id = generator.next();
  EXPECT_EQ(id.version(), 7);
  EXPECT_EQ(id.bytes[8] >> 6, 0b10);  // RFC 9562 variant
  EXPECT_EQ(id.unix_ms(), 1'764'000'000'123);
}

TEST(Uuid, TextRoundTrip) {
  archer::UuidV7Generator generator;
  const archer::Uuid id = generator.next();
  const std::string text = id.to_string();
  ASSERT_EQ(text.size(), 36u);
  EXPECT_EQ(text[14], '7');
  EXPECT_EQ(archer::Uuid::parse(text), id);
  EXPECT_FALSE(archer::Uuid::parse("not-a-uuid"));
  EXPECT_FALSE(archer::Uuid::parse("0192f0c1-7c1a-7000-8000-00000000000g"));
  EXPECT_FALSE(archer::Uuid::parse("0192f0c1x7c1a-7000-8000-000000000000"));
}

TEST(Uuid, StrictlyIncreasingWithinAMillisecondAndWhenTheClockStepsBack) {
  std::int64_t now = 1'000'000;
  archer::UuidV7Generator generator([&] { return now; }, 7);
  archer::Uuid previous = generator.next();
  for (int i = 0; i < 100'000; ++i) {
    if (i == 50'000) now -= 5'000;  // wall clock steps back
    if (i % 1000 == 0 && i > 60'000) ++now;
    const archer::Uuid next = generator.next();
    ASSERT_LT(previous, next) << i;
    ASSERT_LT(previous.to_string(), next.to_string()) << i;  // text order equals byte order
    previous = next;
  }
}

TEST(Uuid, DistinctAcrossGenerators) {
  std::set<std::string> seen;
  for (int g = 0; g < 10; ++g) {
    archer::UuidV7Generator generator([] { return std::int64_t{5}; }, static_cast<std::uint64_t>(g));
    for (int i = 0; i < 1000; ++i) ASSERT_TRUE(seen.insert(generator.next().to_string()).second);
  }
}
