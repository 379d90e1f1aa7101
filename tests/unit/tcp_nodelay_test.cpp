#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "archer/core/tcp_nodelay.h"

TEST(TcpNodelay, TakesThePortOfAnMqttUri) {
  EXPECT_EQ(archer::mqtt_uri_port("tcp://127.0.0.1:41883"), 41883);
  EXPECT_EQ(archer::mqtt_uri_port("ssl://broker.example.net:8884"), 8884);
  EXPECT_EQ(archer::mqtt_uri_port("tcp://[::1]:1884"), 1884);
  EXPECT_EQ(archer::mqtt_uri_port("tcp://broker"), 1883);
  EXPECT_EQ(archer::mqtt_uri_port("mqtts://broker"), 8883);
  EXPECT_EQ(archer::mqtt_uri_port("tcp://[::1]"), 1883);
  EXPECT_EQ(archer::mqtt_uri_port("tcp://broker:port"), 0);
  EXPECT_EQ(archer::mqtt_uri_port("unix:///run/mosquitto.sock"), 0);
}

TEST(TcpNodelay, TurnsNagleOffOnlyTowardsThePort) {
  const int listener = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
  ASSERT_EQ(::listen(listener, 1), 0);
  socklen_t length = sizeof(address);
  ASSERT_EQ(::getsockname(listener, reinterpret_cast<sockaddr*>(&address), &length), 0);
  const int client = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_EQ(::connect(client, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
  const int accepted = ::accept(listener, nullptr, nullptr);
  auto nodelay = [](int fd) {
    int on = 0;
    socklen_t size = sizeof(on);
    EXPECT_EQ(::getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, &size), 0);
    return on != 0;
  };
  const int port = ntohs(address.sin_port);
  EXPECT_EQ(archer::disable_nagle_to_port(port == 65535 ? 65534 : port + 1), 0);
  EXPECT_FALSE(nodelay(client));
  EXPECT_EQ(archer::disable_nagle_to_port(port), 1);  // the client side; the accepted socket's peer is another port
  EXPECT_TRUE(nodelay(client));
  EXPECT_FALSE(nodelay(accepted));
  EXPECT_EQ(archer::disable_nagle_to_port(port), 0);  // already off
  ::close(accepted);
  ::close(client);
  ::close(listener);
}
