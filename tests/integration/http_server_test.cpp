// The HTTP endpoint's connection limits on a real loopback socket (archer/daemon/http_server.h):
// connections beyond the limit are closed unanswered and counted, a client that sends nothing is
// dropped after the timeout, and once it is, a new connection is served.
#include <gtest/gtest.h>
#include <poll.h>

#include <chrono>
#include <optional>
#include <string>
#include <thread>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>

#include "archer/daemon/http_server.h"

namespace {

using namespace std::chrono_literals;
using boost::asio::ip::tcp;

constexpr auto kDeadline = 10s;

// True when `socket` has something to read (data, or the server's close) within `wait`.
bool readable_within(tcp::socket& socket, std::chrono::milliseconds wait) {
  pollfd entry{socket.native_handle(), POLLIN, 0};
  return ::poll(&entry, 1, static_cast<int>(wait.count())) == 1;
}

// Everything the server sends until it closes; empty when it closed at once.
std::string read_all(tcp::socket& socket) {
  std::string out;
  boost::system::error_code ignored;
  boost::asio::read(socket, boost::asio::dynamic_buffer(out), ignored);
  return out;
}

class HttpServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    archer::HttpConfig config;
    config.host = "127.0.0.1";
    config.port = 0;
    server_.emplace(
        io_, config, metrics_, [] { return archer::Readiness{}; }, [] { return archer::Readiness{}; }, "gw-1",
        archer::daemon::HttpLimits{2, 500ms});
    loop_ = std::thread([this] { io_.run(); });
    at_ = tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), server_->port());
  }
  void TearDown() override {
    io_.stop();
    loop_.join();
  }

  tcp::socket connect() {
    tcp::socket socket(client_io_);
    socket.connect(at_);
    return socket;
  }

  bool metric_is(const std::string& line) const {
    const std::string text = metrics_.prometheus_text();
    return text.find("\n" + line + "\n") != std::string::npos;
  }

  archer::Metrics metrics_;
  boost::asio::io_context io_;
  boost::asio::io_context client_io_;
  std::optional<archer::daemon::HttpServer> server_;
  std::thread loop_;
  tcp::endpoint at_;
};

TEST_F(HttpServerTest, ConnectionsBeyondTheLimitAreClosedAndSilentClientsDroppedAfterTheTimeout) {
  tcp::socket first = connect();
  tcp::socket second = connect();
  // Accepted in order: the third finds two open and is closed without an answer.
  tcp::socket third = connect();
  ASSERT_TRUE(readable_within(third, kDeadline));
  EXPECT_EQ(read_all(third), "");
  const auto counted_by = std::chrono::steady_clock::now() + kDeadline;
  while (!metric_is("archer_http_connections_refused_total 1") && std::chrono::steady_clock::now() < counted_by) {
    std::this_thread::sleep_for(5ms);  // polling a condition, with a deadline
  }
  EXPECT_TRUE(metric_is("archer_http_connections_refused_total 1")) << metrics_.prometheus_text();

  // The two that sent nothing are closed by the server after its 500 ms timeout, unanswered.
  const auto started = std::chrono::steady_clock::now();
  ASSERT_TRUE(readable_within(first, kDeadline));
  ASSERT_TRUE(readable_within(second, kDeadline));
  EXPECT_GE(std::chrono::steady_clock::now() - started, 400ms);
  EXPECT_EQ(read_all(first), "");
  EXPECT_EQ(read_all(second), "");

  // Then a request is answered (once the server has let go of the two: until then it may refuse).
  std::string answer;
  const auto served_by = std::chrono::steady_clock::now() + kDeadline;
  while (answer.empty() && std::chrono::steady_clock::now() < served_by) {
    tcp::socket client = connect();
    boost::system::error_code ignored;
    boost::asio::write(client, boost::asio::buffer(std::string("GET /healthz HTTP/1.1\r\nHost: gw\r\n\r\n")), ignored);
    answer = read_all(client);
  }
  EXPECT_EQ(answer.substr(0, answer.find("\r\n")), "HTTP/1.1 200 OK");
  EXPECT_EQ(answer.substr(answer.size() - 3), "ok\n");
}

}  // namespace
