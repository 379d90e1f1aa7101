// Device identity end to end: a real Mosquitto whose acl_file is the shipped config/mosquitto/acl
// itself (not a copy), a password file made by mosquitto_passwd, no anonymous access; real clients
// logging in as themselves, the real archer-bridge and archer-devsim, archer-devkafka. Then the same
// with the ACL loosened on purpose, to show what the bridge itself still refuses (defence in depth).
// No test sleeps: each waits for a later message it knows must come after the one that must not.
#include <sys/stat.h>

#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>
#include <random>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <mqtt/async_client.h>

#include "archer/protocol/messages.h"
#include "archer/schemas/telemetry_generated.h"
#include "archer/testing/bridge.h"
#include "archer/testing/command_writer.h"
#include "archer/testing/telemetry_section.h"
#include "archer/testing/testing.h"
#include "archer/testing/valves_section.h"

namespace {

using namespace std::chrono_literals;
using archer::testing::Bridge;
using archer::testing::CommandWriter;
using archer::testing::DevKafka;
using archer::testing::DevKafkaOptions;
using archer::testing::json_reading;
using archer::testing::KafkaConsumerForTest;
using archer::testing::Mosquitto;
using archer::testing::MosquittoOptions;
using archer::testing::Process;
using archer::testing::ProcessOptions;
using archer::testing::read_file;
using archer::testing::Record;
using archer::testing::telemetry_section;
using archer::testing::TempDir;
namespace protocol = archer::protocol;

constexpr int kNotAuthorized = 0x87;  // MQTT 5 reason code
const std::string kGatewayUser = "archer-gw-01";
const std::string kShippedAcl = std::string(ARCHER_SOURCE_DIR) + "/config/mosquitto/acl";

const archer::telemetry::Telemetry* telemetry_of(const Record& record) {
  flatbuffers::Verifier verifier(reinterpret_cast<const std::uint8_t*>(record.value.data()), record.value.size());
  EXPECT_TRUE(archer::telemetry::VerifyTelemetryBuffer(verifier));
  return archer::telemetry::GetTelemetry(record.value.data());
}

std::span<const std::uint8_t> bytes_of(const std::string& text) {
  return {reinterpret_cast<const std::uint8_t*>(text.data()), text.size()};
}

std::string text_of(const protocol::Bytes& bytes) { return std::string(bytes.begin(), bytes.end()); }

std::string header(const Record& record, const std::string& name) {
  const auto found = record.headers.find(name);
  return found == record.headers.end() ? "" : found->second;
}

// Reads until a record satisfies `last` or `timeout` passes; every record read, in order. The topics
// of these tests have one partition, so a record that is not among them was never written before `last`.
std::vector<Record> read_until(KafkaConsumerForTest& consumer, const std::function<bool(const Record&)>& last,
                               std::chrono::milliseconds timeout = 30s) {
  std::vector<Record> out;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    for (Record& record : consumer.consume_until(1, std::max(left, 1ms))) {
      out.push_back(std::move(record));
      if (last(out.back())) return out;
    }
  }
  ADD_FAILURE() << "the awaited record did not arrive within " << timeout.count() << " ms; " << out.size() << " read";
  return out;
}

std::string random_password() {
  std::random_device random;
  std::string out;
  for (int i = 0; i < 4; ++i) out += fmt::format("{:08x}", random());
  return out;
}

// An MQTT 5 client that logs in with a user name and password and says what the broker answered.
class Login {
 public:
  Login(const std::string& uri, const std::string& user, const std::string& password)
      : client_(uri, fmt::format("{}-{}", user.substr(0, 16), archer::testing::unique_name("c")),
                mqtt::create_options(MQTTVERSION_5), nullptr) {
    client_.set_message_callback([this](mqtt::const_message_ptr message) {
      std::lock_guard lock(mutex_);
      received_.push_back(std::move(message));
      arrived_.notify_all();
    });
    auto options = mqtt::connect_options_builder()
                       .mqtt_version(MQTTVERSION_5)
                       .clean_start(true)
                       .user_name(user)
                       .password(password)
                       .finalize();
    try {
      client_.connect(options)->wait_for(10s);
    } catch (const mqtt::exception&) {
      // Refused: connected() says so.
    }
  }
  ~Login() {
    try {
      if (client_.is_connected()) client_.disconnect()->wait_for(5s);
    } catch (const mqtt::exception&) {
    }
  }

  bool connected() const { return client_.is_connected(); }

  // QoS 1; the PUBACK's reason code (0: taken, 0x87: not authorized), -1 without an answer. Paho C
  // 1.3.11 closes its connection after a PUBACK of 0x80 or more (Mosquitto keeps it): a client that
  // was refused is not used again.
  int publish(const std::string& topic, const std::string& payload, const mqtt::properties& properties = {}) {
    try {
      auto token = client_.publish(mqtt::message::create(topic, payload, 1, false, properties));
      if (!token->wait_for(10s)) return -1;
      return token->get_reason_code();
    } catch (const mqtt::exception& error) {
      // A refusal carries its reason code; any other failure (not connected) has none.
      return error.get_reason_code() != 0 ? error.get_reason_code() : -1;
    }
  }

  // The SUBACK's reason code (0x01: granted QoS 1, 0x87: not authorized), -1 without an answer.
  int subscribe(const std::string& filter) {
    try {
      auto token = client_.subscribe(filter, 1);
      if (!token->wait_for(10s)) return -1;
      const auto codes = token->get_subscribe_response().get_reason_codes();
      return codes.empty() ? -1 : codes.front();
    } catch (const mqtt::exception& error) {
      return error.get_reason_code() != 0 ? error.get_reason_code() : -1;
    }
  }

  // Waits until a received message satisfies `wanted`; returns it, or null after `timeout`.
  mqtt::const_message_ptr wait_for(const std::function<bool(const mqtt::message&)>& wanted,
                                   std::chrono::milliseconds timeout = 30s) {
    std::unique_lock lock(mutex_);
    mqtt::const_message_ptr found;
    arrived_.wait_for(lock, timeout, [&] {
      for (const auto& message : received_) {
        if (wanted(*message)) found = message;
      }
      return found != nullptr;
    });
    return found;
  }

  std::vector<mqtt::const_message_ptr> received() {
    std::lock_guard lock(mutex_);
    return received_;
  }

 private:
  mqtt::async_client client_;
  std::mutex mutex_;
  std::condition_variable arrived_;
  std::vector<mqtt::const_message_ptr> received_;
};

class IdentityTest : public ::testing::Test {
 protected:
  // The broker with `acl_file`, every user of the test in its password file; then the bridge,
  // logged in as archer-gw-01.
  void start(const std::string& acl_file) {
    for (const std::string& user :
         {kGatewayUser, std::string("dev-a"), std::string("dev-b"), std::string("valve-0001"), long_id_}) {
      add_user(user);
    }
    MosquittoOptions options;
    options.allow_anonymous = false;
    options.extra_config = fmt::format("password_file {}\nacl_file {}\n", password_file().string(), acl_file);
    mqtt_ = std::make_unique<Mosquitto>(options);

    const auto bridge_password = dir_ / "bridge.pass";
    std::ofstream(bridge_password) << passwords_.at(kGatewayUser) << "\n";
    ::chmod(bridge_password.c_str(), 0600);
    bridge_ = std::make_unique<Bridge>(mqtt_->uri(), kafka_.bootstrap(),
                                       telemetry_section() + "\n" + archer::testing::valves_section(), kGatewayUser);
    log_in(*bridge_, kGatewayUser, bridge_password);
    bridge_->start();
  }

  // With the ACL loosened on purpose: every user may read and write every device's topics.
  void start_loosened() {
    const auto acl = dir_ / "acl.loose";
    std::ofstream(acl) << "pattern readwrite devices/#\n";
    start(acl.string());
  }

  void TearDown() override {
    if (bridge_) {
      EXPECT_EQ(bridge_->stop(), 0) << bridge_->log();
    }
    // No password appears in anything a test writes out.
    std::vector<std::filesystem::path> outputs{dir_ / "devsim.log", dir_ / "mosquitto_passwd.log"};
    if (bridge_) outputs.push_back(bridge_->log_file());
    if (mqtt_) {
      outputs.push_back(mqtt_->log_file());
      outputs.push_back(mqtt_->dir() / "mosquitto.stderr");
    }
    for (const auto& path : outputs) {
      if (!std::filesystem::exists(path)) continue;
      const std::string text = read_file(path);
      for (const auto& [user, password] : passwords_) {
        EXPECT_EQ(text.find(password), std::string::npos) << "the password of " << user << " is in " << path;
      }
    }
  }

  std::filesystem::path password_file() const { return dir_ / "passwd"; }

  void add_user(const std::string& user) {
    const std::string password = random_password();
    passwords_[user] = password;
    std::vector<std::string> argv{"/usr/bin/mosquitto_passwd"};
    if (!std::filesystem::exists(password_file())) argv.push_back("-c");
    for (const std::string& arg : {std::string("-b"), password_file().string(), user, password}) argv.push_back(arg);
    Process passwd(argv, ProcessOptions{}.with_stderr_file(dir_ / "mosquitto_passwd.log"));
    ASSERT_EQ(passwd.wait_exit(10s), 0) << read_file(dir_ / "mosquitto_passwd.log");
  }

  // The harness writes [mqtt] without credentials: the bridge's user goes in at its top.
  static void log_in(Bridge& bridge, const std::string& user, const std::filesystem::path& password_file) {
    std::string config = read_file(bridge.config_file());
    const std::string table = "[mqtt]\n";
    const auto at = config.find(table);
    ASSERT_NE(at, std::string::npos) << config;
    config.insert(at + table.size(),
                  fmt::format("username = \"{}\"\npassword_file = \"{}\"\n", user, password_file.string()));
    std::ofstream(bridge.config_file(), std::ios::trunc) << config;
  }

  std::unique_ptr<Login> login(const std::string& user) {
    auto client = std::make_unique<Login>(mqtt_->uri(), user, passwords_.at(user));
    EXPECT_TRUE(client->connected()) << user << " could not log in";
    return client;
  }

  const std::string long_id_ = "dev-" + std::string(196, 'x');  // 200 characters: a valid user, no valid id
  TempDir dir_{"archer-identity"};
  std::map<std::string, std::string> passwords_;  // user -> password
  // One partition each: what was written before a record is read before it.
  DevKafka kafka_{DevKafkaOptions()
                      .with_topic("raw.telemetry:1")
                      .with_topic("dlq.telemetry:1")
                      .with_topic("cmd.valves:1")
                      .with_topic("tx.valves:1")
                      .with_topic("evt.valves:1")
                      .with_topic("dlq.valves:1")};
  std::unique_ptr<Mosquitto> mqtt_;
  std::unique_ptr<Bridge> bridge_;
};

TEST_F(IdentityTest, EveryClientAuthenticates) {
  start(kShippedAcl);
  EXPECT_FALSE(Login(mqtt_->uri(), "dev-a", "not-its-password").connected());
  EXPECT_FALSE(Login(mqtt_->uri(), "", "").connected()) << "no anonymous access";
  EXPECT_TRUE(login("dev-a")->connected());
}

TEST_F(IdentityTest, ADevicePublishingAsAnotherIsRefusedByTheBrokerAndNothingOfItReachesKafka) {
  start(kShippedAcl);
  // What a bridge would take as dev-b's own reading, were it delivered: topic and payload agree.
  EXPECT_EQ(login("dev-a")->publish("devices/dev-b/telemetry", json_reading("dev-b", 1)), kNotAuthorized);
  EXPECT_EQ(login("dev-a")->publish("devices/dev-b/status", "offline"), kNotAuthorized);
  EXPECT_EQ(login("dev-a")->publish("devices/dev-b/responses", "an answer"), kNotAuthorized);
  // Then, on its own topic, a message for the dead-letter topic and a good reading: they come after.
  auto dev_a = login("dev-a");
  EXPECT_EQ(dev_a->publish("devices/dev-a/telemetry", "not a reading"), 0);
  EXPECT_EQ(dev_a->publish("devices/dev-a/telemetry", json_reading("dev-a", 2)), 0);

  KafkaConsumerForTest raw(kafka_.bootstrap(), {"raw.telemetry"});
  const auto accepted = read_until(raw, [](const Record& r) { return r.key == "dev-a"; });
  ASSERT_EQ(accepted.size(), 1u) << "nothing before dev-a's reading";
  EXPECT_EQ(telemetry_of(accepted[0])->seq(), 2u);
  EXPECT_EQ(telemetry_of(accepted[0])->device()->str(), "dev-a");

  KafkaConsumerForTest dead(kafka_.bootstrap(), {"dlq.telemetry"});
  const auto rejected = read_until(dead, [](const Record& r) { return r.value == "not a reading"; });
  ASSERT_EQ(rejected.size(), 1u) << "the forged reading is no dead letter either: it never reached the bridge";
  EXPECT_EQ(header(rejected[0], "archer-source"), "devices/dev-a/telemetry");
  EXPECT_NE(read_file(mqtt_->log_file()).find("Denied PUBLISH"), std::string::npos) << "the broker says why";
}

// Mosquitto 2.0's acl_file grants every SUBSCRIBE (its SUBACK says QoS 1) and checks `read` on each
// message it would deliver: a device may subscribe to another's command topic, and receives nothing.
TEST_F(IdentityTest, ADeviceReadsOnlyItsOwnCommands) {
  start(kShippedAcl);
  auto dev_a = login("dev-a");
  const int other = dev_a->subscribe("devices/dev-b/commands");
  const int every = dev_a->subscribe("devices/+/commands");
  EXPECT_TRUE(other == 1 || other == kNotAuthorized) << other;
  EXPECT_TRUE(every == 1 || every == kNotAuthorized) << every;
  EXPECT_EQ(dev_a->subscribe("devices/dev-a/commands"), 1);
  EXPECT_EQ(login("dev-a")->publish("devices/dev-b/commands", "a command"), kNotAuthorized)
      << "only the bridge writes commands";

  auto gateway = login(kGatewayUser);
  EXPECT_EQ(gateway->publish("devices/dev-b/commands", "for dev-b"), 0);
  EXPECT_EQ(gateway->publish("devices/dev-a/commands", "for dev-a"), 0);
  ASSERT_NE(dev_a->wait_for([](const mqtt::message& m) { return m.get_payload_str() == "for dev-a"; }), nullptr);
  for (const auto& message : dev_a->received()) {
    EXPECT_EQ(message->get_topic(), "devices/dev-a/commands") << "dev-a read " << message->get_payload_str();
  }
}

// The bridge's user reads telemetry and presence and writes commands; archer-devsim logs in as its
// one valve.
TEST_F(IdentityTest, TheBridgeIngestsAndActuatesEndToEnd) {
  start(kShippedAcl);
  const auto devsim_config = dir_ / "devsim.toml";
  std::ofstream(devsim_config) << fmt::format(
      "uri = \"{}\"\nusername = \"valve-0001\"\npassword = \"{}\"\ndevices = 1\nkinds = \"valve\"\n"
      "interval = \"200ms\"\nseed = 7\n",
      mqtt_->uri(), passwords_.at("valve-0001"));
  ::chmod(devsim_config.c_str(), 0600);
  Process devsim(
      {std::string(ARCHER_BIN_DIR) + "/archer-devsim", "--config", devsim_config.string(), "--progress", "never"},
      ProcessOptions{}.with_stderr_file(dir_ / "devsim.log"));

  KafkaConsumerForTest raw(kafka_.bootstrap(), {"raw.telemetry"});
  const auto readings = read_until(raw, [](const Record& r) { return r.key == "valve-0001"; });
  ASSERT_FALSE(readings.empty()) << read_file(dir_ / "devsim.log") << bridge_->log();

  CommandWriter writer(kafka_.bootstrap());
  const std::string id = writer.write("valve-0001", "open", {{"percent", "40"}});
  writer.flush();
  KafkaConsumerForTest events(kafka_.bootstrap(), {"evt.valves"});
  const auto outcomes = events.consume_until(1, 30s);
  ASSERT_EQ(outcomes.size(), 1u) << bridge_->log();
  const auto outcome = protocol::decode_outcome(bytes_of(outcomes[0].value));
  ASSERT_TRUE(outcome);
  EXPECT_EQ(outcome->command_id.str(), id);
  EXPECT_EQ(outcome->status, protocol::OutcomeStatus::SUCCEEDED) << outcome->detail;

  devsim.kill(SIGTERM);
  EXPECT_EQ(devsim.wait_exit(20s), 0) << read_file(dir_ / "devsim.log");
}

// The broker lets a 200-character user write its own topics; the bridge takes no such id.
TEST_F(IdentityTest, AnIdTheBrokerLetsThroughButTooLongIsADeadLetterNamingWhy) {
  start(kShippedAcl);
  auto device = login(long_id_);
  const std::string topic = "devices/" + long_id_ + "/telemetry";
  EXPECT_EQ(device->publish(topic, json_reading(long_id_, 1)), 0);
  EXPECT_EQ(login("dev-a")->publish("devices/dev-a/telemetry", json_reading("dev-a", 2)), 0);

  KafkaConsumerForTest dead(kafka_.bootstrap(), {"dlq.telemetry"});
  const auto rejected = read_until(dead, [&](const Record& r) { return header(r, "archer-source") == topic; });
  ASSERT_EQ(rejected.size(), 1u);
  EXPECT_EQ(header(rejected[0], "archer-error"), "bad_topic");
  EXPECT_EQ(header(rejected[0], "archer-error-detail"),
            "{device} = '" + long_id_.substr(0, 64) + "... (200 bytes)' in topic '" + topic +
                "' is 200 bytes long, over the limit of 128; an id is [A-Za-z0-9._:-]{1,128}");
  EXPECT_EQ(rejected[0].value, json_reading(long_id_, 1)) << "the original bytes";

  KafkaConsumerForTest raw(kafka_.bootstrap(), {"raw.telemetry"});
  const auto accepted = read_until(raw, [](const Record& r) { return r.key == "dev-a"; });
  EXPECT_EQ(accepted.size(), 1u) << "nothing of the long id reached the raw datalog";
}

// With the ACL loosened on purpose, the broker lets dev-a write anywhere; `bind` still refuses a
// reading whose payload and topic name different devices. (Both forged alike cannot be told from
// the real device's by the bridge: that is the ACL's job, hence the shipped one.)
TEST_F(IdentityTest, WithTheAclLoosenedBindStillStopsADeviceSpeakingForAnother) {
  start_loosened();
  auto dev_a = login("dev-a");
  EXPECT_EQ(dev_a->publish("devices/dev-b/telemetry", json_reading("dev-a", 1)), 0) << "the loosened ACL lets it";
  EXPECT_EQ(dev_a->publish("devices/dev-a/telemetry", json_reading("dev-b", 2)), 0);
  EXPECT_EQ(dev_a->publish("devices/dev-a/telemetry", json_reading("dev-a", 3)), 0);

  KafkaConsumerForTest dead(kafka_.bootstrap(), {"dlq.telemetry"});
  int seen = 0;
  const auto rejected = read_until(dead, [&](const Record&) { return ++seen == 2; });
  ASSERT_EQ(rejected.size(), 2u);
  EXPECT_EQ(header(rejected[0], "archer-source"), "devices/dev-b/telemetry");
  EXPECT_EQ(header(rejected[1], "archer-source"), "devices/dev-a/telemetry");
  for (const Record& record : rejected) EXPECT_EQ(header(record, "archer-error"), "bind_mismatch");

  KafkaConsumerForTest raw(kafka_.bootstrap(), {"raw.telemetry"});
  const auto accepted = read_until(raw, [](const Record& r) { return r.key == "dev-a"; });
  ASSERT_EQ(accepted.size(), 1u);
  EXPECT_EQ(telemetry_of(accepted[0])->seq(), 3u);
}

// With the ACL loosened, dev-b reads dev-a's command and answers it first, on its own response
// topic, with dev-a's interaction id. The bridge does not take it; dev-a's own answer decides.
TEST_F(IdentityTest, WithTheAclLoosenedOnlyTheAddressedDeviceAnswersItsCommand) {
  start_loosened();
  auto dev_a = login("dev-a");
  auto dev_b = login("dev-b");
  ASSERT_EQ(dev_a->subscribe("devices/dev-a/commands"), 1);
  ASSERT_EQ(dev_b->subscribe("devices/dev-a/commands"), 1) << "the loosened ACL lets it";

  CommandWriter writer(kafka_.bootstrap());
  const std::string id = writer.write("dev-a", "open", {{"percent", "40"}});
  writer.flush();

  const auto overheard = dev_b->wait_for([](const mqtt::message&) { return true; });
  ASSERT_NE(overheard, nullptr) << bridge_->log();
  const auto command = protocol::decode_device_command(bytes_of(overheard->get_payload_str()));
  ASSERT_TRUE(command);
  const auto correlation = mqtt::get<mqtt::binary>(overheard->get_properties(), mqtt::property::CORRELATION_DATA);
  const mqtt::properties answer_properties{{mqtt::property::CORRELATION_DATA, correlation}};
  const std::string forged = text_of(protocol::encode(
      protocol::DeviceResponse{command->interaction_id, protocol::ResponseStatus::REJECTED, "forged by dev-b", {}}));
  EXPECT_EQ(dev_b->publish("devices/dev-b/responses", forged, answer_properties), 0);

  KafkaConsumerForTest dead(kafka_.bootstrap(), {"dlq.valves"});
  const auto refused = dead.consume_until(1, 30s);
  ASSERT_EQ(refused.size(), 1u) << bridge_->log();
  EXPECT_EQ(header(refused[0], "archer-error"), "wrong_device");
  EXPECT_EQ(header(refused[0], "archer-source"), "devices/dev-b/responses");
  EXPECT_EQ(refused[0].key, "dev-b");
  EXPECT_EQ(refused[0].value, forged);

  // Only now does dev-a answer, to the ResponseTopic of its request.
  const auto request = dev_a->wait_for([](const mqtt::message&) { return true; });
  ASSERT_NE(request, nullptr);
  const auto response_topic = mqtt::get<std::string>(request->get_properties(), mqtt::property::RESPONSE_TOPIC);
  EXPECT_EQ(response_topic, "devices/dev-a/responses");
  const std::string real = text_of(protocol::encode(
      protocol::DeviceResponse{command->interaction_id, protocol::ResponseStatus::OK, "done by dev-a", {}}));
  EXPECT_EQ(dev_a->publish(response_topic, real, answer_properties), 0);

  KafkaConsumerForTest events(kafka_.bootstrap(), {"evt.valves"});
  const auto outcomes = events.consume_until(1, 30s);
  ASSERT_EQ(outcomes.size(), 1u) << bridge_->log();
  const auto outcome = protocol::decode_outcome(bytes_of(outcomes[0].value));
  ASSERT_TRUE(outcome);
  EXPECT_EQ(outcome->command_id.str(), id);
  EXPECT_EQ(outcome->status, protocol::OutcomeStatus::SUCCEEDED);
  EXPECT_EQ(outcome->detail, "done by dev-a");
  EXPECT_EQ(text_of(outcome->response), real);

  // The transaction log holds dev-a's answer as the one RESPONDED, and nothing of dev-b's.
  KafkaConsumerForTest transactions(kafka_.bootstrap(), {"tx.valves"});
  const auto steps = read_until(transactions, [](const Record& r) {
    const auto step = protocol::decode_transaction(bytes_of(r.value));
    return step && step->phase == protocol::Phase::CLOSED;
  });
  int responded = 0;
  for (const Record& record : steps) {
    const auto step = protocol::decode_transaction(bytes_of(record.value));
    ASSERT_TRUE(step);
    EXPECT_NE(text_of(step->payload), forged);
    if (step->phase == protocol::Phase::RESPONDED) {
      ++responded;
      EXPECT_EQ(text_of(step->payload), real);
    }
  }
  EXPECT_EQ(responded, 1);
}

}  // namespace
