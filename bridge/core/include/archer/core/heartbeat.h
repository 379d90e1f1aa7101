#pragma once
// When a loop last went round, for /healthz and the systemd watchdog: a loop that has not turned
// for kStuckAfter is stuck. A loop beats once per turn, and from inside its known long steps (the
// actuator's start load), so that only a loop that really hangs goes quiet. Any thread.
#include <atomic>
#include <chrono>
#include <cstdint>

namespace archer {

class Heartbeat {
 public:
  // Longer than any step a loop legitimately takes without beating (a Kafka request timeout).
  static constexpr std::chrono::seconds kStuckAfter{30};

  void beat() { last_ns_.store(now_ns(), std::memory_order_relaxed); }
  std::chrono::milliseconds since() const {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::nanoseconds(now_ns() - last_ns_.load(std::memory_order_relaxed)));
  }
  bool stuck() const { return since() >= kStuckAfter; }

 private:
  static std::int64_t now_ns() { return std::chrono::steady_clock::now().time_since_epoch().count(); }
  std::atomic<std::int64_t> last_ns_{now_ns()};
};

}  // namespace archer
