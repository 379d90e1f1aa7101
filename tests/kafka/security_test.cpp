// The gateway against a secured Apache Kafka node: one combined node shared by the tests of this
// program, with two SASL_PLAINTEXT listeners (SCRAM-SHA-512, its user made when the storage is
// formatted; PLAIN, its user in the listener's JAAS line) and an SSL listener that requires a client
// certificate (PEM keystore and truststore, certificates made in the test by
// archer::testing::TestCa). The harness itself talks PLAINTEXT to create topics and read what
// arrived. Every secret lives in a 0600 file named by a `..._file` key.
//
// SCRAM against Kafka 4.x needs librdkafka 2.6.1 or later (confluentinc/librdkafka#4895: older
// versions repeat the client nonce in the client-final-message, which 4.x brokers refuse); with
// Debian 12's 2.0.2 the SCRAM test on that node checks that the refusal is reported as an
// authentication error. Kafka 3.9 does not check the nonce so strictly: a second node of that
// release (ApacheKafka::scram_version(), scripts/kafka/scram-version), with a SCRAM listener only,
// is where the bridge must log in with SCRAM and deliver every reading.
#include <gtest/gtest.h>
#include <librdkafka/rdkafka.h>
#include <sys/stat.h>

#include <chrono>
#include <fstream>
#include <iostream>
#include <memory>
#include <random>
#include <set>
#include <sstream>
#include <string>

#include <fmt/format.h>

#include "archer/testing/bridge.h"
#include "archer/testing/certificates.h"
#include "archer/testing/mqtt_client.h"
#include "archer/testing/testing.h"
#include "figures.h"

namespace {

using namespace std::chrono_literals;
using namespace archer::testing;
using archer::faults::http_request;
using archer::faults::metric_value;

std::string random_secret(const std::string& prefix) {
  std::random_device device;
  return fmt::format("{}-{:08x}{:08x}", prefix, device(), device());
}

void write_private(const std::filesystem::path& file, const std::string& text) {
  std::ofstream(file, std::ios::trunc) << text;
  ::chmod(file.c_str(), 0600);
}

// The secrets of every node; none may show in what the bridge writes or serves.
struct Secrets {
  std::string scram_password = random_secret("s3cr3t-scram");
  std::string plain_password = random_secret("s3cr3t-plain");
  std::string key_password = random_secret("s3cr3t-key");
};

Secrets& secrets() {
  static Secrets instance;
  return instance;
}

// The SCRAM listener's settings and its one user, made when the storage is formatted.
ApacheKafkaOptions& with_scram_listener(ApacheKafkaOptions& options) {
  return options.with_listener("SCRAM", "SASL_PLAINTEXT")
      .with_scram_credential(fmt::format("SCRAM-SHA-512=[name=archer,password={}]", secrets().scram_password))
      .with_config("listener.name.scram.sasl.enabled.mechanisms", "SCRAM-SHA-512")
      .with_config("listener.name.scram.scram-sha-512.sasl.jaas.config",
                   "org.apache.kafka.common.security.scram.ScramLoginModule required;");
}

// The node and what its clients need; made once, on first use, for every test of the program.
struct SecureKafka {
  TempDir dir{"archer-kafka-tls"};
  std::unique_ptr<TestCa> ca;
  Certificate client;  // the gateway's certificate, its key encrypted with key_password
  std::unique_ptr<ApacheKafka> kafka;
  std::chrono::milliseconds made_in{0};

  SecureKafka() {
    const auto began = std::chrono::steady_clock::now();
    ca = std::make_unique<TestCa>(dir.path(), "kafka");
    const Certificate broker = ca->issue(CertificateRequest("broker").with_dns("localhost").with_ip("127.0.0.1"));
    client = ca->issue(CertificateRequest("archer-gw").with_key_password(secrets().key_password));
    // A PEM keystore is the private key (PKCS#8) followed by its certificate chain.
    const std::filesystem::path keystore = dir / "broker-keystore.pem";
    std::ofstream(keystore) << read_file(broker.key) << read_file(broker.cert);
    ApacheKafkaOptions options;
    with_scram_listener(options)
        .with_listener("PLAIN", "SASL_PLAINTEXT")
        .with_listener("MTLS", "SSL")
        .with_config("listener.name.plain.sasl.enabled.mechanisms", "PLAIN")
        .with_config("listener.name.plain.plain.sasl.jaas.config",
                     fmt::format("org.apache.kafka.common.security.plain.PlainLoginModule required user_archer=\"{}\";",
                                 secrets().plain_password))
        .with_config("listener.name.mtls.ssl.client.auth", "required")
        .with_config("listener.name.mtls.ssl.keystore.type", "PEM")
        .with_config("listener.name.mtls.ssl.keystore.location", keystore.string())
        .with_config("listener.name.mtls.ssl.truststore.type", "PEM")
        .with_config("listener.name.mtls.ssl.truststore.location", ca->cert().string());
    kafka = std::make_unique<ApacheKafka>(options);
    made_in = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - began);
    std::cout << kafka->name() << " with SCRAM and SSL listeners: certificates and node ready in " << made_in.count()
              << " ms (JVM start to metadata: " << kafka->last_start_time().count() << " ms)\n";
  }
};

SecureKafka& secure() {
  static SecureKafka instance;
  return instance;
}

// A node of ApacheKafka::scram_version() with the SCRAM listener only; made once, on first use.
struct ScramKafka {
  std::unique_ptr<ApacheKafka> kafka;
  std::chrono::milliseconds made_in{0};

  ScramKafka() {
    const auto began = std::chrono::steady_clock::now();
    ApacheKafkaOptions options;
    options.with_version(ApacheKafka::scram_version());
    kafka = std::make_unique<ApacheKafka>(with_scram_listener(options));
    made_in = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - began);
    std::cout << kafka->name() << " with a SCRAM listener: node ready in " << made_in.count() << " ms\n";
  }
};

ScramKafka& scram_kafka() {
  static ScramKafka instance;
  return instance;
}

#define SKIP_WITHOUT_KAFKA()                                             \
  do {                                                                   \
    std::string why_;                                                    \
    if (!kafka_available(KafkaKind::apache, why_)) GTEST_SKIP() << why_; \
  } while (false)

class KafkaSecurity : public ::testing::Test {
 protected:
  void SetUp() override {
    SKIP_WITHOUT_KAFKA();
    use(*secure().kafka);
  }

  // Topics of this test on `kafka`, and a port for the bridge's HTTP endpoint.
  void use(ApacheKafka& kafka) {
    kafka_ = &kafka;
    raw_ = unique_name("raw.telemetry");
    dead_letters_ = unique_name("dlq.telemetry");
    kafka_->create_topic(raw_, 3);
    kafka_->create_topic(dead_letters_, 1);
    port_ = free_port();
  }

  std::unique_ptr<Bridge> bridge(const std::string& bootstrap, const std::string& kafka_properties) {
    return std::make_unique<Bridge>(
        mqtt_.uri(), bootstrap,
        archer::faults::http_head(port_) + archer::faults::telemetry_section(raw_, dead_letters_), "archer-test-gw",
        kafka_properties, gateway_);
  }

  static std::string sasl_properties(const std::string& mechanism, const std::filesystem::path& password_file) {
    return fmt::format(
        "\"security.protocol\" = \"SASL_PLAINTEXT\"\n\"sasl.mechanisms\" = \"{}\"\n"
        "\"sasl.username\" = \"archer\"\n\"sasl.password_file\" = \"{}\"\n",
        mechanism, password_file.string());
  }

  // Publishes readings `from`..`to` of one device each (QoS 1) and waits for every PUBACK.
  void publish(int from, int to) {
    MqttClient publisher(mqtt_.uri(), unique_name("security-publisher"));
    for (int seq = from; seq <= to; ++seq) {
      const std::string device = fmt::format("env-{:02}", seq % 5);
      publisher.publish("devices/" + device + "/telemetry",
                        archer::faults::telemetry_reading(device, static_cast<std::uint64_t>(seq)));
    }
    publisher.wait_all();
  }

  // The raw datalog's records, read through the PLAINTEXT listener.
  std::vector<Record> datalog(std::size_t expected, std::chrono::milliseconds timeout) {
    KafkaConsumerForTest consumer(kafka_->bootstrap(), {raw_});
    std::vector<Record> records = consumer.consume_until(expected, timeout);
    // Anything beyond `expected` (a duplicate) arrives right behind.
    for (const Record& more : consumer.consume_until(1, 2s)) records.push_back(more);
    return records;
  }

  std::string metrics() const {
    const auto reply = http_request(port_, "/metrics");
    return reply && reply->status == 200 ? reply->body : std::string();
  }

  // Starts `gateway`, publishes 200 readings, expects every one in the raw datalog, stops it, and
  // checks that nothing it wrote or serves shows a secret.
  void expect_delivers(Bridge& gateway) {
    gateway.start();
    constexpr int kReadings = 200;
    publish(1, kReadings);
    EXPECT_EQ(datalog(kReadings, 60s).size(), static_cast<std::size_t>(kReadings)) << gateway.log();
    EXPECT_EQ(gateway.stop(), 0);
    expect_no_secret(gateway);
  }

  // Neither secret in anything the bridge wrote or serves.
  void expect_no_secret(const Bridge& bridge) {
    const std::string log = bridge.log();
    for (const std::string& secret : {secrets().scram_password, secrets().plain_password, secrets().key_password}) {
      EXPECT_EQ(log.find(secret), std::string::npos) << "the bridge's log holds a secret";
      for (const char* path : {"/metrics", "/status.json", "/"}) {
        const auto reply = http_request(port_, path);
        if (reply) {
          EXPECT_EQ(reply->body.find(secret), std::string::npos) << path << " holds a secret";
        }
      }
    }
  }

  TempDir dir_{"archer-security-test"};
  Mosquitto mqtt_;
  ApacheKafka* kafka_ = nullptr;
  std::string raw_;
  std::string dead_letters_;
  std::uint16_t port_ = 0;
  const std::string gateway_ = unique_name("gw");
};

TEST_F(KafkaSecurity, TheBridgeIngestsThroughSaslPlainWithThePasswordFromAFile) {
  const auto password_file = dir_ / "kafka.pass";
  write_private(password_file, secrets().plain_password + "\n");
  auto gateway = bridge(kafka_->listener_bootstrap("PLAIN"), sasl_properties("PLAIN", password_file));
  expect_delivers(*gateway);
}

// librdkafka before 2.6.1 cannot log in with SCRAM to Kafka 4.x (confluentinc/librdkafka#4895, see
// the top of this file): then the right password is refused, and the bridge must say so as it says a
// wrong password.
TEST_F(KafkaSecurity, ScramSha512WithThePasswordFromAFileDeliversOrIsReportedAsRefused) {
  const auto password_file = dir_ / "kafka.pass";
  write_private(password_file, secrets().scram_password + "\n");
  auto gateway = bridge(kafka_->listener_bootstrap("SCRAM"), sasl_properties("SCRAM-SHA-512", password_file));
  constexpr int kFixedIn = 0x020601ff;  // librdkafka 2.6.1
  if (rd_kafka_version() >= kFixedIn) {
    gateway->start();
    publish(1, 100);
    EXPECT_EQ(datalog(100, 60s).size(), 100u) << gateway->log();
  } else {
    gateway->launch();
    EXPECT_TRUE(
        wait_until([&] { return gateway->log().find("SASL authentication error") != std::string::npos; }, 30s, 100ms))
        << gateway->log();
    std::cout << "librdkafka " << rd_kafka_version_str()
              << " cannot log in with SCRAM to Kafka 4.x (librdkafka#4895, fixed in 2.6.1); reported as refused\n";
  }
  EXPECT_EQ(gateway->stop(60s), 0);
  expect_no_secret(*gateway);
}

// The same SCRAM login against a Kafka 3.9 node, which librdkafka 2.0.2 passes: every reading arrives.
class KafkaScram : public KafkaSecurity {
 protected:
  void SetUp() override {
    if (std::string why; !ApacheKafka::available(why, ApacheKafka::scram_version())) GTEST_SKIP() << why;
    use(*scram_kafka().kafka);
  }
};

TEST_F(KafkaScram, TheBridgeIngestsThroughScramSha512WithThePasswordFromAFile) {
  const auto began = std::chrono::steady_clock::now();
  const auto password_file = dir_ / "kafka.pass";
  write_private(password_file, secrets().scram_password + "\n");
  auto gateway = bridge(kafka_->listener_bootstrap("SCRAM"), sasl_properties("SCRAM-SHA-512", password_file));
  gateway->start();
  constexpr int kReadings = 200;
  publish(1, kReadings);
  const auto records = datalog(kReadings, 60s);
  std::set<std::string> ids;
  for (const Record& record : records) ids.insert(record.headers.at("archer-id"));
  EXPECT_EQ(records.size(), static_cast<std::size_t>(kReadings)) << gateway->log();
  EXPECT_EQ(ids.size(), records.size()) << "each reading arrives once";
  EXPECT_EQ(gateway->log().find("SASL authentication error"), std::string::npos) << gateway->log();
  EXPECT_EQ(gateway->stop(), 0);
  expect_no_secret(*gateway);
  std::cout << kafka_->name() << ": " << records.size() << " readings through SCRAM-SHA-512 (librdkafka "
            << rd_kafka_version_str() << ") in "
            << std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - began).count()
            << " ms\n";
}

TEST_F(KafkaSecurity, TheBridgeIngestsThroughSslWithAClientCertificateWhoseKeyPasswordIsInAFile) {
  const auto key_password_file = dir_ / "key.pass";
  write_private(key_password_file, secrets().key_password + "\n");
  auto gateway = bridge(kafka_->listener_bootstrap("MTLS"),
                        fmt::format("\"security.protocol\" = \"SSL\"\n\"ssl.ca.location\" = \"{}\"\n"
                                    "\"ssl.certificate.location\" = \"{}\"\n\"ssl.key.location\" = \"{}\"\n"
                                    "\"ssl.key.password_file\" = \"{}\"\n",
                                    secure().ca->cert().string(), secure().client.cert.string(),
                                    secure().client.key.string(), key_password_file.string()));
  expect_delivers(*gateway);
}

// A wrong password: a clear error, not ready, readings kept in the spool; the right password and a
// restart on the same spool deliver each of them once.
TEST_F(KafkaSecurity, AWrongSaslPasswordIsRefusedClearlyWhileTheSpoolHoldsEveryReading) {
  const auto password_file = dir_ / "kafka.pass";
  const std::string wrong = random_secret("s3cr3t-wrong");
  write_private(password_file, wrong + "\n");
  auto gateway = bridge(kafka_->listener_bootstrap("PLAIN"), sasl_properties("PLAIN", password_file));
  gateway->launch();
  ASSERT_TRUE(wait_until([&] { return gateway->log().find("authentication") != std::string::npos; }, 30s, 100ms))
      << gateway->log();

  constexpr int kReadings = 150;
  publish(1, kReadings);
  ASSERT_TRUE(wait_until([&] { return metric_value(metrics(), "archer_spool_records") == kReadings; }, 30s, 100ms))
      << metrics() << gateway->log();
  std::optional<archer::faults::HttpResponse> ready;
  EXPECT_TRUE(wait_until(
      [&] {
        ready = http_request(port_, "/readyz");
        return ready && ready->status != 200;
      },
      15s, 100ms))
      << "/readyz stays ready with Kafka refusing the login";
  ASSERT_TRUE(ready);
  EXPECT_NE(ready->body.find("Kafka refuses the credentials"), std::string::npos) << ready->body;
  std::cout << "/readyz with a wrong password: " << ready->status << " " << ready->body << "\n";

  const std::string log = gateway->log();
  std::size_t auth_lines = 0;
  std::string first_auth_line;
  std::istringstream lines(log);
  for (std::string line; std::getline(lines, line);) {
    if (line.find("authentication") == std::string::npos) continue;
    if (auth_lines++ == 0) first_auth_line = line;
  }
  std::cout << "authentication lines: " << auth_lines << "; the first: " << first_auth_line << "\n";
  EXPECT_NE(first_auth_line.find("error"), std::string::npos) << first_auth_line;
  EXPECT_NE(first_auth_line.find("sasl.password_file"), std::string::npos) << "the hint names the key";
  EXPECT_LE(auth_lines, 3u) << "rate-limited, not one line per reconnect:\n" << log;
  EXPECT_EQ(log.find(wrong), std::string::npos) << "the refused password is never logged";
  EXPECT_EQ(gateway->stop(60s), 0) << "the drain waits up to 30 s for a Kafka that refuses it";
  EXPECT_EQ(datalog(0, 1s).size(), 0u) << "nothing reached Kafka with the wrong password";

  write_private(password_file, secrets().plain_password + "\n");
  gateway->start();
  const auto records = datalog(kReadings, 60s);
  std::set<std::string> ids;
  for (const Record& record : records) ids.insert(record.headers.at("archer-id"));
  EXPECT_EQ(records.size(), static_cast<std::size_t>(kReadings)) << gateway->log();
  EXPECT_EQ(ids.size(), records.size()) << "each spooled reading arrives once";
  EXPECT_TRUE(wait_until([&] { return metric_value(metrics(), "archer_spool_records") == 0; }, 30s, 100ms));
  EXPECT_EQ(gateway->stop(), 0);
  for (const std::string& secret : {wrong, secrets().plain_password}) {
    EXPECT_EQ(gateway->log().find(secret), std::string::npos);
  }
}

}  // namespace
