#pragma once
#include <chrono>
#include <cstdint>
#include <functional>

namespace archer::testing {

using namespace std::chrono_literals;

// Polls `predicate` every `poll` until it returns true (-> true) or `timeout` has passed (-> false).
// The predicate is always evaluated at least once, and once more at the deadline.
bool wait_until(const std::function<bool()>& predicate, std::chrono::milliseconds timeout,
                std::chrono::milliseconds poll = 10ms);

// A port on 127.0.0.1 that was free a moment ago (bind to port 0, read it back, close).
std::uint16_t free_port();

// True when a TCP connection to 127.0.0.1:port succeeds right now.
bool tcp_port_open(std::uint16_t port);

}  // namespace archer::testing
