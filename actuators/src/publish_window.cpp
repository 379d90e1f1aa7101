#include "archer/actuators/publish_window.h"

namespace archer::actuators {

void PublishWindow::submit(Start start) {
  if (in_flight_ >= limit_) {
    waiting_.push_back(std::move(start));
    return;
  }
  ++in_flight_;
  start();
}

void PublishWindow::done() {
  if (in_flight_ > 0) --in_flight_;
  // A start may complete at once (a refused publish) and call done() again: take one at a time.
  while (in_flight_ < limit_ && !waiting_.empty()) {
    Start next = std::move(waiting_.front());
    waiting_.pop_front();
    ++in_flight_;
    next();
  }
}

}  // namespace archer::actuators
