#include <gtest/gtest.h>

#include "archer/core/log.h"

namespace {

TEST(RateLimit, OneLinePerIntervalWithTheCountHeldBack) {
  archer::log::RateLimit limit(std::chrono::seconds(10));
  std::uint64_t suppressed = 99;
  ASSERT_TRUE(limit.allow(suppressed, 1'000'000));
  EXPECT_EQ(suppressed, 0u);
  for (std::int64_t at = 1'000'001; at < 1'000'004; ++at) EXPECT_FALSE(limit.allow(suppressed, at));
  EXPECT_FALSE(limit.allow(suppressed, 1'009'999));
  ASSERT_TRUE(limit.allow(suppressed, 1'010'000));
  EXPECT_EQ(suppressed, 4u) << "the lines held back since the last one written";
  ASSERT_TRUE(limit.allow(suppressed, 1'020'000));
  EXPECT_EQ(suppressed, 0u);
}

}  // namespace
