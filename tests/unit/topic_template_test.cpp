#include <gtest/gtest.h>

#include "archer/core/topic_template.h"

namespace {

archer::TopicTemplate parse(std::string_view text) {
  std::string error;
  auto parsed = archer::TopicTemplate::parse(text, error);
  EXPECT_TRUE(parsed) << text << ": " << error;
  return parsed.value_or(*archer::TopicTemplate::parse("x", error));
}

std::string parse_error(std::string_view text) {
  std::string error;
  EXPECT_FALSE(archer::TopicTemplate::parse(text, error)) << text;
  return error;
}

}  // namespace

TEST(TopicTemplate, CapturesBecomeSingleLevelWildcards) {
  const auto t = parse("devices/{device}/telemetry");
  EXPECT_EQ(t.filter(), "devices/+/telemetry");
  EXPECT_EQ(t.capture_names(), std::vector<std::string>{"device"});
  std::vector<std::string_view> captures;
  ASSERT_TRUE(t.match("devices/env-001/telemetry", captures));
  EXPECT_EQ(captures, std::vector<std::string_view>{"env-001"});
}

TEST(TopicTemplate, SeveralCapturesInOrder) {
  const auto t = parse("site/{site}/{device}/data");
  std::vector<std::string_view> captures;
  ASSERT_TRUE(t.match("site/north/v-7/data", captures));
  EXPECT_EQ(captures, (std::vector<std::string_view>{"north", "v-7"}));
  EXPECT_EQ(t.render({"south", "m-1"}), "site/south/m-1/data");
}

TEST(TopicTemplate, MatchFollowsMqttRules) {
  const auto t = parse("devices/{device}/telemetry");
  std::vector<std::string_view> captures;
  EXPECT_FALSE(t.match("devices/a/b/telemetry", captures));
  EXPECT_FALSE(t.match("devices/a", captures));
  EXPECT_FALSE(t.match("devices/a/telemetry/", captures));
  EXPECT_FALSE(t.match("Devices/a/telemetry", captures));
  // An empty level is a level: it matches, and the capture is empty for the caller to reject.
  ASSERT_TRUE(t.match("devices//telemetry", captures));
  EXPECT_EQ(captures, std::vector<std::string_view>{""});
  // UTF-8 is just bytes in a level.
  ASSERT_TRUE(t.match("devices/gerät-ü/telemetry", captures));
  EXPECT_EQ(captures[0], "gerät-ü");
}

TEST(TopicTemplate, DollarTopicsAreNotMatchedByLeadingWildcards) {
  std::vector<std::string_view> captures;
  EXPECT_FALSE(parse("{anything}/broker/uptime").match("$SYS/broker/uptime", captures));
  EXPECT_FALSE(parse("#").match("$SYS/broker/uptime", captures));
  EXPECT_TRUE(parse("$SYS/broker/{what}").match("$SYS/broker/uptime", captures));
}

TEST(TopicTemplate, PlusAndHashAreHandled) {
  const auto plus = parse("devices/+/{device}");
  EXPECT_EQ(plus.filter(), "devices/+/+");
  std::vector<std::string_view> captures;
  ASSERT_TRUE(plus.match("devices/x/y", captures));
  EXPECT_EQ(captures, std::vector<std::string_view>{"y"});

  const auto hash = parse("devices/{device}/#");
  EXPECT_EQ(hash.filter(), "devices/+/#");
  EXPECT_TRUE(hash.match("devices/a/x/y/z", captures));
  EXPECT_TRUE(hash.match("devices/a", captures));  // '#' includes the parent level
  EXPECT_TRUE(hash.has_wildcards());
}

TEST(TopicTemplate, MalformedTemplatesAreRejectedWithAReason) {
  EXPECT_NE(parse_error("devices/#/telemetry").find("'#' may only be the last level"), std::string::npos);
  EXPECT_NE(parse_error("devices/dev-{id}/t").find("a capture must be a whole level"), std::string::npos);
  EXPECT_NE(parse_error("devices/{1x}/t").find("not a valid capture name"), std::string::npos);
  EXPECT_NE(parse_error("devices/{}/t").find("not a valid capture name"), std::string::npos);
  EXPECT_NE(parse_error("{d}/{d}").find("appears twice"), std::string::npos);
  EXPECT_NE(parse_error("a/b+").find("whole level"), std::string::npos);
  EXPECT_NE(parse_error("").find("must not be empty"), std::string::npos);
}

TEST(TopicTemplate, OverlapDetection) {
  EXPECT_TRUE(parse("devices/{d}/telemetry").overlaps(parse("devices/v-1/{x}")));
  EXPECT_TRUE(parse("devices/#").overlaps(parse("devices/{d}/telemetry")));
  EXPECT_FALSE(parse("devices/{d}/telemetry").overlaps(parse("devices/{d}/responses")));
  EXPECT_FALSE(parse("devices/{d}/telemetry").overlaps(parse("devices/{d}/telemetry/extra")));
  EXPECT_TRUE(parse("a/b").overlaps(parse("a/b")));
}

TEST(StringTemplate, RendersPlaceholdersAnywhere) {
  std::string error;
  auto key = archer::StringTemplate::parse("site-1.{device}", error);
  ASSERT_TRUE(key) << error;
  EXPECT_EQ(key->placeholder_names(), std::vector<std::string>{"device"});
  EXPECT_EQ(key->render([](std::string_view name) { return name == "device" ? "v-9" : "?"; }), "site-1.v-9");
  EXPECT_FALSE(archer::StringTemplate::parse("{device", error));
  EXPECT_NE(error.find("not closed"), std::string::npos);
  EXPECT_FALSE(archer::StringTemplate::parse("device}", error));
}

TEST(Ids, DeviceIdsAreRestricted) {
  EXPECT_TRUE(archer::is_valid_id("env-001"));
  EXPECT_TRUE(archer::is_valid_id("site.a:b_c-1"));
  EXPECT_FALSE(archer::is_valid_id(""));
  EXPECT_FALSE(archer::is_valid_id("a b"));
  EXPECT_FALSE(archer::is_valid_id("gerät"));
  EXPECT_FALSE(archer::is_valid_id(std::string(129, 'a')));
  EXPECT_TRUE(archer::is_valid_id(std::string(128, 'a')));
}

TEST(TopicLimits, TemplatesBeyondTheLimitsAreRejected) {
  EXPECT_EQ(parse_error("a/" + std::string(archer::kMaxTopicBytes, 'b')),
            "'a/" + std::string(78, 'b') + "...': a topic template of 1026 bytes exceeds 1024");
  std::string levels = "a";
  for (std::size_t i = 1; i < archer::kMaxTopicLevels; ++i) levels += "/a";
  parse(levels);
  EXPECT_EQ(parse_error(levels + "/a"), "'" + levels + "/a': 33 levels exceed 32");
  parse("{a}/{b}/{c}/{d}/{e}/{f}/{g}/{h}");
  EXPECT_EQ(parse_error("{a}/{b}/{c}/{d}/{e}/{f}/{g}/{h}/{i}"),
            "'{a}/{b}/{c}/{d}/{e}/{f}/{g}/{h}/{i}': more than 8 captures");
}

TEST(TopicLimits, TopicsBeyondTheLimitsMatchNothing) {
  const auto any = parse("#");
  std::vector<std::string_view> captures;
  const std::string longest(archer::kMaxTopicBytes, 'x');
  EXPECT_EQ(archer::topic_limit_problem(longest), std::nullopt);
  EXPECT_TRUE(any.match(longest, captures));
  EXPECT_EQ(archer::topic_limit_problem(longest + "x"), "topic of 1025 bytes exceeds 1024");
  EXPECT_FALSE(any.match(longest + "x", captures));

  std::string levels = "a";
  for (std::size_t i = 1; i < archer::kMaxTopicLevels; ++i) levels += "/a";
  EXPECT_TRUE(any.match(levels, captures));
  EXPECT_EQ(archer::topic_limit_problem(levels + "/"), "topic of 33 levels exceeds 32");
  EXPECT_FALSE(any.match(levels + "/", captures));
}

TEST(StringTemplate, LimitsPlaceholdersAndLength) {
  std::string error;
  EXPECT_TRUE(archer::StringTemplate::parse("{a}{b}{c}{d}{e}{f}{g}{h}", error)) << error;
  EXPECT_FALSE(archer::StringTemplate::parse("{a}{b}{c}{d}{e}{f}{g}{h}{i}", error));
  EXPECT_EQ(error, "'{a}{b}{c}{d}{e}{f}{g}{h}{i}': more than 8 placeholders");
  EXPECT_FALSE(archer::StringTemplate::parse(std::string(1025, 'k'), error));
  EXPECT_EQ(error, "'" + std::string(80, 'k') + "...': a template of 1025 bytes exceeds 1024");
}
