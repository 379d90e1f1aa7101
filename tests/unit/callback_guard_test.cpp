#include "archer/core/callback_guard.h"

#include <gtest/gtest.h>

#include <stdexcept>

#include "archer/core/metrics.h"

namespace archer {
namespace {

TEST(CallbackGuard, AThrowingCallbackIsCountedAndDoesNotEscape) {
  Metrics metrics;
  Counter& failures = metrics.counter("archer_callback_exceptions_total", "test");
  attach_callback_failure_counter(&failures);
  bool ran_after = false;
  guarded("test callback", [] { throw std::runtime_error("boom"); });
  guarded("test callback", [] { throw 42; });
  guarded("test callback", [&] { ran_after = true; });
  EXPECT_EQ(failures.value(), 2u);
  EXPECT_TRUE(ran_after);
  attach_callback_failure_counter(nullptr);
}

}  // namespace
}  // namespace archer
