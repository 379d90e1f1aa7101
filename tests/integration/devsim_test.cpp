// archer-devsim against a real Mosquitto: telemetry that verifies, commands answered per the device
// protocol, idempotence, presence, faults at their ratios and a fleet of 2,000 clients.
#include <sys/resource.h>

#include <fstream>
#include <iterator>
#include <map>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include <flatbuffers/idl.h>
#include <gtest/gtest.h>

#include "archer/schemas/command_generated.h"
#include "archer/schemas/device_response_generated.h"
#include "archer/schemas/telemetry_generated.h"
#include "archer/testing/mqtt_client.h"
#include "archer/testing/testing.h"

namespace {

using namespace std::chrono_literals;
using archer::testing::Mosquitto;
using archer::testing::MqttClient;
using archer::testing::Process;
using archer::testing::ProcessOptions;
using archer::testing::TempDir;
namespace tel = archer::telemetry;
namespace cmd = archer::command;

const std::string kDevsim = std::string(ARCHER_BIN_DIR) + "/archer-devsim";

std::unique_ptr<Process> start_devsim(const TempDir& dir, const std::string& uri, std::vector<std::string> args) {
  std::vector<std::string> argv = {kDevsim, "--uri", uri, "--progress", "never", "--seed", "42"};
  argv.insert(argv.end(), args.begin(), args.end());
  return std::make_unique<Process>(argv, ProcessOptions{}.with_stderr_file(dir / "devsim.log"));
}

// Stops it with SIGTERM and expects a clean exit.
void stop_devsim(Process& devsim, const TempDir& dir) {
  devsim.kill(SIGTERM);
  auto status = devsim.wait_exit(20s);
  ASSERT_TRUE(status.has_value()) << "archer-devsim did not stop; log:\n" << archer::testing::read_file(dir / "devsim.log");
  EXPECT_EQ(*status, 0) << archer::testing::read_file(dir / "devsim.log");
}

// The JSON report's number at `"key":` (first occurrence after `section`, if given).
long long report_number(const std::string& report, const std::string& key, const std::string& section = "") {
  std::size_t from = section.empty() ? 0 : report.find("\"" + section + "\"");
  if (from == std::string::npos) return -1;
  const auto at = report.find("\"" + key + "\":", from);
  if (at == std::string::npos) return -1;
  return std::stoll(report.substr(at + key.size() + 3));
}

std::string device_of(const std::string& topic) {
  const auto first = topic.find('/');
  const auto second = topic.find('/', first + 1);
  return topic.substr(first + 1, second - first - 1);
}

class TelemetrySchema {
 public:
  TelemetrySchema() {
    std::ifstream in(std::string(ARCHER_SCHEMA_DIR) + "/telemetry.bfbs", std::ios::binary);
    bfbs_.assign(std::istreambuf_iterator<char>(in), {});
  }
  // JSON -> verified Telemetry bytes, or "" when it does not parse.
  std::string from_json(const std::string& json) {
    flatbuffers::Parser parser;
    if (!parser.Deserialize(reinterpret_cast<const std::uint8_t*>(bfbs_.data()), bfbs_.size())) return "";
    if (!parser.Parse(json.c_str())) return "";
    return std::string(reinterpret_cast<const char*>(parser.builder_.GetBufferPointer()), parser.builder_.GetSize());
  }

 private:
  std::string bfbs_;
};

const tel::Telemetry* verify_telemetry(const std::string& bytes) {
  flatbuffers::Verifier verifier(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
  if (!tel::VerifyTelemetryBuffer(verifier)) return nullptr;
  return tel::GetTelemetry(bytes.data());
}

std::string device_command(const std::string& id, const std::string& action, const std::string& percent = "") {
  flatbuffers::FlatBufferBuilder fbb;
  std::vector<flatbuffers::Offset<cmd::Arg>> args;
  if (!percent.empty()) args.push_back(cmd::CreateArgDirect(fbb, "percent", percent.c_str()));
  fbb.Finish(cmd::CreateDeviceCommandDirect(fbb, id.c_str(), action.c_str(), &args), "ADCM");
  return std::string(reinterpret_cast<const char*>(fbb.GetBufferPointer()), fbb.GetSize());
}

const cmd::DeviceResponse* verify_response(const std::string& bytes) {
  if (bytes.size() < 8 || !flatbuffers::BufferHasIdentifier(bytes.data(), "ADRS")) return nullptr;
  flatbuffers::Verifier verifier(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
  if (!verifier.VerifyBuffer<cmd::DeviceResponse>("ADRS")) return nullptr;
  return flatbuffers::GetRoot<cmd::DeviceResponse>(bytes.data());
}

mqtt::properties request_properties(const std::string& response_topic, const std::string& correlation) {
  mqtt::properties props;
  props.add(mqtt::property(mqtt::property::RESPONSE_TOPIC, response_topic));
  props.add(mqtt::property(mqtt::property::CORRELATION_DATA, correlation));
  props.add(mqtt::property(mqtt::property::USER_PROPERTY, "traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"));
  return props;
}

TEST(DevsimTest, TelemetryOfEveryKindAndFormatVerifiesWithIncreasingSeq) {
  Mosquitto broker;
  TempDir dir("devsim");
  MqttClient watcher(broker.uri(), "watcher");
  watcher.subscribe("devices/+/telemetry", 1);
  auto devsim = start_devsim(dir, broker.uri(), {"--devices", "6", "--interval", "0.05", "--format", "mixed", "--traceparent"});
  const auto messages = watcher.wait_messages(120, 15s);
  ASSERT_GE(messages.size(), 120u) << archer::testing::read_file(dir / "devsim.log");
  stop_devsim(*devsim, dir);

  TelemetrySchema schema;
  std::map<std::string, std::uint64_t> last_seq;
  std::set<std::pair<tel::Reading, bool>> seen;  // kind, json
  for (const auto& message : messages) {
    const std::string topic_device = device_of(message->get_topic());
    const std::string& payload = message->get_payload_str();
    const bool json = !payload.empty() && payload.front() == '{';
    const std::string bytes = json ? schema.from_json(payload) : payload;
    ASSERT_FALSE(bytes.empty()) << "JSON that does not parse: " << payload;
    const tel::Telemetry* root = verify_telemetry(bytes);
    ASSERT_NE(root, nullptr) << message->get_topic();
    EXPECT_EQ(root->device()->str(), topic_device);
    EXPECT_GT(root->seq(), last_seq[topic_device]) << topic_device;
    last_seq[topic_device] = root->seq();
    seen.emplace(root->reading_type(), json);
    const auto& props = message->get_properties();
    ASSERT_TRUE(props.contains(mqtt::property::USER_PROPERTY));
    auto [name, value] = mqtt::get<mqtt::string_pair>(props, mqtt::property::USER_PROPERTY, 0);
    EXPECT_EQ(name, "traceparent");
    EXPECT_TRUE(std::regex_match(value, std::regex("00-[0-9a-f]{32}-[0-9a-f]{16}-01"))) << value;
  }
  EXPECT_EQ(last_seq.size(), 6u);
  EXPECT_EQ(seen.size(), 6u) << "every kind in both formats";
  EXPECT_TRUE(last_seq.count("env-0001") && last_seq.count("valve-0002") && last_seq.count("meter-0002"));
}

TEST(DevsimTest, CommandIsAnsweredOnceAndChangesLaterTelemetry) {
  Mosquitto broker;
  TempDir dir("devsim");
  MqttClient gateway(broker.uri(), "test-gateway");
  gateway.subscribe("devices/valve-0001/status", 1);
  gateway.subscribe("test/responses", 1);
  gateway.subscribe("devices/valve-0001/telemetry", 1);
  auto devsim = start_devsim(dir, broker.uri(),
                             {"--devices", "1", "--kinds", "valve", "--interval", "0.05", "--valve-speed", "400", "--format", "json",
                              "--report", (dir / "report.json").string()});
  auto find = [&](const std::function<bool(const mqtt::const_message_ptr&)>& predicate, std::chrono::milliseconds timeout) {
    mqtt::const_message_ptr found;
    archer::testing::wait_until(
        [&] {
          for (const auto& m : gateway.wait_messages(0, 0ms)) {
            if (predicate(m)) found = m;
          }
          return found != nullptr;
        },
        timeout);
    return found;
  };
  ASSERT_TRUE(find([](const auto& m) { return m->get_topic() == "devices/valve-0001/status" && m->to_string() == "online"; }, 10s))
      << archer::testing::read_file(dir / "devsim.log");

  const std::string request = device_command("0190a8f0-0000-7000-8000-000000000001", "set", "40");
  gateway.publish("devices/valve-0001/commands", request, 1, request_properties("test/responses", "corr-1"));
  auto responses_with = [&](const std::string& correlation) {
    std::vector<mqtt::const_message_ptr> out;
    for (const auto& m : gateway.wait_messages(0, 0ms)) {
      if (m->get_topic() == "test/responses" && m->get_properties().contains(mqtt::property::CORRELATION_DATA) &&
          mqtt::get<std::string>(m->get_properties(), mqtt::property::CORRELATION_DATA) == correlation) {
        out.push_back(m);
      }
    }
    return out;
  };
  ASSERT_TRUE(archer::testing::wait_until([&] { return !responses_with("corr-1").empty(); }, 10s));
  const auto first = responses_with("corr-1").front();
  const cmd::DeviceResponse* response = verify_response(first->get_payload_str());
  ASSERT_NE(response, nullptr);
  EXPECT_EQ(response->status(), cmd::ResponseStatus::OK);
  EXPECT_EQ(response->interaction_id()->str(), "0190a8f0-0000-7000-8000-000000000001");
  const auto& props = first->get_properties();
  ASSERT_TRUE(props.contains(mqtt::property::USER_PROPERTY));
  EXPECT_EQ(std::get<1>(mqtt::get<mqtt::string_pair>(props, mqtt::property::USER_PROPERTY, 0)),
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");

  // Later telemetry shows the new target, and the valve gets there.
  EXPECT_TRUE(find(
      [](const auto& m) {
        const std::string text = m->to_string();
        return m->get_topic() == "devices/valve-0001/telemetry" && text.find("\"target_pct\":40,") != std::string::npos &&
               text.find("\"position_pct\":40,") != std::string::npos && text.find("\"state\":\"OPEN\"") != std::string::npos;
      },
      10s));

  // The same interaction again (a gateway retry): identical bytes, no second action.
  gateway.publish("devices/valve-0001/commands", request, 1, request_properties("test/responses", "corr-2"));
  ASSERT_TRUE(archer::testing::wait_until([&] { return !responses_with("corr-2").empty(); }, 10s));
  EXPECT_EQ(responses_with("corr-2").front()->get_payload_str(), first->get_payload_str());

  // An unknown action is rejected with a reason.
  gateway.publish("devices/valve-0001/commands", device_command("0190a8f0-0000-7000-8000-000000000002", "fly"), 1,
                  request_properties("test/responses", "corr-3"));
  ASSERT_TRUE(archer::testing::wait_until([&] { return !responses_with("corr-3").empty(); }, 10s));
  const cmd::DeviceResponse* rejected = verify_response(responses_with("corr-3").front()->get_payload_str());
  ASSERT_NE(rejected, nullptr);
  EXPECT_EQ(rejected->status(), cmd::ResponseStatus::REJECTED);
  EXPECT_NE(rejected->detail()->str().find("fly"), std::string::npos);

  stop_devsim(*devsim, dir);
  const std::string report = archer::testing::read_file(dir / "report.json");
  EXPECT_EQ(report_number(report, "received", "commands"), 3) << report;
  EXPECT_EQ(report_number(report, "performed", "commands"), 1) << report;
  EXPECT_EQ(report_number(report, "duplicates", "commands"), 1) << report;
  EXPECT_EQ(report_number(report, "rejected", "commands"), 1) << report;
  // A clean stop leaves the retained status offline.
  EXPECT_TRUE(find([](const auto& m) { return m->get_topic() == "devices/valve-0001/status" && m->to_string() == "offline"; }, 5s));
}

TEST(DevsimTest, Mqtt311DeviceAnswersOnItsResponseTopicWithTheInteractionId) {
  Mosquitto broker;
  TempDir dir("devsim");
  MqttClient gateway(broker.uri(), "test-gateway");
  gateway.subscribe("devices/valve-0001/#", 1);
  auto devsim = start_devsim(dir, broker.uri(), {"--devices", "1", "--kinds", "valve", "--mqtt-version", "3"});
  ASSERT_TRUE(archer::testing::wait_until(
      [&] {
        for (const auto& m : gateway.wait_messages(0, 0ms)) {
          if (m->get_topic() == "devices/valve-0001/status" && m->to_string() == "online") return true;
        }
        return false;
      },
      10s));
  gateway.publish("devices/valve-0001/commands", device_command("iid-311", "open"), 1);
  const cmd::DeviceResponse* response = nullptr;
  ASSERT_TRUE(archer::testing::wait_until(
      [&] {
        for (const auto& m : gateway.wait_messages(0, 0ms)) {
          if (m->get_topic() == "devices/valve-0001/responses") {
            static std::string payload;
            payload = m->get_payload_str();
            response = verify_response(payload);
            return true;
          }
        }
        return false;
      },
      10s));
  ASSERT_NE(response, nullptr);
  EXPECT_EQ(response->interaction_id()->str(), "iid-311");
  EXPECT_EQ(response->status(), cmd::ResponseStatus::OK);
  stop_devsim(*devsim, dir);
}

TEST(DevsimTest, UncleanDisconnectFiresTheWillAndTheDeviceComesBack) {
  Mosquitto broker;
  TempDir dir("devsim");
  MqttClient watcher(broker.uri(), "watcher");
  watcher.subscribe("devices/env-0001/status", 1);
  auto devsim = start_devsim(dir, broker.uri(),
                             {"--devices", "1", "--kinds", "env", "--disconnect-every", "1", "--disconnect-mode", "unclean",
                              "--reconnect-after", "200ms"});
  auto statuses = [&] {
    std::vector<std::string> out;
    for (const auto& m : watcher.wait_messages(0, 0ms)) out.push_back(m->to_string());
    return out;
  };
  ASSERT_TRUE(archer::testing::wait_until(
      [&] {
        const auto s = statuses();
        return s.size() >= 3 && s[0] == "online" && s[1] == "offline" && s[2] == "online";
      },
      10s))
      << ::testing::PrintToString(statuses());
  stop_devsim(*devsim, dir);
  EXPECT_NE(archer::testing::read_file(broker.log_file()).find("will"), std::string::npos);
}

TEST(DevsimTest, EachFaultKindAtItsRatio) {
  Mosquitto broker;
  TempDir dir("devsim");
  MqttClient watcher(broker.uri(), "watcher");
  watcher.subscribe("devices/+/telemetry", 1);
  auto devsim = start_devsim(dir, broker.uri(),
                             {"--devices", "2", "--rate", "500", "--format", "mixed", "--fault-random-bytes", "0.1", "--fault-truncated", "0.1",
                              "--fault-wrong-schema", "0.1", "--fault-wrong-device", "0.1", "--fault-oversize", "0.1", "--fault-bad-json",
                              "0.1"});
  auto messages = watcher.wait_messages(1000, 30s);
  ASSERT_GE(messages.size(), 1000u);
  stop_devsim(*devsim, dir);
  messages.resize(1000);

  TelemetrySchema schema;
  std::map<std::string, int> kinds;
  for (const auto& message : messages) {
    const std::string& payload = message->get_payload_str();
    const std::string device = device_of(message->get_topic());
    std::string kind;
    if (payload.size() > 300 * 1024) {
      kind = "oversize";
    } else if (!payload.empty() && payload.front() == '{') {
      const std::string bytes = schema.from_json(payload);
      if (bytes.empty()) kind = "bad_json";
      else kind = verify_telemetry(bytes)->device()->str() == device ? "good" : "wrong_device";
    } else if (payload.size() >= 8 && flatbuffers::BufferHasIdentifier(payload.data(), "ACMD")) {
      flatbuffers::Verifier verifier(reinterpret_cast<const std::uint8_t*>(payload.data()), payload.size());
      kind = cmd::VerifyCommandBuffer(verifier) ? "wrong_schema" : "random_bytes";
    } else if (const tel::Telemetry* root = verify_telemetry(payload)) {
      kind = root->device()->str() == device ? "good" : "wrong_device";
    } else {
      kind = payload.size() >= 8 && flatbuffers::BufferHasIdentifier(payload.data(), "ATEL") ? "truncated" : "random_bytes";
    }
    ++kinds[kind];
  }
  for (const char* kind : {"random_bytes", "truncated", "wrong_schema", "wrong_device", "oversize", "bad_json"}) {
    EXPECT_GE(kinds[kind], 80) << kind;
    EXPECT_LE(kinds[kind], 120) << kind;
  }
  EXPECT_NEAR(kinds["good"], 400, 80);
}

TEST(DevsimTest, HoldsTwoThousandClients) {
  // A socket per client on both sides: the broker (our child) inherits the raised limit.
  rlimit limit{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &limit), 0);
  if (limit.rlim_max < 4200) GTEST_SKIP() << "ulimit -Hn is " << limit.rlim_max << "; 2,000 clients need more";
  limit.rlim_cur = limit.rlim_max;
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &limit), 0);
  Mosquitto broker;
  TempDir dir("devsim");
  auto devsim = start_devsim(dir, broker.uri(),
                             {"--devices", "2000", "--interval", "2", "--duration", "8", "--report", (dir / "report.json").string()});
  const auto status = devsim->wait_exit(60s);
  ASSERT_TRUE(status.has_value());
  EXPECT_EQ(*status, 0) << archer::testing::read_file(dir / "devsim.log");
  const std::string report = archer::testing::read_file(dir / "report.json");
  EXPECT_EQ(report_number(report, "connected_clients"), 2000) << report;
  EXPECT_EQ(report_number(report, "connection_lost"), 0) << report;
  EXPECT_GT(report_number(report, "acked"), 4000) << report;
}

}  // namespace
