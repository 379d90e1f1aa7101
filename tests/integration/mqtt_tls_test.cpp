// TLS to the broker, end to end: a real Mosquitto with a TLS listener, a CA and certificates made by
// openssl inside the test, archer-devkafka and the real archer-bridge. Good certificates connect and
// ingest; a wrong CA, an expired server certificate, one for another host, a missing client
// certificate and a broker that speaks only TLS 1.1 are each refused with one line naming the
// cause, while readings wait for the bridge at the broker and none reaches Kafka.
#include <gtest/gtest.h>

#include <atomic>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <librdkafka/rdkafkacpp.h>
#include <mqtt/async_client.h>

#include "archer/testing/bridge.h"
#include "archer/testing/certificates.h"
#include "archer/testing/http.h"
#include "archer/testing/mqtt_client.h"
#include "archer/testing/telemetry_section.h"
#include "archer/testing/testing.h"

namespace {

using namespace std::chrono_literals;
using archer::testing::Bridge;
using archer::testing::Certificate;
using archer::testing::CertificateRequest;
using archer::testing::DevKafka;
using archer::testing::DevKafkaOptions;
using archer::testing::json_reading;
using archer::testing::KafkaConsumerForTest;
using archer::testing::Mosquitto;
using archer::testing::MosquittoOptions;
using archer::testing::MosquittoTlsListener;
using archer::testing::MqttClient;
using archer::testing::Process;
using archer::testing::ProcessOptions;
using archer::testing::telemetry_section;
using archer::testing::TempDir;
using archer::testing::TestCa;
using archer::testing::wait_until;

constexpr const char* kBridgeClientId = "archer-test-gw";  // the harness Bridge's default
constexpr const char* kFilter = "devices/+/telemetry";
constexpr int kReadings = 5;
const std::vector<std::string> kTopics{"raw.telemetry", "dlq.telemetry"};

// [mqtt.tls] for the bridge; empty paths are left out.
std::string tls_table(const std::filesystem::path& ca, const Certificate* client = nullptr) {
  std::string out = "[mqtt.tls]\n";
  if (!ca.empty()) out += fmt::format("ca_file = \"{}\"\n", ca.string());
  if (client != nullptr)
    out += fmt::format("cert_file = \"{}\"\nkey_file = \"{}\"\n", client->cert.string(), client->key.string());
  return out + "\n";
}

std::vector<std::string> lines_with(const std::string& text, const std::string& words) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start < text.size()) {
    const std::size_t end = std::min(text.find('\n', start), text.size());
    const std::string line = text.substr(start, end - start);
    if (line.find(words) != std::string::npos) out.push_back(line);
    start = end + 1;
  }
  return out;
}

// The bridge's persistent session at the broker, held by the test while the bridge is refused: the
// broker queues the devices' readings for it, so an empty Kafka topic means the bridge never got
// them, not that nobody published.
class BridgeSession {
 public:
  explicit BridgeSession(const Mosquitto& broker)
      : client_(broker.uri(), kBridgeClientId, mqtt::create_options(MQTTVERSION_5), nullptr) {
    // Paho C++ 1.2.0: MQTT 5 properties must be set on the object connect() is given, kept alive.
    options_ = mqtt::connect_options_builder().mqtt_version(MQTTVERSION_5).clean_start(false).finalize();
    options_.set_properties(mqtt::properties{{mqtt::property::SESSION_EXPIRY_INTERVAL, 3600}});
    client_.set_message_callback([this](mqtt::const_message_ptr) { ++received_; });
  }

  void subscribe_and_leave() {
    ASSERT_TRUE(client_.connect(options_)->wait_for(10s));
    ASSERT_TRUE(client_.subscribe(kFilter, 1)->wait_for(10s));
    ASSERT_TRUE(client_.disconnect()->wait_for(10s));
  }

  // Takes the session back and counts what was queued for it (waits for `expected`, 20 s at most).
  int take_back_queued(int expected) {
    EXPECT_TRUE(client_.connect(options_)->wait_for(10s));
    wait_until([&] { return received_.load() >= expected; }, 20s, 20ms);
    client_.disconnect()->wait_for(10s);
    return received_.load();
  }

 private:
  mqtt::async_client client_;
  mqtt::connect_options options_;
  std::atomic<int> received_{0};
};

class MqttTlsTest : public ::testing::Test {
 protected:
  std::unique_ptr<Mosquitto> broker(const Certificate& server, bool require_certificate) {
    MosquittoTlsListener tls;
    tls.cafile = ca_.cert();
    tls.certfile = server.cert;
    tls.keyfile = server.key;
    tls.require_certificate = require_certificate;
    MosquittoOptions options;
    options.tls = tls;
    return std::make_unique<Mosquitto>(options);
  }

  void publish_readings(const Mosquitto& broker) {
    MqttClient device(broker.uri(), "env-0001");
    for (int seq = 1; seq <= kReadings; ++seq)
      device.publish("devices/env-0001/telemetry", json_reading("env-0001", seq));
    device.wait_all();
  }

  // Records in the raw datalog and the dead letters: the topics' end offsets, exactly.
  std::int64_t records_in_kafka() {
    KafkaConsumerForTest consumer(kafka_.bootstrap(), kTopics);
    std::int64_t total = 0;
    for (const std::string& topic : kTopics) {
      for (std::int32_t partition = 0; partition < 3; ++partition) {
        std::int64_t low = 0;
        std::int64_t high = 0;
        const RdKafka::ErrorCode rc = consumer.consumer().query_watermark_offsets(topic, partition, &low, &high, 5000);
        EXPECT_EQ(rc, RdKafka::ERR_NO_ERROR) << topic << "/" << partition << ": " << RdKafka::err2str(rc);
        total += high;
      }
    }
    return total;
  }

  // Starts the bridge on `uri` with `tls`, lets it try and fail several times, and checks: one log
  // line for the cause (holding `cause`), never connected, not ready, nothing in Kafka, no key in
  // the log. With a broker, the readings published meanwhile are still queued for the bridge.
  void expect_refused(const std::string& uri, const std::string& tls, const std::string& cause,
                      const Mosquitto* mosquitto) {
    std::unique_ptr<BridgeSession> session;
    if (mosquitto != nullptr) {
      session = std::make_unique<BridgeSession>(*mosquitto);
      ASSERT_NO_FATAL_FAILURE(session->subscribe_and_leave());
    }
    Bridge bridge(uri, kafka_.bootstrap(), tls + telemetry_section());
    bridge.launch();
    if (mosquitto != nullptr) publish_readings(*mosquitto);
    // Three failed attempts at least (each is followed by this line), so the cause would have been
    // written three times without the limit on repeated lines.
    ASSERT_TRUE(wait_until([&] { return lines_with(bridge.log(), "next connection attempt").size() >= 3; }, 30s, 50ms))
        << bridge.log();
    const std::string log = bridge.log();
    const std::vector<std::string> failures = lines_with(log, "TLS handshake with " + uri + " failed: ");
    ASSERT_EQ(failures.size(), 1u) << log;
    EXPECT_NE(failures[0].find(cause), std::string::npos) << failures[0];
    EXPECT_NE(failures[0].find(" error mqtt: "), std::string::npos) << failures[0];
    EXPECT_TRUE(lines_with(log, "mqtt: connected to").empty()) << log;
    EXPECT_TRUE(lines_with(log, "PRIVATE KEY").empty()) << log;
    const auto ready = archer::testing::http_get(bridge.http_port(), "/readyz");
    ASSERT_TRUE(ready);
    EXPECT_EQ(ready->status, 503);
    EXPECT_NE(ready->body.find("mqtt: the telemetry session is not connected"), std::string::npos) << ready->body;
    EXPECT_EQ(bridge.stop(), 0);
    EXPECT_EQ(records_in_kafka(), 0);
    if (session) {
      EXPECT_EQ(session->take_back_queued(kReadings), kReadings) << "the readings waited at the broker";
    }
  }

  TempDir dir_{"archer-tls"};
  TestCa ca_{dir_.path(), "gateway"};
  Certificate server_ = ca_.issue(CertificateRequest("broker").with_ip("127.0.0.1").with_dns("localhost"));
  Certificate client_ = ca_.issue(CertificateRequest("gw-01"));
  DevKafka kafka_{DevKafkaOptions().with_topic("raw.telemetry:3").with_topic("dlq.telemetry:3")};
};

TEST_F(MqttTlsTest, GoodCertificatesConnectAndIngest) {
  auto mosquitto = broker(server_, /*require_certificate=*/true);
  Bridge bridge(mosquitto->tls_uri(), kafka_.bootstrap(), tls_table(ca_.cert(), &client_) + telemetry_section());
  bridge.start();
  publish_readings(*mosquitto);
  KafkaConsumerForTest raw(kafka_.bootstrap(), {"raw.telemetry"});
  const auto records = raw.consume_until(kReadings, 30s);
  EXPECT_EQ(records.size(), static_cast<std::size_t>(kReadings)) << bridge.log();
  for (const auto& record : records) EXPECT_EQ(record.key, "env-0001");
  const std::string log = bridge.log();
  EXPECT_FALSE(lines_with(log, "mqtt: connected to " + mosquitto->tls_uri()).empty()) << log;
  EXPECT_TRUE(lines_with(log, "TLS handshake").empty()) << log;
  EXPECT_EQ(bridge.stop(), 0);
}

// Mosquitto sends its CA along with its certificate (OpenSSL completes the chain from its cafile):
// the chain ends in a self-signed CA the bridge does not trust.
TEST_F(MqttTlsTest, AServerCertificateFromAnotherCaIsRefused) {
  auto mosquitto = broker(server_, false);
  TestCa other(dir_.path(), "other");
  expect_refused(mosquitto->tls_uri(), tls_table(other.cert()),
                 fmt::format("certificate verify failed (self-signed certificate in certificate chain; the broker's "
                             "certificate is not from the CA in '{}')",
                             other.cert().string()),
                 mosquitto.get());
}

TEST_F(MqttTlsTest, AnExpiredServerCertificateIsRefused) {
  const Certificate expired =
      ca_.issue(CertificateRequest("old-broker").with_ip("127.0.0.1").with_dns("localhost").already_expired());
  auto mosquitto = broker(expired, false);
  expect_refused(mosquitto->tls_uri(), tls_table(ca_.cert()), "certificate verify failed (certificate has expired)",
                 mosquitto.get());
}

TEST_F(MqttTlsTest, AServerCertificateForAnotherHostIsRefused) {
  const Certificate elsewhere = ca_.issue(CertificateRequest("elsewhere").with_dns("other.example"));
  auto mosquitto = broker(elsewhere, false);
  expect_refused(mosquitto->tls_uri("127.0.0.1"), tls_table(ca_.cert()),
                 "certificate verify failed (IP address mismatch: the server certificate is for DNS:other.example, "
                 "not 127.0.0.1)",
                 mosquitto.get());
}

TEST_F(MqttTlsTest, NoClientCertificateIsRefusedWhenTheBrokerRequiresOne) {
  auto mosquitto = broker(server_, /*require_certificate=*/true);
  expect_refused(mosquitto->tls_uri(), tls_table(ca_.cert()),
                 "certificate required (the broker wants a client certificate: set cert_file and key_file in "
                 "[mqtt.tls])",
                 mosquitto.get());
}

// Mosquitto 2.0's tls_version is a minimum, so it always offers TLS 1.2 and 1.3: the broker that
// offers only TLS 1.1 is openssl's s_server (TLS, no MQTT), with an RSA key and RSA key exchange,
// which OpenSSL 3.0 at Paho's security level would otherwise accept.
TEST_F(MqttTlsTest, ABrokerOfferingOnlyTls11IsRefused) {
  const Certificate rsa = ca_.issue(CertificateRequest("old-tls").with_ip("127.0.0.1").with_rsa_key());
  const std::uint16_t port = archer::testing::free_port();
  const auto output = dir_ / "s_server.out";
  Process old_broker({"openssl", "s_server", "-accept", fmt::format("127.0.0.1:{}", port), "-cert", rsa.cert.string(),
                      "-key", rsa.key.string(), "-tls1_1", "-cipher", "AES128-SHA:@SECLEVEL=0"},
                     ProcessOptions{}.with_stdin().without_stdout_capture().with_stderr_file(output));
  ASSERT_TRUE(wait_until([&] { return archer::testing::tcp_port_open(port); }, 10s, 20ms))
      << archer::testing::read_file(output);
  expect_refused(fmt::format("ssl://127.0.0.1:{}", port), tls_table(ca_.cert()),
                 "(the broker offers no TLS version this gateway accepts: 1.2 or later)", nullptr);
  // The bridge's own connections were refused too, not only its diagnosis: s_server never
  // completed a handshake (it prints the cipher of each one that does).
  const std::string served = archer::testing::read_file(output);
  EXPECT_EQ(served.find("CIPHER is"), std::string::npos) << served;
  EXPECT_NE(served.find("no shared cipher"), std::string::npos) << served;
}

// --check-config loads the [mqtt.tls] files as a connection does.
TEST_F(MqttTlsTest, CheckConfigLoadsTheTlsFiles) {
  const Certificate locked = ca_.issue(CertificateRequest("locked").with_key_password("s3cret-pass"));
  std::ofstream(dir_ / "not-a-ca.pem") << "hello\n";
  const std::string file = (dir_ / "gw.toml").string();
  std::ofstream(file) << fmt::format(R"([gateway]
id = "gw-01"

[mqtt]
uri = "ssl://127.0.0.1:8883"

[mqtt.tls]
ca_file = "{}"
cert_file = "{}"
key_file = "{}"

[kafka]
"bootstrap.servers" = "127.0.0.1:9092"

{})",
                                     (dir_ / "not-a-ca.pem").string(), client_.cert.string(), locked.key.string(),
                                     telemetry_section());
  Process check({std::string(ARCHER_BIN_DIR) + "/archer-bridge", "--check-config", file},
                ProcessOptions{}.with_stderr_file(dir_ / "check.err"));
  check.read_all(30s);
  EXPECT_EQ(check.wait_exit(30s), 2);
  const std::string problems = archer::testing::read_file(dir_ / "check.err");
  EXPECT_NE(problems.find(fmt::format("{}:8:11: mqtt.tls.ca_file: OpenSSL cannot load CA certificates from '{}': ",
                                      file, (dir_ / "not-a-ca.pem").string())),
            std::string::npos)
      << problems;
  EXPECT_NE(problems.find(fmt::format("{}:10:12: mqtt.tls.key_file: '{}' is encrypted, and the gateway has no pass "
                                      "phrase to give",
                                      file, locked.key.string())),
            std::string::npos)
      << problems;
  EXPECT_EQ(problems.find("s3cret-pass"), std::string::npos) << problems;

  // A key that is not the certificate's.
  std::string text = archer::testing::read_file(file);
  text.replace(text.find((dir_ / "not-a-ca.pem").string()), (dir_ / "not-a-ca.pem").string().size(),
               ca_.cert().string());
  text.replace(text.find(locked.key.string()), locked.key.string().size(), server_.key.string());
  std::ofstream(file, std::ios::trunc) << text;
  Process again({std::string(ARCHER_BIN_DIR) + "/archer-bridge", "--check-config", file},
                ProcessOptions{}.with_stderr_file(dir_ / "again.err"));
  again.read_all(30s);
  EXPECT_EQ(again.wait_exit(30s), 2);
  const std::string mismatch = archer::testing::read_file(dir_ / "again.err");
  EXPECT_NE(mismatch.find(fmt::format("mqtt.tls.key_file: the key in '{}' does not belong to the certificate in '{}'",
                                      server_.key.string(), client_.cert.string())),
            std::string::npos)
      << mismatch;
}

}  // namespace
