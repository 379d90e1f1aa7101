#pragma once
// At most `limit` MQTT publishes wait for their PUBACK at a time; the others queue here, in order.
// Paho stalls for seconds when more QoS 1 publishes are unacknowledged than the broker's Receive
// Maximum (Mosquitto's default: 20), so the gateway's requests go out through a smaller window.
// Owned by one thread (the actuator loop): submit() and done() are called there.
#include <cstddef>
#include <deque>
#include <functional>

namespace archer::actuators {

class PublishWindow {
 public:
  // Starts one publish; its completion, success or not, must be reported with done().
  using Start = std::function<void()>;

  explicit PublishWindow(std::size_t limit) : limit_(limit) {}
  // Starts `start` now when the window has room, else when earlier publishes complete.
  void submit(Start start);
  void done();

  std::size_t in_flight() const { return in_flight_; }
  std::size_t waiting() const { return waiting_.size(); }

 private:
  std::size_t limit_;
  std::size_t in_flight_ = 0;
  std::deque<Start> waiting_;
};

}  // namespace archer::actuators
