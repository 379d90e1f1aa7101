// archer-ctl's flag parsing: every flag error is one line naming the flag, and exit 2.
#include <gtest/gtest.h>

#include "args.h"

namespace archer::ctl {
namespace {

using namespace std::chrono_literals;

const CommandSpec kSpec{
    "tail",
    "usage: archer-ctl tail TOPIC --config FILE [--count N]\n",
    {{"--config", FlagType::text, true},
     {"--count", FlagType::count},
     {"--wait", FlagType::duration},
     {"--arg", FlagType::pair, false, true}},
    {"--follow"},
    {"TOPIC"},
};

// The line printed for `argv`, which must not parse.
std::string error_of(std::vector<std::string> argv) {
  Args::Stop stop;
  EXPECT_FALSE(Args::parse(argv, kSpec, stop));
  EXPECT_EQ(stop.status, kExitUsage);
  return stop.text;
}

TEST(CtlArgs, EveryKindOfFlag) {
  Args::Stop stop;
  const auto args = Args::parse({"raw.telemetry", "--config", "gw.toml", "--count=5", "--wait", "10s", "--arg", "a=1",
                                 "--arg", "b==2", "--follow"},
                                kSpec, stop);
  ASSERT_TRUE(args) << stop.text;
  EXPECT_EQ(args->positional(), std::vector<std::string>{"raw.telemetry"});
  EXPECT_EQ(args->value("--config"), "gw.toml");
  EXPECT_EQ(args->count("--count"), 5u);
  EXPECT_EQ(args->duration("--wait"), 10s);
  EXPECT_EQ(args->pairs("--arg"), (std::vector<std::pair<std::string, std::string>>{{"a", "1"}, {"b", "=2"}}));
  EXPECT_TRUE(args->has("--follow"));
  EXPECT_FALSE(args->count("--absent"));
}

TEST(CtlArgs, BadValuesNameTheFlag) {
  EXPECT_EQ(error_of({"t", "--config", "gw.toml", "--count", "x"}),
            "archer-ctl tail: --count: 'x' is not a whole number\n");
  EXPECT_EQ(error_of({"t", "--config", "gw.toml", "--count", "-1"}),
            "archer-ctl tail: --count: '-1' is not a whole number\n");
  EXPECT_EQ(error_of({"t", "--config", "gw.toml", "--count", "99999999999999999999"}),
            "archer-ctl tail: --count: '99999999999999999999' is not a whole number\n");
  EXPECT_EQ(
      error_of({"t", "--config", "gw.toml", "--wait=soon"}),
      "archer-ctl tail: --wait: 'soon' is not a duration: expected a whole number with a unit, e.g. ms, s, m or h "
      "(\"5s\")\n");
  EXPECT_EQ(error_of({"t", "--config", "gw.toml", "--arg", "=1"}), "archer-ctl tail: --arg: '=1' must be NAME=VALUE\n");
}

TEST(CtlArgs, MissingAndUnknownFlagsAndArguments) {
  EXPECT_EQ(error_of({"t", "--config", "gw.toml", "--count"}), "archer-ctl tail: --count needs a value\n");
  EXPECT_EQ(error_of({"t", "--count", "--config", "gw.toml"}), "archer-ctl tail: --count needs a value\n");
  EXPECT_EQ(error_of({"t", "--config", "gw.toml", "--colour", "red"}), "archer-ctl tail: unknown flag '--colour'\n");
  EXPECT_EQ(error_of({"t", "--count", "1"}), "archer-ctl tail: --config is required\n");
  EXPECT_EQ(error_of({"--config", "gw.toml"}), "archer-ctl tail: TOPIC is required\n");
  EXPECT_EQ(error_of({"t", "u", "--config", "gw.toml"}), "archer-ctl tail: unexpected argument 'u'\n");
  EXPECT_EQ(error_of({"t", "--config", "a.toml", "--config", "b.toml"}), "archer-ctl tail: --config is given twice\n");
  EXPECT_EQ(error_of({"t", "--config", "gw.toml", "--follow=yes"}), "archer-ctl tail: --follow takes no value\n");
}

TEST(CtlArgs, NoArgumentsAndHelpPrintTheUsage) {
  EXPECT_EQ(error_of({}), kSpec.usage);
  Args::Stop stop;
  EXPECT_FALSE(Args::parse({"t", "--help"}, kSpec, stop));
  EXPECT_EQ(stop.status, 0);
  EXPECT_EQ(stop.text, kSpec.usage);
}

}  // namespace
}  // namespace archer::ctl
