// MQTT 5 through a real Mosquitto (archer::testing::Mosquitto) with Paho C++: properties survive the trip,
// a persistent session receives what was published while it was away, and Nagle is off only where
// a request/response session asks.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <filesystem>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>
#include <mqtt/async_client.h>

#include "archer/testing/mqtt_client.h"
#include "archer/testing/testing.h"
#include "archer/transport/mqtt_session.h"

namespace {

using namespace std::chrono_literals;
using archer::testing::Mosquitto;
using archer::testing::unique_name;

std::unique_ptr<mqtt::async_client> make_client(const Mosquitto& broker, const std::string& id) {
  // No client-side persistence (nullptr): the broker's session is what is under test.
  return std::make_unique<mqtt::async_client>(broker.uri(), id, mqtt::create_options(MQTTVERSION_5));
}

// Paho C++ 1.2.0 trap: a copied connect_options keeps pointing at the original's MQTT 5 properties
// (connect_options_builder::finalize() copies, so properties set on a builder dangle and crash in
// MQTTAsync_connect). Set them on the object passed to connect() and keep that alive with the client.
void make_v5(mqtt::connect_options& options, bool clean_start, int session_expiry_s = 0) {
  options = mqtt::connect_options_builder()
                .mqtt_version(MQTTVERSION_5)
                .clean_start(clean_start)
                .connect_timeout(5s)
                .keep_alive_interval(10s)
                .finalize();
  options.set_properties(mqtt::properties{{mqtt::property::SESSION_EXPIRY_INTERVAL, session_expiry_s}});
}

std::vector<std::string> user_properties(const mqtt::properties& props, const std::string& name) {
  std::vector<std::string> values;
  for (size_t i = 0; i < props.count(mqtt::property::USER_PROPERTY); ++i) {
    auto [key, value] = mqtt::get<mqtt::string_pair>(props, mqtt::property::USER_PROPERTY, i);
    if (key == name) values.push_back(value);
  }
  return values;
}

TEST(Mqtt, V5PropertiesSurviveTheTrip) {
  Mosquitto broker;
  const std::string topic = "archer/test/" + unique_name("props");

  mqtt::connect_options clean;  // outlives the clients, which keep a copy pointing into it
  make_v5(clean, true);
  auto subscriber = make_client(broker, unique_name("sub"));
  subscriber->start_consuming();
  ASSERT_TRUE(subscriber->connect(clean)->wait_for(10s));
  ASSERT_TRUE(subscriber->subscribe(topic, 1)->wait_for(10s));

  auto publisher = make_client(broker, unique_name("pub"));
  ASSERT_TRUE(publisher->connect(clean)->wait_for(10s));
  const std::string correlation("corr\0\x01\xff", 7);  // binary, with a NUL inside
  mqtt::properties props{
      {mqtt::property::USER_PROPERTY, "device", "dev-0001"},
      {mqtt::property::USER_PROPERTY, "schema", "telemetry/v1"},
      {mqtt::property::USER_PROPERTY, "device", "second-value"},
      {mqtt::property::CONTENT_TYPE, "application/json"},
      {mqtt::property::RESPONSE_TOPIC, "archer/test/reply"},
      {mqtt::property::CORRELATION_DATA, correlation},
  };
  auto message = mqtt::message_ptr_builder()
                     .topic(topic)
                     .payload(std::string(R"({"t":21.5})"))
                     .qos(1)
                     .properties(props)
                     .finalize();
  ASSERT_TRUE(publisher->publish(message)->wait_for(10s));

  mqtt::const_message_ptr received;
  ASSERT_TRUE(subscriber->try_consume_message_for(&received, 10s));
  ASSERT_TRUE(received);
  EXPECT_EQ(received->get_topic(), topic);
  EXPECT_EQ(received->to_string(), R"({"t":21.5})");
  EXPECT_EQ(received->get_qos(), 1);
  const auto& got = received->get_properties();
  EXPECT_EQ(user_properties(got, "device"), (std::vector<std::string>{"dev-0001", "second-value"}));
  EXPECT_EQ(user_properties(got, "schema"), (std::vector<std::string>{"telemetry/v1"}));
  EXPECT_EQ(mqtt::get<std::string>(got, mqtt::property::CONTENT_TYPE), "application/json");
  EXPECT_EQ(mqtt::get<std::string>(got, mqtt::property::RESPONSE_TOPIC), "archer/test/reply");
  EXPECT_EQ(mqtt::get<std::string>(got, mqtt::property::CORRELATION_DATA), correlation);

  publisher->disconnect()->wait_for(5s);
  subscriber->disconnect()->wait_for(5s);
}

TEST(Mqtt, PersistentSessionGetsMessagesPublishedWhileAway) {
  Mosquitto broker;
  const std::string topic = "archer/test/" + unique_name("session");
  const std::string id = unique_name("persistent-sub");
  mqtt::connect_options persistent;
  make_v5(persistent, false, 3600);
  mqtt::connect_options clean;
  make_v5(clean, true);
  {
    auto subscriber = make_client(broker, id);
    ASSERT_TRUE(subscriber->connect(persistent)->wait_for(10s));
    ASSERT_TRUE(subscriber->subscribe(topic, 1)->wait_for(10s));
    ASSERT_TRUE(subscriber->disconnect()->wait_for(5s));
  }

  auto publisher = make_client(broker, unique_name("pub"));
  ASSERT_TRUE(publisher->connect(clean)->wait_for(10s));
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(publisher->publish(topic, "away-" + std::to_string(i), 1, false)->wait_for(10s));
  }
  publisher->disconnect()->wait_for(5s);

  auto subscriber = make_client(broker, id);
  subscriber->start_consuming();  // before connect: the queued messages arrive right after CONNACK
  auto token = subscriber->connect(persistent);
  ASSERT_TRUE(token->wait_for(10s));
  EXPECT_TRUE(token->get_connect_response().is_session_present());
  for (int i = 0; i < 5; ++i) {
    mqtt::const_message_ptr received;
    ASSERT_TRUE(subscriber->try_consume_message_for(&received, 10s)) << "message " << i << " missing";
    EXPECT_EQ(received->to_string(), "away-" + std::to_string(i));
    EXPECT_EQ(received->get_qos(), 1);
  }
  subscriber->disconnect()->wait_for(5s);
}

}  // namespace

namespace {

// The gateway's own session: pausing intake disconnects and keeps the session, so what is published
// meanwhile is queued by the broker and arrives after resume_intake(), nothing lost.
TEST(MqttSession, PausedIntakeIsQueuedByTheBrokerAndArrivesOnResume) {
  Mosquitto broker;
  archer::MqttConfig config;
  config.uri = broker.uri();
  config.client_id = unique_name("session");
  archer::transport::MqttSession session(config);
  session.add_subscription("archer/pause/#", 1);
  std::mutex mutex;
  std::vector<std::string> received;
  session.set_message_handler([&](const mqtt::const_message_ptr& message) {
    std::lock_guard lock(mutex);
    received.push_back(message->get_payload_str());
  });
  session.start();
  ASSERT_TRUE(session.wait_connected(10s));
  EXPECT_THROW(session.add_ready_listener([] {}), std::logic_error) << "listeners are fixed once started";

  session.pause_intake();
  ASSERT_TRUE(archer::testing::wait_until([&] { return !session.connected(); }, 10s, 20ms));
  archer::testing::MqttClient publisher(broker.uri(), unique_name("publisher"));
  for (int n = 0; n < 10; ++n) publisher.publish("archer/pause/t", std::to_string(n));
  publisher.wait_all();
  {
    std::lock_guard lock(mutex);
    EXPECT_TRUE(received.empty()) << "delivered while paused";
  }
  session.resume_intake();
  ASSERT_TRUE(archer::testing::wait_until(
      [&] {
        std::lock_guard lock(mutex);
        return received.size() >= 10;
      },
      15s, 20ms));
  std::lock_guard lock(mutex);
  EXPECT_EQ(received, (std::vector<std::string>{"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"}));
}

// TCP sockets of this process connected to `port`: how many have TCP_NODELAY, and how many not.
std::pair<int, int> nagle_off_and_on(int port) {
  int off = 0, on = 0;
  for (const auto& entry : std::filesystem::directory_iterator("/proc/self/fd")) {
    const int fd = std::stoi(entry.path().filename().string());
    sockaddr_in peer{};
    socklen_t length = sizeof(peer);
    if (::getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &length) != 0 || peer.sin_family != AF_INET ||
        ntohs(peer.sin_port) != port) {
      continue;
    }
    int nodelay = 0;
    length = sizeof(nodelay);
    if (::getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &nodelay, &length) != 0) continue;
    ++(nodelay != 0 ? off : on);
  }
  return {off, on};
}

// Telemetry alone keeps Nagle (its PUBACKs share segments); once a request/response session of the
// process asks, every connection to the broker has it off (Paho gives no way to one client's socket).
TEST(MqttSession, NagleIsOffOnceARequestResponseSessionOfTheProcessAsks) {
  Mosquitto broker;
  archer::MqttConfig config;
  config.uri = broker.uri();
  config.client_id = unique_name("telemetry");
  archer::transport::MqttSession telemetry(config);
  telemetry.add_subscription("archer/nagle/#", 1);
  telemetry.start();
  ASSERT_TRUE(telemetry.wait_connected(10s));
  EXPECT_EQ(nagle_off_and_on(broker.port()), std::make_pair(0, 1)) << "(Nagle off, on) with telemetry alone";

  config.client_id = unique_name("requests");
  archer::transport::MqttSession requests(config);
  requests.add_subscription("archer/nagle/answers", 1);
  requests.disable_nagle();
  requests.start();
  ASSERT_TRUE(requests.wait_connected(10s));
  EXPECT_EQ(nagle_off_and_on(broker.port()), std::make_pair(2, 0)) << "(Nagle off, on) with a request session";
  EXPECT_THROW(requests.disable_nagle(), std::logic_error) << "a choice made before start";
}

}  // namespace
