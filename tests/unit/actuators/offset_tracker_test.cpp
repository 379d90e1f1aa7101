#include "archer/actuators/offset_tracker.h"

#include <gtest/gtest.h>

namespace archer::actuators {
namespace {

TEST(OffsetTracker, CommitsUpToTheOldestUnfinishedCommandOfEachPartition) {
  OffsetTracker tracker;
  tracker.start_at(0, 10);
  tracker.taken(0, 10);
  tracker.taken(0, 11);
  tracker.taken(1, 4);
  EXPECT_TRUE(tracker.advance().empty()) << "nothing finished yet";
  tracker.finished(0, 11);
  EXPECT_TRUE(tracker.advance().empty()) << "10 is still running";
  tracker.finished(0, 10);
  EXPECT_EQ(tracker.advance(), (OffsetTracker::Offsets{{0, 12}}));
  EXPECT_TRUE(tracker.advance().empty()) << "reported once";
  tracker.finished(1, 4);
  EXPECT_EQ(tracker.advance(), (OffsetTracker::Offsets{{1, 5}}));
  EXPECT_EQ(tracker.committed(0), 12);
  EXPECT_EQ(tracker.committed(7), -1);
  EXPECT_EQ(tracker.unfinished(), 0u);
}

TEST(OffsetTracker, AStartingPointIsNotReportedAsAnAdvance) {
  OffsetTracker tracker;
  tracker.start_at(0, 5);
  EXPECT_TRUE(tracker.advance().empty());
  EXPECT_EQ(tracker.committed(0), 5);
}

}  // namespace
}  // namespace archer::actuators
