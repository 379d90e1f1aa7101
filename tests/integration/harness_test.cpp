// The test harness itself: child processes, Mosquitto restarts, archer-devkafka's control channel.
#include <gtest/gtest.h>
#include <mqtt/async_client.h>

#include <csignal>
#include <stdexcept>
#include <string>

#include "archer/testing/bridge.h"
#include "archer/testing/certificates.h"
#include "archer/testing/http.h"
#include "archer/testing/testing.h"

namespace {

using namespace std::chrono_literals;
using namespace archer::testing;

TEST(Harness, ProcessReadsLinesAndReportsExitStatus) {
  Process shell({"/bin/sh", "-c", "echo one; echo two; exit 3"});
  EXPECT_EQ(shell.read_line(5s), "one");
  EXPECT_EQ(shell.read_line(5s), "two");
  EXPECT_EQ(shell.read_line(5s), std::nullopt);
  EXPECT_TRUE(shell.stdout_eof());
  EXPECT_EQ(shell.wait_exit(5s), 3);

  Process cat({"cat"}, ProcessOptions{}.with_stdin());
  ASSERT_TRUE(cat.write_line("echo me"));
  EXPECT_EQ(cat.read_line(5s), "echo me");
  EXPECT_EQ(cat.read_line(50ms), std::nullopt);  // nothing more yet, not EOF
  EXPECT_FALSE(cat.stdout_eof());
  cat.close_stdin();
  EXPECT_EQ(cat.wait_exit(5s), 0);

  Process sleeper({"sleep", "60"});
  EXPECT_EQ(sleeper.terminate(), 128 + SIGTERM);
}

// `openssl verify` as the judge: what the test CA issues is trusted by it alone, an expired one is not.
int openssl_verify(const std::filesystem::path& ca, const std::filesystem::path& cert) {
  Process verify({"openssl", "verify", "-CAfile", ca.string(), cert.string()},
                 ProcessOptions{}.without_stdout_capture());
  return verify.wait_exit(30s).value_or(-1);
}

TEST(Harness, TestCaIssuesCertificatesThatOnlyItVerifies) {
  TempDir dir("archer-harness-ca");
  TestCa ca(dir.path(), "good");
  TestCa other(dir.path(), "other");
  const Certificate server = ca.issue(CertificateRequest("broker").with_dns("localhost").with_ip("127.0.0.1"));
  const Certificate expired = ca.issue(CertificateRequest("old").already_expired());
  const Certificate locked = ca.issue(CertificateRequest("locked").with_key_password("k3y-pass"));

  EXPECT_EQ(openssl_verify(ca.cert(), server.cert), 0);
  EXPECT_NE(openssl_verify(other.cert(), server.cert), 0);
  EXPECT_NE(openssl_verify(ca.cert(), expired.cert), 0);
  EXPECT_NE(read_file(locked.key).find("ENCRYPTED PRIVATE KEY"), std::string::npos);
  Process text({"openssl", "x509", "-in", server.cert.string(), "-noout", "-ext", "subjectAltName"});
  const std::string names = text.read_all(30s);
  EXPECT_NE(names.find("DNS:localhost"), std::string::npos) << names;
  EXPECT_NE(names.find("IP Address:127.0.0.1"), std::string::npos) << names;
}

TEST(Harness, MosquittoRestartKeepsPortAndPersistentSessions) {
  Mosquitto broker;
  const auto port = broker.port();
  const std::string id = unique_name("restart-sub");
  // Properties go on the final object: Paho 1.2.0's connect_options copies keep pointing at the
  // original's properties (see mqtt_test.cpp).
  mqtt::connect_options options =
      mqtt::connect_options_builder().mqtt_version(MQTTVERSION_5).clean_start(false).finalize();
  options.set_properties(mqtt::properties{{mqtt::property::SESSION_EXPIRY_INTERVAL, 3600}});
  {
    mqtt::async_client client(broker.uri(), id, mqtt::create_options(MQTTVERSION_5));
    ASSERT_TRUE(client.connect(options)->wait_for(10s));
    ASSERT_TRUE(client.subscribe("archer/restart", 1)->wait_for(10s));
    ASSERT_TRUE(client.disconnect()->wait_for(5s));
  }
  {
    mqtt::async_client publisher(broker.uri(), unique_name("pub"), mqtt::create_options(MQTTVERSION_5));
    ASSERT_TRUE(
        publisher.connect(mqtt::connect_options_builder().mqtt_version(MQTTVERSION_5).finalize())->wait_for(10s));
    ASSERT_TRUE(publisher.publish("archer/restart", "kept", 1, false)->wait_for(10s));
    publisher.disconnect()->wait_for(5s);
  }

  broker.restart();
  EXPECT_EQ(broker.port(), port);

  mqtt::async_client client(broker.uri(), id, mqtt::create_options(MQTTVERSION_5));
  client.start_consuming();
  ASSERT_TRUE(client.connect(options)->wait_for(10s));
  mqtt::const_message_ptr received;
  ASSERT_TRUE(client.try_consume_message_for(&received, 10s)) << "queued message lost across the restart";
  EXPECT_EQ(received->to_string(), "kept");
  client.disconnect()->wait_for(5s);
}

TEST(Harness, DevKafkaCommandErrorsSurface) {
  DevKafka kafka(DevKafkaOptions{}.with_brokers(2));
  EXPECT_EQ(kafka.command("help").rfind("ok", 0), 0u);
  EXPECT_EQ(kafka.try_command("down 3").rfind("error: ", 0), 0u) << "brokers are 1..2";
  EXPECT_THROW(kafka.command("no-such-command"), std::runtime_error);
  EXPECT_THROW(kafka.create_topic("twice", 2); kafka.create_topic("twice", 2), std::runtime_error);
  kafka.broker_down(1);
  kafka.broker_up(1);
  kafka.set_rtt(2, 5);
  EXPECT_EQ(kafka.command("errors Produce NOT_LEADER_FOR_PARTITION 2"), "ok");
  EXPECT_EQ(kafka.command("errors 3 TRANSPORT"), "ok");
}

TEST(Harness, DevKafkaKeepsRunningAfterStdinEof) {
  DevKafka kafka;
  kafka.process().close_stdin();
  const auto delivered = produce_sync(kafka.bootstrap(), "after-eof", "k", "v", {{"h", "1"}});
  EXPECT_GE(delivered.offset, 0);
  {
    KafkaConsumerForTest consumer(kafka.bootstrap(), {"after-eof"});
    auto records = consumer.consume_until(1, 20s);
    ASSERT_EQ(records.size(), 1u);
    EXPECT_EQ(records[0].key, "k");
    EXPECT_EQ(records[0].value, "v");
    EXPECT_EQ(records[0].headers, (std::map<std::string, std::string>{{"h", "1"}}));
  }  // clients go before the broker, or their close() waits for it
  EXPECT_EQ(kafka.stop(), 0);
}

TEST(Harness, BridgeIsReadyByItsReadyzAndServesMetricsOnItsPort) {
  // An actuator alone: the bridge has no ingest producer, and /readyz must still answer.
  Mosquitto mqtt;
  DevKafka kafka;
  Bridge bridge(mqtt.uri(), kafka.bootstrap(), R"([[actuator]]
name = "valves"
commands = "cmd.valves"
transactions = "tx.valves"
events = "evt.valves"
)");
  bridge.start();
  const auto ready = http_get(bridge.http_port(), "/readyz");
  ASSERT_TRUE(ready) << bridge.log();
  EXPECT_EQ(ready->status, 200);
  EXPECT_EQ(ready->body, "ready\n");
  const auto metrics = http_get(bridge.http_port(), "/metrics");
  ASSERT_TRUE(metrics) << bridge.log();
  EXPECT_EQ(metrics->status, 200);
  EXPECT_NE(metrics->body.find("archer_actuator_commands_total"), std::string::npos) << metrics->body;
  EXPECT_EQ(bridge.stop(), 0);
}

}  // namespace
