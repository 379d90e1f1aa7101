#include <gtest/gtest.h>

#include <cstring>
#include <fstream>

#include "archer/core/config.h"
#include "archer/core/toml_reader.h"

namespace {

using namespace std::chrono_literals;

// Each test gets its own folder with a schema file, since the loader checks that schemas exist.
class ConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("archer-config-test-" + std::to_string(::getpid()) + "-" + ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_ / "schemas");
    std::ofstream(dir_ / "schemas/telemetry.bfbs") << "placeholder";
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  archer::ConfigResult parse(const std::string& text) { return archer::parse_config(text, dir_ / "gw.toml"); }

  // The errors of `text`, which must not load.
  std::vector<std::string> errors_of(const std::string& text) {
    auto result = parse(text);
    EXPECT_FALSE(result.config) << "loaded although it should not:\n" << text;
    return result.errors;
  }

  std::string file() const { return (dir_ / "gw.toml").string(); }

  std::filesystem::path dir_;
};

const std::string kBase = R"([gateway]
id = "gw-01"

[mqtt]
uri = "tcp://127.0.0.1:1883"

[kafka]
"bootstrap.servers" = "127.0.0.1:9092"
)";

const std::string kIngest = R"(
[[ingest]]
name = "telemetry"
mqtt = "devices/{device}/telemetry"
schema = "schemas/telemetry.bfbs"
topic = "raw.telemetry"
)";

const std::string kFull = R"([gateway]
id = "gw-01"

[mqtt]
uri = "tcp://127.0.0.1:1883"
client_id = "archer-gw-01"
session_expiry = "2h"

[kafka]
"bootstrap.servers" = "127.0.0.1:9092"
"linger.ms" = 5
"enable.idempotence" = true

[spool]
dir = "spool"
max_size = "64MiB"
on_full = "drop_oldest"
sync = "250ms"

[http]
listen = "127.0.0.1:9464"

[[ingest]]
name = "telemetry"
mqtt = "devices/{device}/telemetry"
share_group = "archer"
qos = 1
schema = "schemas/telemetry.bfbs"
formats = ["flatbuffers", "json"]
topic = "raw.telemetry"
key = "{device}"
bind = { device = "device" }
max_payload = "256KiB"
dead_letter = "dlq.telemetry"

[[actuator]]
name = "valves"
commands = "cmd.valves"
transactions = "tx.valves"
events = "evt.valves"
request = "devices/{device}/commands"
response = "devices/{device}/responses"
timeout = "5s"
retries = 2
)";

}  // namespace

TEST_F(ConfigTest, FullConfigLoadsEveryKey) {
  auto result = parse(kFull);
  ASSERT_TRUE(result.config) << ::testing::PrintToString(result.errors);
  const archer::Config& c = *result.config;
  EXPECT_EQ(c.gateway.id, "gw-01");
  EXPECT_EQ(c.mqtt.client_id, "archer-gw-01");
  EXPECT_EQ(c.mqtt.session_expiry, 2h);
  ASSERT_EQ(c.kafka.properties.size(), 3u);
  EXPECT_EQ(c.kafka.properties[1], (std::pair<std::string, std::string>{"linger.ms", "5"}));
  EXPECT_EQ(c.kafka.properties[2].second, "true");
  EXPECT_EQ(c.spool.dir, dir_ / "spool");
  EXPECT_EQ(c.spool.max_size, 64u << 20);
  EXPECT_EQ(c.spool.on_full, archer::SpoolFullPolicy::drop_oldest);
  EXPECT_EQ(c.spool.sync, 250ms);
  ASSERT_TRUE(c.http);
  EXPECT_EQ(c.http->host, "127.0.0.1");
  EXPECT_EQ(c.http->port, 9464);
  ASSERT_EQ(c.ingest.size(), 1u);
  const archer::IngestSection& in = c.ingest[0];
  EXPECT_EQ(in.mqtt.filter(), "devices/+/telemetry");
  EXPECT_EQ(in.share_group, "archer");
  EXPECT_TRUE(in.accepts(archer::PayloadFormat::json));
  EXPECT_EQ(in.schema, dir_ / "schemas/telemetry.bfbs");
  EXPECT_EQ(in.bind, (std::vector<std::pair<std::string, std::string>>{{"device", "device"}}));
  EXPECT_EQ(in.max_payload, 256u * 1024);
  ASSERT_EQ(c.actuators.size(), 1u);
  EXPECT_EQ(c.actuators[0].timeout, 5s);
  EXPECT_EQ(c.actuators[0].retries, 2);
  EXPECT_EQ(c.actuators[0].request.render({"v-1"}), "devices/v-1/commands");
}

TEST_F(ConfigTest, DefaultsForOptionalKeys) {
  auto result = parse(kBase + kIngest);
  ASSERT_TRUE(result.config) << ::testing::PrintToString(result.errors);
  const archer::Config& c = *result.config;
  EXPECT_EQ(c.mqtt.client_id, "archer-gw-01");
  EXPECT_EQ(c.mqtt.session_expiry, 1h);
  EXPECT_FALSE(c.http);
  EXPECT_EQ(c.spool.max_size, 1ULL << 30);
  const archer::IngestSection& in = c.ingest[0];
  EXPECT_EQ(in.qos, 1);
  EXPECT_EQ(in.key.text(), "{device}");
  EXPECT_EQ(in.dead_letter, "dlq.telemetry");
  EXPECT_EQ(in.max_payload, 256u * 1024);
  EXPECT_FALSE(in.accepts(archer::PayloadFormat::json));
}

TEST_F(ConfigTest, UnknownKeyIsNamedWithItsLine) {
  const auto errors = errors_of(kBase + kIngest + "colour = \"blue\"\n");
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0], file() + ":15:1: ingest[0].colour: unknown key");
}

TEST_F(ConfigTest, UnknownKeyInANestedTable) {
  const auto errors = errors_of(R"([gateway]
id = "gw-01"
[mqtt]
uri = "tcp://127.0.0.1:1883"
sesion_expiry = "1h"
[kafka]
"bootstrap.servers" = "x:1"
[[ingest]]
name = "t"
mqtt = "d/{device}"
schema = "schemas/telemetry.bfbs"
topic = "raw"
)");
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0], file() + ":5:1: mqtt.sesion_expiry: unknown key");
}

TEST_F(ConfigTest, BadDurationAndSizeNameKeyAndReason) {
  std::string text = kBase + kIngest;
  text.replace(text.find("[kafka]"), 0, "session_expiry = \"1 hour\"\n\n");
  text += "max_payload = \"256KB\"\n";
  const auto errors = errors_of(text);
  ASSERT_EQ(errors.size(), 2u);
  EXPECT_EQ(errors[0], file() + ":7:18: mqtt.session_expiry: '1 hour' has an unknown unit ' hour': expected ms, s, m or h (\"5s\")");
  EXPECT_EQ(errors[1], file() + ":17:15: ingest[0].max_payload: '256KB' has an unknown unit 'KB': expected B, KiB, MiB or GiB (\"256KiB\")");
}

TEST_F(ConfigTest, WrongTypesAreErrors) {
  std::string text = kBase + kIngest + "qos = \"1\"\n";
  text.replace(text.find("id = \"gw-01\""), 12, "id = 7");
  const auto errors = errors_of(text);
  ASSERT_EQ(errors.size(), 2u);
  EXPECT_EQ(errors[0], file() + ":2:6: gateway.id: expected a string, found integer");
  EXPECT_EQ(errors[1], file() + ":15:7: ingest[0].qos: expected an integer");
}

TEST_F(ConfigTest, QosOutOfRange) {
  const auto errors = errors_of(kBase + kIngest + "qos = 3\n");
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0], file() + ":15:7: ingest[0].qos: 3 is out of range [0, 2]");
}

TEST_F(ConfigTest, KeyPlaceholderMustBeCapturedByTheTopic) {
  const auto errors = errors_of(kBase + kIngest + "key = \"{site}.{device}\"\n");
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0], file() + ":15:7: ingest[0].key: '{site}' is not captured by mqtt = \"devices/{device}/telemetry\"");
}

TEST_F(ConfigTest, BindMustNameACapture) {
  const auto errors = errors_of(kBase + kIngest + "bind = { device = \"dev\" }\n");
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0], file() + ":15:19: ingest[0].bind.device: 'dev' is not captured by mqtt = \"devices/{device}/telemetry\"");
}

TEST_F(ConfigTest, MissingSchemaFile) {
  std::string text = kBase + kIngest;
  text.replace(text.find("schemas/telemetry.bfbs"), 22, "schemas/nope.bfbs");
  const auto errors = errors_of(text);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0], file() + ":13:10: ingest[0].schema: file '" + (dir_ / "schemas/nope.bfbs").string() + "' does not exist");
}

TEST_F(ConfigTest, MissingRequiredTablesAndKeys) {
  const auto errors = errors_of("[gateway]\n[mqtt]\nuri = \"tcp://h:1\"\n");
  ASSERT_EQ(errors.size(), 3u);
  EXPECT_EQ(errors[0], file() + ":1:1: gateway.id: required key is missing");
  EXPECT_EQ(errors[1], file() + ":1:1: [kafka]: required table is missing");
  EXPECT_EQ(errors[2], file() + ":1:1: ingest: the config needs at least one [[ingest]] or [[actuator]] section");
}

TEST_F(ConfigTest, OverlappingIngestSectionsAreAnError) {
  std::string second = kIngest;
  second.replace(second.find("telemetry\"\nmqtt"), 9, "all");
  second.replace(second.find("devices/{device}/telemetry"), 26, "devices/{device}/#");
  const auto errors = errors_of(kBase + kIngest + second);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_NE(errors[0].find("ingest[1].mqtt: 'devices/{device}/#' overlaps 'devices/{device}/telemetry' of section 'telemetry'"),
            std::string::npos)
      << errors[0];
}

TEST_F(ConfigTest, DuplicateSectionNames) {
  const auto errors = errors_of(kBase + kIngest + R"(
[[actuator]]
name = "telemetry"
commands = "c"
transactions = "t"
events = "e"
)");
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_NE(errors[0].find("actuator[0].name: 'telemetry' is used by another section"), std::string::npos) << errors[0];
}

TEST_F(ConfigTest, TomlSyntaxErrorHasAPosition) {
  const auto errors = errors_of(kBase + "oops = \n");
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].rfind(file() + ":9:8: Error while parsing key-value pair", 0), 0u) << errors[0];
}

TEST_F(ConfigTest, TlsNeedsItsFilesAndATlsUri) {
  // ssl:// alone: the broker is verified against the system's trust store.
  std::string text = kBase + kIngest;
  text.replace(text.find("tcp://"), 6, "ssl://");
  EXPECT_TRUE(parse(text).config);

  text.replace(text.find("[kafka]"), 0, "[mqtt.tls]\nca_file = \"ca.pem\"\n\n");
  auto errors = errors_of(text);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_NE(errors[0].find("mqtt.tls.ca_file: file '" + (dir_ / "ca.pem").string() + "' does not exist"), std::string::npos) << errors[0];

  std::ofstream(dir_ / "ca.pem") << "not read here (the startup check loads it)\n";
  EXPECT_TRUE(parse(text).config);

  // [mqtt.tls] with a plain uri would look protected and send everything in the clear.
  text.replace(text.find("ssl://"), 6, "tcp://");
  EXPECT_EQ(errors_of(text), std::vector<std::string>{file() + ":7:1: mqtt.tls: [mqtt.tls] is set but mqtt.uri "
                                                               "'tcp://127.0.0.1:1883' is not a TLS one: use ssl://, "
                                                               "mqtts:// or wss:// in mqtt.uri, or remove [mqtt.tls]"});

  text.replace(text.find("ca_file"), 0, "cert_file = \"ca.pem\"\n");
  text.replace(text.find("tcp://"), 6, "mqtts://");
  errors = errors_of(text);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_NE(errors[0].find("mqtt.tls.cert_file: cert_file and key_file go together"), std::string::npos) << errors[0];
}

TEST_F(ConfigTest, StateDirectoryIsTheDefaultSpoolHome) {
  ::setenv("STATE_DIRECTORY", "/var/lib/archer:/other", 1);
  auto result = parse(kBase + kIngest);
  ::unsetenv("STATE_DIRECTORY");
  ASSERT_TRUE(result.config);
  EXPECT_EQ(result.config->spool.dir, "/var/lib/archer/spool");
}

namespace {

TEST_F(ConfigTest, IngestRetentionIsForeverUnlessADurationIsGiven) {
  auto kept = parse(kBase + kIngest);
  ASSERT_TRUE(kept.config);
  EXPECT_EQ(kept.config->ingest[0].retention, std::nullopt);
  EXPECT_EQ(kept.config->ingest[0].dead_letter_retention, std::nullopt);

  auto timed = parse(kBase + kIngest + "retention = \"forever\"\ndead_letter_retention = \"72h\"\n");
  ASSERT_TRUE(timed.config) << (timed.errors.empty() ? "" : timed.errors[0]);
  EXPECT_EQ(timed.config->ingest[0].retention, std::nullopt);
  EXPECT_EQ(timed.config->ingest[0].dead_letter_retention, std::chrono::milliseconds(72h));

  const auto errors = errors_of(kBase + kIngest + "retention = \"always\"\ndead_letter_retention = \"0s\"\n");
  ASSERT_EQ(errors.size(), 2u);
  EXPECT_EQ(errors[0], file() + ":15:13: ingest[0].retention: 'always' is neither \"forever\" nor a duration such as \"720h\"");
  EXPECT_EQ(errors[1], file() + ":16:25: ingest[0].dead_letter_retention: must be longer than 0ms, or \"forever\"");
}

}  // namespace

TEST_F(ConfigTest, PositionsOfKeysPlaceLaterProblems) {
  auto result = parse(kFull);
  ASSERT_TRUE(result.config) << ::testing::PrintToString(result.errors);
  const archer::Config& c = *result.config;
  // Keys: where their value is.
  EXPECT_EQ(c.positions.of("ingest[0].schema"), (archer::SourcePosition{28, 10}));
  EXPECT_EQ(c.positions.of("ingest[0].bind.device"), (archer::SourcePosition{32, 19}));
  EXPECT_EQ(c.positions.of("kafka.\"linger.ms\""), (archer::SourcePosition{11, 15}));
  EXPECT_EQ(c.positions.of("http.listen"), (archer::SourcePosition{21, 10}));
  EXPECT_TRUE(c.positions.has("mqtt.session_expiry"));
  // A key left at its default: its table; a table the file lacks: the file's start.
  EXPECT_FALSE(c.positions.has("actuator[0].max_concurrent_devices"));
  EXPECT_EQ(c.positions.of("actuator[0].max_concurrent_devices"), (archer::SourcePosition{36, 1}));
  EXPECT_EQ(c.positions.of("kafka.\"client.id\""), (archer::SourcePosition{9, 1}));
  EXPECT_EQ(c.positions.of("mqtt.tls.ca_file"), (archer::SourcePosition{4, 1}));

  EXPECT_EQ(c.error_at("ingest[0].schema", "cannot be loaded"), file() + ":28:10: ingest[0].schema: cannot be loaded");
  EXPECT_EQ(c.error_at("kafka.\"linger.ms\"", "refused"), file() + ":11:15: kafka.\"linger.ms\": refused");
}

TEST_F(ConfigTest, KafkaPropertiesAreScalarsAndNeedBootstrapServers) {
  std::string text = kBase + kIngest;
  text.replace(text.find("\"bootstrap.servers\""), 19, "\"debug\" = [\"all\"]\n\"metadata.max.age.ms\"");
  const auto errors = errors_of(text);
  ASSERT_EQ(errors.size(), 2u);
  EXPECT_EQ(errors[0], file() + ":7:1: kafka.\"bootstrap.servers\": required key is missing");
  EXPECT_EQ(errors[1], file() + ":8:11: kafka.\"debug\": expected a string, number or boolean (a librdkafka property)");
}

namespace {

TEST_F(ConfigTest, LogLevelAndFormat) {
  auto result = parse(kBase + "\n[log]\nlevel = \"warn\"\nformat = \"logfmt\"\n" + kIngest);
  ASSERT_TRUE(result.config) << ::testing::PrintToString(result.errors);
  EXPECT_EQ(result.config->log.level, archer::log::Level::warn);
  EXPECT_EQ(result.config->log.format, archer::log::Format::logfmt);

  auto defaults = parse(kBase + kIngest);
  ASSERT_TRUE(defaults.config);
  EXPECT_EQ(defaults.config->log.level, archer::log::Level::info);
  EXPECT_EQ(defaults.config->log.format, archer::log::Format::text);
}

TEST_F(ConfigTest, BadLogLevelAndFormatAreNamed) {
  const auto errors = errors_of(kBase + "\n[log]\nlevel = \"verbose\"\nformat = \"xml\"\ncolour = 1\n" + kIngest);
  ASSERT_EQ(errors.size(), 3u);
  EXPECT_EQ(errors[0], file() + ":11:9: log.level: 'verbose' must be \"debug\", \"info\", \"warn\" or \"error\"");
  EXPECT_EQ(errors[1], file() + ":12:10: log.format: 'xml' must be \"text\", \"logfmt\" or \"json\"");
  EXPECT_EQ(errors[2], file() + ":13:1: log.colour: unknown key");
}

TEST_F(ConfigTest, SpoolHighWaterIsAPercentage) {
  auto defaults = parse(kBase + kIngest);
  ASSERT_TRUE(defaults.config);
  EXPECT_DOUBLE_EQ(defaults.config->spool.high_water, 0.9);
  for (const auto& [text, fraction] :
       {std::pair{"\"75%\"", 0.75}, {"\"100%\"", 1.0}, {"\"1%\"", 0.01}, {"\"92.5%\"", 0.925}}) {
    auto result = parse(kBase + "\n[spool]\nhigh_water = " + text + "\n" + kIngest);
    ASSERT_TRUE(result.config) << text << ": " << ::testing::PrintToString(result.errors);
    EXPECT_DOUBLE_EQ(result.config->spool.high_water, fraction) << text;
  }
}

TEST_F(ConfigTest, SpoolHighWaterOutsideOneToAHundredPercentIsRefused) {
  for (const char* text : {"\"0.5%\"", "\"101%\"", "\"90\"", "\"%\"", "\"x%\"", "\"-5%\"", "0.9", "90"}) {
    const auto errors = errors_of(kBase + "\n[spool]\nhigh_water = " + text + "\n" + kIngest);
    ASSERT_EQ(errors.size(), 1u) << text;
    const std::string shown = text[0] == '"' ? "'" + std::string(text + 1, std::strlen(text) - 2) + "'" : "the value";
    EXPECT_EQ(errors[0],
              file() + ":11:14: spool.high_water: " + shown + " must be a percentage from 1% to 100%, e.g. \"90%\"");
  }
}

TEST(TableReader, AKeyReadButMissingFromTheKeyTableIsALoaderBug) {
  const toml::table table = toml::parse("known = 1\nread = 2\n");
  archer::ConfigErrors errors("f.toml");
  const std::vector<std::string_view> accepted{"known"};
  {
    archer::TableReader reader(table, "t", errors, nullptr, &accepted);
    reader.integer("known", 0, 9);
    reader.integer("read", 0, 9);
  }
  EXPECT_EQ(errors.sorted(),
            (std::vector<std::string>{"f.toml:1:1: t.read: read by the loader but missing from its key table"}));
}

}  // namespace
