#pragma once
// A one-line progress display on stderr (sent, acknowledged, rate, connections), redrawn every second.
// Threads: its own thread, from construction to destruction; it only reads the Stats atomics.
#include <condition_variable>
#include <mutex>
#include <thread>

#include "archer/devsim/stats.h"

namespace archer::devsim {

class ProgressLine {
 public:
  explicit ProgressLine(const Stats& stats);
  ~ProgressLine();  // ends the line with a newline
  ProgressLine(const ProgressLine&) = delete;
  ProgressLine& operator=(const ProgressLine&) = delete;

 private:
  void draw();

  const Stats& stats_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace archer::devsim
