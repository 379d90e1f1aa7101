#include "archer/actuators/publish_window.h"

#include <gtest/gtest.h>

namespace archer::actuators {
namespace {

TEST(PublishWindow, StartsAtMostItsLimitAndTheRestInOrderAsOthersComplete) {
  PublishWindow window(2);
  std::vector<int> started;
  for (int i = 0; i < 5; ++i) window.submit([&started, i] { started.push_back(i); });
  EXPECT_EQ(started, (std::vector<int>{0, 1}));
  EXPECT_EQ(window.waiting(), 3u);
  window.done();
  EXPECT_EQ(started, (std::vector<int>{0, 1, 2}));
  window.done();
  window.done();
  window.done();
  EXPECT_EQ(started, (std::vector<int>{0, 1, 2, 3, 4}));
  EXPECT_EQ(window.in_flight(), 1u);
  EXPECT_EQ(window.waiting(), 0u);
}

}  // namespace
}  // namespace archer::actuators
