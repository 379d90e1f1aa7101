// What archer-bridge tells systemd (a Type=notify unit with WatchdogSec=): the test is the service
// manager, with a NOTIFY_SOCKET of its own, and reads every datagram the real binary sends while it
// starts, reloads and stops.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cstring>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "archer/testing/bridge.h"
#include "archer/testing/testing.h"
#include "archer/testing/valves_section.h"

namespace {

using namespace std::chrono_literals;
using namespace archer::testing;

// A unix datagram socket bound at `address` (a path, or "@name" in the abstract namespace) that
// keeps every message it receives.
class NotifySocket {
 public:
  explicit NotifySocket(std::string address) : address_(std::move(address)) {
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0) throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
    sockaddr_un at{};
    at.sun_family = AF_UNIX;
    std::string raw = address_;
    if (raw.front() == '@') raw.front() = '\0';
    std::memcpy(at.sun_path, raw.data(), raw.size());
    if (::bind(fd_, reinterpret_cast<const sockaddr*>(&at),
               static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + raw.size())) != 0) {
      throw std::runtime_error(fmt::format("bind {}: {}", address_, std::strerror(errno)));
    }
    timeval poll{0, 100'000};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &poll, sizeof poll);
    reader_ = std::thread([this] { read(); });
  }
  ~NotifySocket() {
    stop_ = true;
    reader_.join();
    ::close(fd_);
  }

  const std::string& address() const { return address_; }
  std::vector<std::string> messages() const {
    std::lock_guard lock(mutex_);
    return messages_;
  }
  // The index of the first message at or after `from` that contains `line` as one of its lines.
  std::optional<std::size_t> find(const std::string& line, std::size_t from = 0) const {
    const auto all = messages();
    for (std::size_t i = from; i < all.size(); ++i) {
      if (("\n" + all[i] + "\n").find("\n" + line + "\n") != std::string::npos) return i;
    }
    return std::nullopt;
  }
  std::size_t count(const std::string& message) const {
    std::size_t n = 0;
    for (const std::string& m : messages()) n += m == message ? 1 : 0;
    return n;
  }

 private:
  void read() {
    char buffer[4096];
    while (!stop_) {
      const ssize_t n = ::recv(fd_, buffer, sizeof buffer, 0);
      if (n <= 0) continue;
      std::lock_guard lock(mutex_);
      messages_.emplace_back(buffer, static_cast<std::size_t>(n));
    }
  }

  std::string address_;
  int fd_ = -1;
  std::atomic<bool> stop_{false};
  mutable std::mutex mutex_;
  std::vector<std::string> messages_;
  std::thread reader_;
};

// The prefix of the message that holds `key=` (its value up to the end of that line).
std::string value_of(const std::string& message, const std::string& key) {
  const auto at = ("\n" + message).find("\n" + key + "=");
  if (at == std::string::npos) return "";
  const auto start = at + key.size() + 1;
  return message.substr(start, message.find('\n', start) - start);
}

class SystemdNotify : public ::testing::TestWithParam<std::string> {};

TEST_P(SystemdNotify, ReadyStatusWatchdogReloadingAndStoppingReachTheServiceManager) {
  TempDir dir("archer-notify");
  NotifySocket manager(GetParam() == "path" ? (dir / "notify").string() : "@" + unique_name("archer-notify"));
  Mosquitto mqtt;
  DevKafka kafka(DevKafkaOptions().with_topic("cmd.valves:2").with_topic("tx.valves:2").with_topic("evt.valves:2"));
  Bridge bridge(mqtt.uri(), kafka.bootstrap(), valves_section());
  bridge.add_env("NOTIFY_SOCKET=" + manager.address());
  bridge.add_env("WATCHDOG_USEC=400000");  // WatchdogSec=400ms: WATCHDOG=1 every 200 ms
  bridge.start();                          // returns once /readyz is 200

  ASSERT_TRUE(wait_until([&] { return manager.find("READY=1").has_value(); }, 10s)) << bridge.log();
  const std::string ready = manager.messages().at(*manager.find("READY=1"));
  EXPECT_EQ(value_of(ready, "STATUS"), "ready: 0 ingest and 1 actuator sections") << ready;
  // Only once ready: nothing before READY=1 says so.
  EXPECT_EQ(manager.count("READY=1\nSTATUS=" + value_of(ready, "STATUS")), 1u);

  const std::size_t watchdogs = manager.count("WATCHDOG=1");
  EXPECT_TRUE(wait_until([&] { return manager.count("WATCHDOG=1") >= watchdogs + 5; }, 5s))
      << manager.count("WATCHDOG=1") << " WATCHDOG=1 in all";

  const std::size_t before_reload = manager.messages().size();
  bridge.process()->kill(SIGHUP);
  ASSERT_TRUE(wait_until([&] { return manager.find("RELOADING=1", before_reload).has_value(); }, 10s)) << bridge.log();
  const std::size_t reloading = *manager.find("RELOADING=1", before_reload);
  EXPECT_FALSE(value_of(manager.messages().at(reloading), "MONOTONIC_USEC").empty());
  EXPECT_TRUE(wait_until([&] { return manager.find("READY=1", reloading + 1).has_value(); }, 10s))
      << "no READY=1 after the reload:\n"
      << bridge.log();

  EXPECT_EQ(bridge.stop(), 0);
  EXPECT_TRUE(manager.find("STOPPING=1").has_value());
}

INSTANTIATE_TEST_SUITE_P(Sockets, SystemdNotify, ::testing::Values("path", "abstract"),
                         [](const ::testing::TestParamInfo<std::string>& socket) { return socket.param; });

TEST(SystemdNotifyOff, AWatchdogMeantForAnotherProcessIsNotPetted) {
  TempDir dir("archer-notify");
  NotifySocket manager((dir / "notify").string());
  Mosquitto mqtt;
  DevKafka kafka(DevKafkaOptions().with_topic("cmd.valves:2").with_topic("tx.valves:2").with_topic("evt.valves:2"));
  Bridge bridge(mqtt.uri(), kafka.bootstrap(), valves_section());
  bridge.add_env("NOTIFY_SOCKET=" + manager.address());
  bridge.add_env("WATCHDOG_USEC=200000");
  bridge.add_env("WATCHDOG_PID=1");  // systemd names the process it watches: not this one
  bridge.start();
  ASSERT_TRUE(wait_until([&] { return manager.find("READY=1").has_value(); }, 10s)) << bridge.log();
  // READY=1 comes from the same loop after at least one 200 ms poll; a watchdog would have been
  // petted once at start and every 100 ms since.
  EXPECT_EQ(manager.count("WATCHDOG=1"), 0u);
  EXPECT_EQ(bridge.stop(), 0);
  EXPECT_EQ(manager.count("WATCHDOG=1"), 0u);
}

}  // namespace
