// The parts of mqtt_tls.h that need no broker: which URIs are TLS, and where they point (the host the
// broker's certificate is checked against). The handshakes themselves: tests/integration/mqtt_tls_test.cpp.
#include "archer/transport/mqtt_tls.h"

#include <gtest/gtest.h>

namespace {

using archer::transport::broker_address;
using archer::transport::is_tls_uri;

TEST(MqttTls, TlsUris) {
  EXPECT_TRUE(is_tls_uri("ssl://broker:8883"));
  EXPECT_TRUE(is_tls_uri("mqtts://broker"));
  EXPECT_TRUE(is_tls_uri("wss://broker/mqtt"));
  EXPECT_FALSE(is_tls_uri("tcp://broker:1883"));
  EXPECT_FALSE(is_tls_uri("mqtt://broker"));
  EXPECT_FALSE(is_tls_uri("ws://broker"));
}

TEST(MqttTls, BrokerAddressIsTheUrisHostAndPort) {
  const auto named = broker_address("ssl://broker.example.net:8884");
  ASSERT_TRUE(named);
  EXPECT_EQ(named->host, "broker.example.net");
  EXPECT_EQ(named->port, "8884");
  const auto v6 = broker_address("ssl://[::1]:8883");
  ASSERT_TRUE(v6);
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->port, "8883");
  const auto path = broker_address("wss://10.0.0.7/mqtt");
  ASSERT_TRUE(path);
  EXPECT_EQ(path->host, "10.0.0.7");
  EXPECT_EQ(path->port, "443");
  EXPECT_EQ(broker_address("mqtts://broker")->port, "8883");
  EXPECT_EQ(broker_address("tcp://broker")->port, "1883");
  EXPECT_EQ(broker_address("ws://broker")->port, "80");
  EXPECT_FALSE(broker_address("broker:8883"));
  EXPECT_FALSE(broker_address("ssl://:8883"));
  EXPECT_FALSE(broker_address("ssl://[::1"));
}

}  // namespace
