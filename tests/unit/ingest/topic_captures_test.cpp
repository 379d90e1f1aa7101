// What ingest makes of a topic's captures before any payload is looked at. The broker refuses to
// deliver topics with NUL, '+' or '#' in a level (and no level holds '/'), so those are tested here;
// what it does let through (a 200-character id, a space) is also tested end to end
// (tests/integration/identity_test.cpp).
#include "archer/ingest/topic_captures.h"

#include <gtest/gtest.h>

namespace archer::ingest {
namespace {

TopicTemplate parse(std::string_view text) {
  std::string error;
  auto parsed = TopicTemplate::parse(text, error);
  EXPECT_TRUE(parsed) << error;
  return *parsed;
}

const TopicTemplate kTelemetry = parse("devices/{device}/telemetry");

TEST(TopicCaptures, AValidDeviceLevelIsCaptured) {
  const TopicCaptures got = capture_topic(kTelemetry, "devices/dev-a/telemetry");
  ASSERT_TRUE(got.ok()) << got.problem;
  ASSERT_EQ(got.values.size(), 1u);
  EXPECT_EQ(got.values[0].name, "device");
  EXPECT_EQ(got.values[0].value, "dev-a");
}

TEST(TopicCaptures, ABadDeviceLevelIsRefusedNamingTheCaptureAndWhy) {
  const std::vector<std::pair<std::string, std::string>> cases{
      {std::string("devices/dev\0a/telemetry", 23),
       "{device} = 'dev\\x00a' in topic 'devices/dev\\x00a/telemetry' contains a NUL byte"},
      {"devices/+/telemetry", "{device} = '+' in topic 'devices/+/telemetry' contains the MQTT wildcard '+'"},
      {"devices/dev-b#/telemetry",
       "{device} = 'dev-b#' in topic 'devices/dev-b#/telemetry' contains the MQTT wildcard '#'"},
      {"devices/dev-\xc3(/telemetry",
       "{device} = 'dev-\\xc3(' in topic 'devices/dev-\\xc3(/telemetry' is not valid UTF-8"},
      {"devices//telemetry", "{device} = '' in topic 'devices//telemetry' is empty"},
      {"devices/bad id!/telemetry",
       "{device} = 'bad id!' in topic 'devices/bad id!/telemetry' contains ' ' (allowed: A-Z a-z 0-9 . _ : -)"},
      {"devices/" + std::string(200, 'd') + "/telemetry",
       "{device} = '" + std::string(64, 'd') + "... (200 bytes)' in topic 'devices/" + std::string(200, 'd') +
           "/telemetry' is 200 bytes long, over the limit of 128"},
  };
  for (const auto& [topic, problem] : cases) {
    const TopicCaptures got = capture_topic(kTelemetry, topic);
    EXPECT_EQ(got.problem, problem + "; an id is [A-Za-z0-9._:-]{1,128}");
  }
}

TEST(TopicCaptures, ATopicOutsideTheTemplateIsRefused) {
  EXPECT_EQ(capture_topic(kTelemetry, "devices/dev-a/telemetry/extra").problem,
            "topic 'devices/dev-a/telemetry/extra' does not match 'devices/{device}/telemetry'");
}

TEST(TopicCaptures, ATopicBeyondTheLimitsIsRefusedSayingWhich) {
  const TopicTemplate any = parse("devices/#");
  EXPECT_EQ(capture_topic(any, "devices/" + std::string(kMaxTopicBytes, 'x')).problem,
            "topic of 1032 bytes exceeds 1024");
  std::string deep = "devices";
  for (std::size_t i = 1; i < kMaxTopicLevels; ++i) deep += "/x";
  EXPECT_TRUE(capture_topic(any, deep).ok());
  EXPECT_EQ(capture_topic(any, deep + "/x").problem, "topic of 33 levels exceeds 32");
}

// Not only the key's captures: every capture names part of who sent the message.
TEST(TopicCaptures, EveryCaptureIsCheckedNotOnlyTheKeys) {
  const TopicTemplate sites = parse("sites/{site}/devices/{device}/telemetry");
  const TopicCaptures got = capture_topic(sites, "sites/north wing/devices/dev-a/telemetry");
  EXPECT_EQ(got.problem,
            "{site} = 'north wing' in topic 'sites/north wing/devices/dev-a/telemetry' contains ' ' (allowed: A-Z "
            "a-z 0-9 . _ : -); an id is [A-Za-z0-9._:-]{1,128}");
  // A level that is not an id is matched with '+', not captured.
  const TopicTemplate any_site = parse("sites/+/devices/{device}/telemetry");
  EXPECT_TRUE(capture_topic(any_site, "sites/north wing/devices/dev-a/telemetry").ok());
}

}  // namespace
}  // namespace archer::ingest
