#include "archer/core/callback_guard.h"

#include <atomic>

#include "archer/core/log.h"
#include "archer/core/metrics.h"

namespace archer {
namespace {

std::atomic<Counter*> failure_counter{nullptr};
log::RateLimit failure_log_limit{std::chrono::seconds(1)};

}  // namespace

void attach_callback_failure_counter(Counter* counter) { failure_counter.store(counter); }

void note_callback_failure(std::string_view where, std::string_view what) noexcept {
  if (Counter* counter = failure_counter.load()) counter->add();
  try {
    std::uint64_t suppressed = 0;
    if (failure_log_limit.allow(suppressed)) {
      log::error("callback", "{} threw: {} ({} more since the last line); the event was dropped", where, what,
                 suppressed);
    }
  } catch (...) {
    // Logging itself failed (out of memory): the count above is all that can be kept.
  }
}

}  // namespace archer
