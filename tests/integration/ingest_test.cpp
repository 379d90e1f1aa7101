// The data ingestor end to end: a real Mosquitto, a real archer-devkafka, the real archer-bridge
// binary, real MQTT and Kafka clients. The scenarios that make sense on a real cluster (exactly once
// in order, dead letters, redrive) run on both brokers: the `apache` instances on one Apache Kafka
// node shared by the program, each test with its own topics and gateway id (ctest label `kafka`).
#include <gtest/gtest.h>

#include <csignal>
#include <fstream>
#include <map>
#include <set>

#include <flatbuffers/idl.h>
#include <flatbuffers/reflection.h>
#include <fmt/format.h>

#include "archer/schemas/telemetry_generated.h"
#include "archer/schemas/transaction_generated.h"
#include "archer/testing/bridge.h"
#include "archer/testing/mqtt_client.h"
#include "archer/testing/on_both_brokers.h"
#include "archer/testing/testing.h"

namespace {

using namespace std::chrono_literals;
using archer::testing::Bridge;
using archer::testing::DevKafka;
using archer::testing::DevKafkaOptions;
using archer::testing::KafkaCluster;
using archer::testing::KafkaConsumerForTest;
using archer::testing::KafkaKind;
using archer::testing::Mosquitto;
using archer::testing::MqttClient;
using archer::testing::Record;

std::string telemetry_section(std::string_view max_payload = "4KiB", std::string_view topic = "raw.telemetry",
                              std::string_view dead_letter = "dlq.telemetry") {
  return fmt::format(R"([[ingest]]
name = "telemetry"
mqtt = "devices/{{device}}/telemetry"
qos = 1
schema = "{}/telemetry.bfbs"
formats = ["flatbuffers", "json"]
topic = "{}"
key = "{{device}}"
bind = {{ device = "device" }}
max_payload = "{}"
dead_letter = "{}"
)",
                     ARCHER_SCHEMA_DIR, topic, max_payload, dead_letter);
}

// A binary Telemetry root of one of the three kinds, chosen by `kind`.
std::string binary_reading(const std::string& device, std::uint64_t seq, int kind) {
  flatbuffers::FlatBufferBuilder b;
  namespace t = archer::telemetry;
  flatbuffers::Offset<void> reading;
  t::Reading type = t::Reading::NONE;
  switch (kind % 3) {
    case 0:
      reading = t::CreateEnvironmentReadingDirect(b, device.c_str(), seq, 0, 0, 21.5f, 40.0f, 420).Union();
      type = t::Reading::EnvironmentReading;
      break;
    case 1:
      reading =
          t::CreateValveReadingDirect(b, device.c_str(), seq, 0, 0, 40.0f, 40.0f, t::ValveState::OPEN, 3.5f).Union();
      type = t::Reading::ValveReading;
      break;
    default:
      reading = t::CreateMeterReadingDirect(b, device.c_str(), seq, 0, 0, 1234.5, 800.0f, 230.0f).Union();
      type = t::Reading::MeterReading;
      break;
  }
  t::FinishTelemetryBuffer(b, t::CreateTelemetryDirect(b, device.c_str(), seq, type, reading));
  return std::string(reinterpret_cast<const char*>(b.GetBufferPointer()), b.GetSize());
}

std::string json_reading(const std::string& device, std::uint64_t seq, int kind) {
  switch (kind % 3) {
    case 0:
      return fmt::format(
          R"({{"device":"{0}","seq":{1},"reading_type":"EnvironmentReading","reading":{{"device":"{0}","seq":{1},"temperature_c":20.5,"humidity_pct":35.0,"co2_ppm":500}}}})",
          device, seq);
    case 1:
      return fmt::format(
          R"({{"device":"{0}","seq":{1},"reading_type":"ValveReading","reading":{{"device":"{0}","seq":{1},"position_pct":10.0,"state":"OPENING"}}}})",
          device, seq);
    default:
      return fmt::format(
          R"({{"device":"{0}","seq":{1},"reading_type":"MeterReading","reading":{{"device":"{0}","seq":{1},"energy_wh":99.5,"power_w":12.0}}}})",
          device, seq);
  }
}

const archer::telemetry::Telemetry* verified_telemetry(const std::string& value) {
  flatbuffers::Verifier verifier(reinterpret_cast<const std::uint8_t*>(value.data()), value.size());
  if (!archer::telemetry::VerifyTelemetryBuffer(verifier)) return nullptr;
  return archer::telemetry::GetTelemetry(value.data());
}

// A pump schema compiled with flatc at test time: version 1 does not know `rpm`, which the pumps
// already send; version 2 (the fix) does.
void compile_pump_schema(const archer::testing::TempDir& dir, bool with_rpm) {
  std::ofstream(dir / "pump.fbs") << "namespace acme; table Pump { device: string (required); seq: ulong;"
                                  << (with_rpm ? " rpm: uint;" : "") << " } root_type Pump; file_identifier \"PUMP\";";
  archer::testing::Process flatc({FLATC, "-b", "--schema", "-o", dir.path().string(), (dir / "pump.fbs").string()});
  ASSERT_EQ(flatc.wait_exit(30s), 0);
}

std::string pump_section(const std::filesystem::path& schema, std::string_view topic = "raw.pumps",
                         std::string_view dead_letter = "dlq.pumps") {
  return fmt::format(R"([[ingest]]
name = "pumps"
mqtt = "pumps/{{device}}/data"
schema = "{}"
formats = ["json"]
topic = "{}"
dead_letter = "{}"
)",
                     schema.string(), topic, dead_letter);
}

class IngestTest : public ::testing::Test {
 protected:
  Mosquitto mqtt_;
  DevKafka kafka_{DevKafkaOptions().with_topic("raw.telemetry:6").with_topic("dlq.telemetry:3")};
};

// On archer-devkafka and on Apache Kafka (one cluster per program): topics and gateway id per test.
class IngestOnBothBrokers : public archer::testing::OnBothBrokers {
 protected:
  void SetUp() override {
    OnBothBrokers::SetUp();
    if (IsSkipped()) return;
    raw_ = topic("raw.telemetry", 6);
    dead_letters_ = topic("dlq.telemetry", 3);
  }

  std::string raw_;
  std::string dead_letters_;
};

INSTANTIATE_TEST_SUITE_P(Brokers, IngestOnBothBrokers, ::testing::ValuesIn(archer::testing::all_kafka_kinds()),
                         archer::testing::kafka_kind_name);

TEST_P(IngestOnBothBrokers, TenThousandMixedReadingsArriveExactlyOnceInPerDeviceOrder) {
  auto bridge_ = bridge(telemetry_section("4KiB", raw_, dead_letters_));
  Bridge& bridge = *bridge_;
  bridge.start();
  constexpr int kDevices = 100;
  constexpr int kReadings = 100;
  {
    MqttClient publisher(mqtt_.uri(), "test-publisher");
    for (int seq = 1; seq <= kReadings; ++seq) {
      for (int d = 0; d < kDevices; ++d) {
        const std::string device = fmt::format("dev-{:03}", d);
        const std::string payload = (seq + d) % 2 == 0 ? binary_reading(device, static_cast<std::uint64_t>(seq), d)
                                                       : json_reading(device, static_cast<std::uint64_t>(seq), d);
        publisher.publish("devices/" + device + "/telemetry", payload, 1);
      }
    }
    publisher.wait_all();
  }

  KafkaConsumerForTest consumer(bootstrap(), {raw_});
  std::vector<Record> records = consumer.consume_until(kDevices * kReadings, 120s);
  ASSERT_EQ(records.size(), static_cast<std::size_t>(kDevices * kReadings)) << bridge.log();
  // Nothing beyond: a duplicate would be produced right behind the originals.
  EXPECT_TRUE(consumer.consume_until(1, 2s).empty());

  std::set<std::pair<std::string, std::uint64_t>> seen;
  std::map<std::string, std::int32_t> partition_of;
  std::map<std::pair<std::int32_t, std::int64_t>, std::pair<std::string, std::uint64_t>> by_position;
  for (const Record& record : records) {
    const auto* reading = verified_telemetry(record.value);
    ASSERT_NE(reading, nullptr) << "value does not verify against telemetry.fbs";
    const std::string device = reading->device()->str();
    EXPECT_EQ(record.key, device);
    EXPECT_TRUE(seen.emplace(device, reading->seq()).second) << "duplicate " << device << " " << reading->seq();
    auto [it, inserted] = partition_of.emplace(device, record.partition);
    EXPECT_EQ(it->second, record.partition) << device << " is spread over partitions";
    by_position[{record.partition, record.offset}] = {device, reading->seq()};
    EXPECT_EQ(record.headers.at("archer-gateway"), gateway_);
    EXPECT_EQ(record.headers.at("archer-source"), "devices/" + device + "/telemetry");
    EXPECT_EQ(record.headers.at("archer-schema").rfind("telemetry@", 0), 0u) << record.headers.at("archer-schema");
    EXPECT_EQ(record.headers.at("archer-id").size(), 36u);
    EXPECT_EQ(record.headers.at("archer-id")[14], '7');
    EXPECT_FALSE(record.headers.at("archer-time").empty());
  }
  EXPECT_EQ(seen.size(), static_cast<std::size_t>(kDevices * kReadings));
  std::set<std::int32_t> partitions;
  for (const auto& [device, partition] : partition_of) partitions.insert(partition);
  EXPECT_GT(partitions.size(), 1u) << "all devices landed in one partition";

  // Per device, seq strictly increases in partition (offset) order.
  std::map<std::string, std::uint64_t> last_seq;
  for (const auto& [position, reading] : by_position) {
    const auto& [device, seq] = reading;
    EXPECT_GT(seq, last_seq[device]) << device << " out of order at partition " << position.first << " offset "
                                     << position.second;
    last_seq[device] = seq;
  }
  EXPECT_EQ(bridge.stop(), 0);
}

TEST_P(IngestOnBothBrokers, EveryRejectionReasonLandsInTheDeadLetterTopicWithTheOriginalBytes) {
  auto bridge_ = bridge(telemetry_section("4KiB", raw_, dead_letters_));
  Bridge& bridge = *bridge_;
  bridge.start();

  flatbuffers::FlatBufferBuilder other;
  archer::transaction::FinishTransactionBuffer(
      other, archer::transaction::CreateTransactionDirect(other, "i-1", "c-1", "dev-x"));
  const std::string wrong_schema(reinterpret_cast<const char*>(other.GetBufferPointer()), other.GetSize());

  struct Case {
    std::string reason;
    std::string topic;
    std::string payload;
  };
  const std::vector<Case> cases{
      {"too_large", "devices/dev-x/telemetry", std::string(5000, 'x')},
      {"not_flatbuffers", "devices/dev-x/telemetry", "hello"},
      {"schema_mismatch", "devices/dev-x/telemetry", wrong_schema},
      {"bad_json", "devices/dev-x/telemetry", R"({"device": "dev-x", "seq": })"},
      {"bind_mismatch", "devices/dev-x/telemetry", binary_reading("dev-y", 1, 0)},
      {"bad_topic", "devices//telemetry", binary_reading("", 1, 0)},
      {"bad_topic", "devices/bad id!/telemetry", json_reading("bad id!", 1, 0)},
  };
  {
    MqttClient publisher(mqtt_.uri(), "test-publisher");
    int seq = 0;
    for (const Case& c : cases) {
      publisher.publish(c.topic, c.payload, 1);
      publisher.publish("devices/dev-ok/telemetry", binary_reading("dev-ok", static_cast<std::uint64_t>(++seq), 1), 1);
    }
    publisher.wait_all();
  }

  KafkaConsumerForTest dead_letters(bootstrap(), {dead_letters_});
  std::vector<Record> rejected = dead_letters.consume_until(cases.size(), 60s);
  ASSERT_EQ(rejected.size(), cases.size()) << bridge.log();
  std::multiset<std::pair<std::string, std::string>> expected;
  for (const Case& c : cases) expected.emplace(c.reason, c.payload);
  std::multiset<std::pair<std::string, std::string>> got;
  for (const Record& record : rejected) {
    got.emplace(record.headers.at("archer-error"), record.value);
    EXPECT_FALSE(record.headers.at("archer-error-detail").empty());
    EXPECT_EQ(record.headers.at("archer-mqtt-qos"), "1");
    EXPECT_EQ(record.headers.at("archer-mqtt-retain"), "false");
    EXPECT_FALSE(record.headers.at("archer-source").empty());
    EXPECT_FALSE(record.headers.at("archer-id").empty());
  }
  EXPECT_EQ(got, expected);

  KafkaConsumerForTest raw(bootstrap(), {raw_});
  std::vector<Record> accepted = raw.consume_until(cases.size(), 30s);
  ASSERT_EQ(accepted.size(), cases.size());
  for (const Record& record : accepted) EXPECT_EQ(record.key, "dev-ok");
  EXPECT_TRUE(raw.consume_until(1, 2s).empty()) << "only the valid readings reach the raw datalog";
  EXPECT_EQ(bridge.stop(), 0);
}

TEST_F(IngestTest, ReadingsPublishedWhileTheBridgeIsStoppedArriveAfterItsRestart) {
  Bridge bridge(mqtt_.uri(), kafka_.bootstrap(), telemetry_section());
  bridge.start();
  MqttClient publisher(mqtt_.uri(), "test-publisher");
  for (std::uint64_t seq = 1; seq <= 100; ++seq)
    publisher.publish("devices/dev-a/telemetry", binary_reading("dev-a", seq, 0), 1);
  publisher.wait_all();
  KafkaConsumerForTest consumer(kafka_.bootstrap(), {"raw.telemetry"});
  ASSERT_EQ(consumer.consume_until(100, 60s).size(), 100u) << bridge.log();

  ASSERT_EQ(bridge.stop(), 0);
  for (std::uint64_t seq = 101; seq <= 300; ++seq)
    publisher.publish("devices/dev-a/telemetry", binary_reading("dev-a", seq, 0), 1);
  publisher.wait_all();  // the broker holds them for the bridge's persistent session
  bridge.start();

  std::vector<Record> after = consumer.consume_until(200, 60s);
  ASSERT_EQ(after.size(), 200u) << bridge.log();
  std::uint64_t expected_seq = 101;
  for (const Record& record : after) {
    const auto* reading = verified_telemetry(record.value);
    ASSERT_NE(reading, nullptr);
    EXPECT_EQ(reading->seq(), expected_seq++);
  }
  EXPECT_TRUE(consumer.consume_until(1, 2s).empty());
  EXPECT_EQ(bridge.stop(), 0);
}

TEST_F(IngestTest, MqttPropertiesAndTraceContextBecomeKafkaHeaders) {
  Bridge bridge(mqtt_.uri(), kafka_.bootstrap(), telemetry_section());
  bridge.start();
  {
    MqttClient publisher(mqtt_.uri(), "test-publisher");
    mqtt::properties properties{
        {mqtt::property::CONTENT_TYPE, "application/json"},
        {mqtt::property::USER_PROPERTY, "firmware", "1.4.2"},
        {mqtt::property::USER_PROPERTY, "traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"},
    };
    publisher.publish("devices/dev-t/telemetry", json_reading("dev-t", 1, 2), 1, properties);
    publisher.wait_all();
  }
  KafkaConsumerForTest consumer(kafka_.bootstrap(), {"raw.telemetry"});
  auto records = consumer.consume_until(1, 60s);
  ASSERT_EQ(records.size(), 1u) << bridge.log();
  EXPECT_EQ(records[0].headers.at("mqtt.content-type"), "application/json");
  EXPECT_EQ(records[0].headers.at("mqtt.firmware"), "1.4.2");
  EXPECT_EQ(records[0].headers.at("traceparent"), "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
  ASSERT_NE(verified_telemetry(records[0].value), nullptr) << "JSON was converted to FlatBuffers";
  EXPECT_EQ(bridge.stop(), 0);
}

TEST_F(IngestTest, ASchemaTheProjectDoesNotShipWorksFromConfigAlone) {
  archer::testing::TempDir dir("archer-custom-schema");
  const std::string fbs = R"(namespace acme;
table Weather { station: string (required); seq: ulong; wind_kph: float; gusts: [float]; }
root_type Weather;
file_identifier "WTHR";
)";
  std::ofstream(dir / "weather.fbs") << fbs;
  archer::testing::Process flatc({FLATC, "-b", "--schema", "-o", dir.path().string(), (dir / "weather.fbs").string()});
  ASSERT_EQ(flatc.wait_exit(30s), 0);

  Bridge bridge(mqtt_.uri(), kafka_.bootstrap(),
                fmt::format(R"([[ingest]]
name = "weather"
mqtt = "stations/{{station}}/weather"
schema = "{}"
formats = ["flatbuffers", "json"]
topic = "raw.weather"
key = "{{station}}"
bind = {{ station = "station" }}
)",
                            (dir / "weather.bfbs").string()));
  bridge.start();

  // Binary input made the way a device without our headers would: from the schema text.
  flatbuffers::Parser parser;
  ASSERT_TRUE(parser.Parse(fbs.c_str())) << parser.error_;
  {
    MqttClient publisher(mqtt_.uri(), "test-publisher");
    for (int i = 1; i <= 20; ++i) {
      const std::string json =
          fmt::format(R"({{"station":"st-{}","seq":{},"wind_kph":{}.5,"gusts":[1.0,2.0]}})", i % 4, i, i);
      if (i % 2 == 0) {
        ASSERT_TRUE(parser.ParseJson(json.c_str())) << parser.error_;
        publisher.publish(
            fmt::format("stations/st-{}/weather", i % 4),
            std::string(reinterpret_cast<const char*>(parser.builder_.GetBufferPointer()), parser.builder_.GetSize()));
      } else {
        publisher.publish(fmt::format("stations/st-{}/weather", i % 4), json);
      }
    }
    publisher.publish("stations/st-9/weather", R"({"station":"st-8","seq":1})");  // bind mismatch
    publisher.wait_all();
  }

  KafkaConsumerForTest consumer(kafka_.bootstrap(), {"raw.weather"});
  auto records = consumer.consume_until(20, 60s);
  ASSERT_EQ(records.size(), 20u) << bridge.log();
  std::ifstream bfbs_in(dir / "weather.bfbs", std::ios::binary);
  const std::string bfbs((std::istreambuf_iterator<char>(bfbs_in)), std::istreambuf_iterator<char>());
  const reflection::Schema* schema = reflection::GetSchema(bfbs.data());
  for (const Record& record : records) {
    const auto* bytes = reinterpret_cast<const std::uint8_t*>(record.value.data());
    ASSERT_TRUE(flatbuffers::BufferHasIdentifier(bytes, "WTHR"));
    ASSERT_TRUE(flatbuffers::Verify(*schema, *schema->root_table(), bytes, record.value.size()));
    const flatbuffers::Table* root = flatbuffers::GetAnyRoot(bytes);
    const reflection::Field* station = schema->root_table()->fields()->LookupByKey("station");
    EXPECT_EQ(flatbuffers::GetFieldS(*root, *station)->str(), record.key);
  }
  KafkaConsumerForTest dead_letters(kafka_.bootstrap(), {"dlq.weather"});
  auto rejected = dead_letters.consume_until(1, 30s);
  ASSERT_EQ(rejected.size(), 1u);
  EXPECT_EQ(rejected[0].headers.at("archer-error"), "bind_mismatch");
  EXPECT_EQ(bridge.stop(), 0);
}

TEST_P(IngestOnBothBrokers, RedriveAfterASchemaFixTurnsYesterdaysRejectsIntoReadings) {
  archer::testing::TempDir dir("archer-redrive");
  // Version 1 does not know `rpm`, which the pumps already send.
  compile_pump_schema(dir, false);
  const std::string pumps = topic("raw.pumps", 3);
  const std::string pump_dead_letters = topic("dlq.pumps", 3);
  auto bridge_ = bridge(pump_section(dir / "pump.bfbs", pumps, pump_dead_letters));
  Bridge& bridge = *bridge_;
  bridge.start();
  {
    MqttClient publisher(mqtt_.uri(), "test-publisher");
    mqtt::properties properties{{mqtt::property::USER_PROPERTY, "site", "north"}};
    for (int seq = 1; seq <= 10; ++seq) {
      publisher.publish("pumps/p-1/data", fmt::format(R"({{"device":"p-1","seq":{},"rpm":1450}})", seq), 1, properties);
    }
    publisher.wait_all();
  }
  KafkaConsumerForTest dead_letters(bootstrap(), {pump_dead_letters});
  const auto rejected = dead_letters.consume_until(10, 60s);
  ASSERT_EQ(rejected.size(), 10u) << bridge.log();
  std::set<std::string> rejected_ids;
  for (const Record& record : rejected) {
    EXPECT_EQ(record.headers.at("archer-error"), "bad_json");
    rejected_ids.insert(record.headers.at("archer-id"));
  }
  ASSERT_EQ(bridge.stop(), 0);

  // The fix: version 2 knows `rpm`. Redrive with the same config.
  compile_pump_schema(dir, true);
  auto redrive = [&] {
    archer::testing::Process ctl({std::string(ARCHER_BIN_DIR) + "/archer-ctl", "redrive", pump_dead_letters, "--config",
                                  bridge.config_file().string()});
    const std::string out = ctl.read_all(60s);
    EXPECT_EQ(ctl.wait_exit(60s), 0) << out;
    return out;
  };
  EXPECT_NE(redrive().find(fmt::format("10 read, 10 accepted into {}, 0 rejected again", pumps)), std::string::npos);

  KafkaConsumerForTest raw(bootstrap(), {pumps});
  const auto readings = raw.consume_until(10, 30s);
  ASSERT_EQ(readings.size(), 10u);
  for (const Record& record : readings) {
    EXPECT_EQ(record.key, "p-1");
    EXPECT_EQ(rejected_ids.count(record.headers.at("archer-causation")), 1u) << "causation names the dead letter";
    EXPECT_EQ(record.headers.at("archer-source"), "pumps/p-1/data");
    EXPECT_EQ(record.headers.at("mqtt.site"), "north") << "user properties survive the dead-letter trip";
    EXPECT_TRUE(flatbuffers::BufferHasIdentifier(record.value.data(), "PUMP"));
  }
  // Offsets were committed: a second redrive has nothing left to do.
  EXPECT_NE(redrive().find("0 read"), std::string::npos);
}

TEST_F(IngestTest, SighupReloadsSchemasAndSubscriptionsWithoutARestart) {
  archer::testing::TempDir dir("archer-reload");
  compile_pump_schema(dir, false);
  Bridge bridge(mqtt_.uri(), kafka_.bootstrap(), pump_section(dir / "pump.bfbs"));
  bridge.start();
  MqttClient publisher(mqtt_.uri(), "test-publisher");
  publisher.publish("pumps/p-1/data", R"({"device":"p-1","seq":1,"rpm":1450})");
  publisher.wait_all();
  KafkaConsumerForTest dead_letters(kafka_.bootstrap(), {"dlq.pumps"});
  ASSERT_EQ(dead_letters.consume_until(1, 30s).size(), 1u) << "version 1 rejects rpm";

  compile_pump_schema(dir, true);
  bridge.process()->kill(SIGHUP);
  ASSERT_TRUE(archer::testing::wait_until([&] { return bridge.log().find("reload: ") != std::string::npos; }, 10s));
  ASSERT_TRUE(
      archer::testing::wait_until([&] { return bridge.log().find(" applied: 1 ingest") != std::string::npos; }, 10s))
      << bridge.log();
  publisher.publish("pumps/p-1/data", R"({"device":"p-1","seq":2,"rpm":1460})");
  publisher.wait_all();
  KafkaConsumerForTest raw(kafka_.bootstrap(), {"raw.pumps"});
  const auto readings = raw.consume_until(1, 30s);
  ASSERT_EQ(readings.size(), 1u) << bridge.log();
  EXPECT_EQ(readings[0].headers.at("archer-schema").rfind("pump@", 0), 0u);

  // A changed MQTT filter: the new one is subscribed, the old one no longer.
  std::ifstream in(bridge.config_file());
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  in.close();
  text.replace(text.find("pumps/{device}/data"), 19, "pumps/{device}/readings");
  std::ofstream(bridge.config_file()) << text;
  bridge.process()->kill(SIGHUP);
  ASSERT_TRUE(archer::testing::wait_until(
      [&] { return bridge.log().find("unsubscribed from 'pumps/+/data'") != std::string::npos; }, 10s))
      << bridge.log();
  EXPECT_NE(bridge.log().find("subscribed to 'pumps/+/readings'"), std::string::npos) << bridge.log();
  publisher.publish("pumps/p-1/data", R"({"device":"p-1","seq":3,"rpm":1470})");
  publisher.publish("pumps/p-1/readings", R"({"device":"p-1","seq":4,"rpm":1480})");
  publisher.wait_all();
  const auto after = raw.consume_until(2, 5s);
  ASSERT_EQ(after.size(), 1u) << "only the new filter's reading:\n" << bridge.log();
  EXPECT_EQ(after[0].headers.at("archer-source"), "pumps/p-1/readings");
  EXPECT_EQ(bridge.stop(), 0);
}

}  // namespace
