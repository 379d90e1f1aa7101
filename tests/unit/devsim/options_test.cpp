#include <fstream>

#include <gtest/gtest.h>

#include "archer/devsim/options.h"

namespace archer::devsim {
namespace {

ParseResult parse(std::vector<const char*> args, Options& options, std::string& error) {
  args.insert(args.begin(), "archer-devsim");
  return parse_args(static_cast<int>(args.size()), args.data(), options, error);
}

std::string write_file(const std::string& name, const std::string& text) {
  const std::string path = ::testing::TempDir() + name;
  std::ofstream(path) << text;
  return path;
}

TEST(OptionsTest, FlagsInBothSpellings) {
  Options o;
  std::string error;
  ASSERT_EQ(parse({"--devices",
                   "2000",
                   "--duration=20",
                   "--mqtt-version",
                   "3",
                   "--qos",
                   "2",
                   "--kinds",
                   "env:3,valve",
                   "--response-latency",
                   "10ms..200ms",
                   "--fault-oversize",
                   "0.1",
                   "--oversize-bytes",
                   "1MiB",
                   "--traceparent",
                   "--format",
                   "mixed",
                   "--rate",
                   "20000",
                   "--connections",
                   "4",
                   "--disconnect-mode",
                   "unclean"},
                  o, error),
            ParseResult::error);  // traceparent needs MQTT 5
  EXPECT_NE(error.find("traceparent"), std::string::npos);

  Options p;
  ASSERT_EQ(parse({"--devices",
                   "2000",
                   "--duration=20",
                   "--qos",
                   "2",
                   "--kinds",
                   "env:3,valve",
                   "--response-latency",
                   "10ms..200ms",
                   "--fault-oversize",
                   "0.1",
                   "--oversize-bytes",
                   "1MiB",
                   "--traceparent",
                   "--format",
                   "mixed",
                   "--rate",
                   "20000",
                   "--connections",
                   "4",
                   "--disconnect-mode",
                   "unclean"},
                  p, error),
            ParseResult::run)
      << error;
  EXPECT_EQ(p.devices, 2000);
  EXPECT_EQ(p.duration, std::chrono::seconds(20));
  EXPECT_EQ(p.qos, 2);
  ASSERT_EQ(p.kinds.size(), 2u);
  EXPECT_EQ(p.kinds[0].first, Kind::environment);
  EXPECT_EQ(p.kinds[0].second, 3);
  EXPECT_EQ(p.latency_min, std::chrono::milliseconds(10));
  EXPECT_EQ(p.latency_max, std::chrono::milliseconds(200));
  EXPECT_EQ(p.fault_ratio[static_cast<int>(Fault::oversize)], 0.1);
  EXPECT_EQ(p.oversize_bytes, 1024u * 1024);
  EXPECT_TRUE(p.traceparent);
  EXPECT_EQ(p.json_ratio, 0.5);
  EXPECT_EQ(p.rate, 20000);
  EXPECT_EQ(p.connections, 4);
  EXPECT_EQ(p.disconnect_mode, DisconnectMode::unclean);
}

TEST(OptionsTest, LogFormat) {
  Options o;
  std::string error;
  EXPECT_EQ(o.log_format, "text");
  ASSERT_EQ(parse({"--log-format", "json"}, o, error), ParseResult::run) << error;
  EXPECT_EQ(o.log_format, "json");
}

TEST(OptionsTest, BadValuesAndUnknownFlagsAreErrors) {
  for (std::vector<const char*> args :
       std::vector<std::vector<const char*>>{{"--qos", "3"},
                                             {"--devices", "many"},
                                             {"--bogus", "1"},
                                             {"--fault-gremlins", "0.1"},
                                             {"--fault-truncated", "1.5"},
                                             {"--fault-truncated", "0.6", "--fault-bad-json", "0.6"},
                                             {"--kinds", "env,toaster"},
                                             {"--telemetry-topic", "devices/all"},
                                             {"--log-format", "xml"},
                                             {"--devices"}}) {
    Options o;
    std::string error;
    EXPECT_EQ(parse(args, o, error), ParseResult::error) << args[0];
    EXPECT_FALSE(error.empty());
  }
}

TEST(OptionsTest, TomlFileWithFlagsOverriding) {
  const std::string file = write_file("devsim-ok.toml", R"(
uri = "tcp://broker:1883"
devices = 50
interval = "250ms"
json_ratio = 0.25
traceparent = true
fault_bad_json = 0.05
disconnect_every = "30s"
)");
  Options o;
  std::string error;
  ASSERT_EQ(parse({"--devices", "7", "--config", file.c_str()}, o, error), ParseResult::run) << error;
  EXPECT_EQ(o.uri, "tcp://broker:1883");
  EXPECT_EQ(o.devices, 7);  // the flag wins, wherever it is
  EXPECT_EQ(o.interval, std::chrono::milliseconds(250));
  EXPECT_EQ(o.json_ratio, 0.25);
  EXPECT_TRUE(o.traceparent);
  EXPECT_EQ(o.fault_ratio[static_cast<int>(Fault::bad_json)], 0.05);
  EXPECT_EQ(o.disconnect_every, std::chrono::seconds(30));
}

TEST(OptionsTest, TomlErrorsNameFileLineColumnAndKeyAllAtOnce) {
  const std::string file = write_file("devsim-bad.toml", R"(devices = 5

qos = 7
colour = "red"
kinds = ["env"]
interval = "soon"
config = "other.toml"
[broker]
uri = "tcp://h:1883"
)");
  Options o;
  std::string error;
  ASSERT_EQ(parse({"--config", file.c_str()}, o, error), ParseResult::bad_config);
  EXPECT_EQ(error, file + ":3:7: qos: expected an integer from 0 to 2, found '7'\n" +  //
                       file + ":4:1: colour: unknown key\n" +                          //
                       file + ":5:9: kinds: expected a string, number or boolean, found array (keys are top level)\n" +
                       file +
                       ":6:12: interval: 'soon' is not a duration: expected a whole number with a unit, e.g. ms, s, m "
                       "or h (\"5s\")\n" +
                       file + ":7:10: config: not allowed in a config file\n" +  //
                       file + ":8:2: broker: unknown key");
}

TEST(OptionsTest, TomlSyntaxAndUnreadableFiles) {
  const std::string file = write_file("devsim-syntax.toml", "devices = \n");
  Options o;
  std::string error;
  ASSERT_EQ(parse({"--config", file.c_str()}, o, error), ParseResult::bad_config);
  EXPECT_EQ(error.rfind(file + ":1:11: ", 0), 0u) << error;

  ASSERT_EQ(parse({"--config", "/nonexistent/devsim.toml"}, o, error), ParseResult::bad_config);
  EXPECT_EQ(error, "/nonexistent/devsim.toml: cannot be read");
}

TEST(OptionsTest, TomlKeysApplyInFileOrder) {
  // Both set the JSON share: the later one wins, as with flags.
  const std::string file = write_file("devsim-order.toml", "json_ratio = 0.25\nformat = \"json\"\n");
  Options o;
  ASSERT_TRUE(load_toml(o, file).empty());
  EXPECT_EQ(o.json_ratio, 1);
}

TEST(OptionsTest, TheExampleConfigLoads) {
  Options o;
  const std::string file = std::string(ARCHER_SOURCE_DIR) + "/config/devsim.example.toml";
  EXPECT_EQ(load_toml(o, file), std::vector<std::string>{});
  EXPECT_TRUE(o.validate().empty()) << o.validate();
}

}  // namespace
}  // namespace archer::devsim
