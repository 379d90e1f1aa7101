#include <gtest/gtest.h>

#include "archer/core/units.h"

using namespace std::chrono_literals;

TEST(Units, SizesTakeBinaryUnits) {
  std::string error;
  EXPECT_EQ(archer::parse_size("256KiB", error), 256u * 1024);
  EXPECT_EQ(archer::parse_size("1GiB", error), 1ULL << 30);
  EXPECT_EQ(archer::parse_size("3MiB", error), 3ULL << 20);
  EXPECT_EQ(archer::parse_size("512", error), 512u);
  EXPECT_EQ(archer::parse_size("64B", error), 64u);
  EXPECT_EQ(archer::parse_size("0", error), 0u);
}

TEST(Units, BadSizesSayWhatIsWrong) {
  std::string error;
  EXPECT_FALSE(archer::parse_size("1GB", error));
  EXPECT_NE(error.find("unknown unit 'GB'"), std::string::npos) << error;
  EXPECT_FALSE(archer::parse_size("KiB", error));
  EXPECT_NE(error.find("not a size"), std::string::npos) << error;
  EXPECT_FALSE(archer::parse_size("-1KiB", error));
  EXPECT_FALSE(archer::parse_size("1.5MiB", error));
  EXPECT_FALSE(archer::parse_size(" 1KiB", error));
  EXPECT_FALSE(archer::parse_size("", error));
  EXPECT_FALSE(archer::parse_size("99999999999999999999GiB", error));
  EXPECT_FALSE(archer::parse_size("17179869184GiB", error));  // 2^34 GiB overflows 64 bits
  EXPECT_NE(error.find("too large"), std::string::npos) << error;
}

TEST(Units, DurationsTakeMsSecondsMinutesHours) {
  std::string error;
  EXPECT_EQ(archer::parse_duration("500ms", error), 500ms);
  EXPECT_EQ(archer::parse_duration("5s", error), 5s);
  EXPECT_EQ(archer::parse_duration("2m", error), 2min);
  EXPECT_EQ(archer::parse_duration("1h", error), 1h);
  EXPECT_EQ(archer::parse_duration("0s", error), 0ms);
}

TEST(Units, BadDurationsSayWhatIsWrong) {
  std::string error;
  EXPECT_FALSE(archer::parse_duration("5", error));
  EXPECT_NE(error.find("unknown unit ''"), std::string::npos) << error;
  EXPECT_FALSE(archer::parse_duration("5 s", error));
  EXPECT_FALSE(archer::parse_duration("1d", error));
  EXPECT_FALSE(archer::parse_duration("1.5s", error));
  EXPECT_FALSE(archer::parse_duration("s", error));
}

TEST(Units, FormattingPicksTheLargestExactUnit) {
  EXPECT_EQ(archer::format_size(256 * 1024), "256KiB");
  EXPECT_EQ(archer::format_size(1ULL << 30), "1GiB");
  EXPECT_EQ(archer::format_size(1000), "1000B");
  EXPECT_EQ(archer::format_duration(90s), "90s");
  EXPECT_EQ(archer::format_duration(120s), "2m");
  EXPECT_EQ(archer::format_duration(1500ms), "1500ms");
}
