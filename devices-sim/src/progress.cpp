#include "progress.h"

#include <unistd.h>

#include <chrono>
#include <string>

namespace archer::devsim {

ProgressLine::ProgressLine(const Stats& stats) : stats_(stats), thread_([this] { draw(); }) {}

ProgressLine::~ProgressLine() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

void ProgressLine::draw() {
  using Clock = std::chrono::steady_clock;
  std::unique_lock lock(mutex_);
  std::uint64_t last = stats_.sent.load();
  auto last_time = Clock::now();
  while (!wake_.wait_for(lock, std::chrono::seconds(1), [&] { return stopping_; })) {
    const auto now = Clock::now();
    const std::uint64_t sent = stats_.sent.load();
    const double rate = static_cast<double>(sent - last) / std::chrono::duration<double>(now - last_time).count();
    last = sent;
    last_time = now;
    const std::string line = "\r" + progress_line(stats_, rate) + "\033[K";
    [[maybe_unused]] auto written = ::write(STDERR_FILENO, line.data(), line.size());
  }
  [[maybe_unused]] auto written = ::write(STDERR_FILENO, "\n", 1);
}

}  // namespace archer::devsim
