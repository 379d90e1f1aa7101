#include "archer/spool/spool.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "archer/core/metrics.h"

namespace archer::spool {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

SpoolRecord reading(std::uint64_t i, std::size_t payload_size = 128) {
  SpoolRecord r;
  r.route = "telemetry";
  r.topic = "devices/dev-" + std::to_string(i % 7) + "/telemetry";
  r.payload = std::to_string(i);
  r.payload.resize(payload_size, 'x');
  r.qos = 1;
  r.content_type = "application/x-flatbuffers";
  r.user_properties = {{"traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}};
  r.received_ms = 1'790'000'000'000 + static_cast<std::int64_t>(i);
  return r;
}

std::uint64_t index_of(const SpoolRecord& r) { return std::stoull(r.payload.substr(0, r.payload.find('x'))); }

class SpoolTest : public ::testing::Test {
 protected:
  void SetUp() override {
    static std::atomic<int> counter{0};
    dir_ = fs::temp_directory_path() /
           ("archer-spool-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
    fs::remove_all(dir_);
    config_.dir = dir_ / "spool";
    config_.max_size = 64 << 20;
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::unique_ptr<Spool> open(SpoolOptions options = {}) {
    std::string error;
    auto spool = Spool::open(config_, error, options);
    EXPECT_NE(spool, nullptr) << error;
    return spool;
  }

  fs::path dir_;
  SpoolConfig config_;
};

// ---- the store ----

TEST_F(SpoolTest, FifoOrderAndRestartKeepsRecordsAndSequence) {
  std::vector<SpoolRecord> written;
  {
    auto spool = open();
    for (std::uint64_t i = 0; i < 1000; ++i) {
      written.push_back(reading(i, i % 300));
      auto result = spool->append(written.back());
      ASSERT_TRUE(result.ok()) << result.message;
      EXPECT_EQ(result.sequence, i + 1);
    }
    auto read = spool->read_from(0, 10000);
    ASSERT_TRUE(read.ok());
    ASSERT_EQ(read.records.size(), 1000U);
    for (std::size_t i = 0; i < read.records.size(); ++i) {
      EXPECT_EQ(read.records[i].sequence, i + 1);
      EXPECT_EQ(read.records[i].record, written[i]);
    }
  }
  auto spool = open();
  EXPECT_EQ(spool->size_records(), 1000U);
  EXPECT_EQ(spool->next_sequence(), 1001U);
  EXPECT_EQ(spool->first_sequence(), 1U);
  std::uint64_t expected_bytes = 0;
  for (const auto& r : written) expected_bytes += stored_size(r);
  EXPECT_EQ(spool->size_bytes(), expected_bytes);
  auto read = spool->read_from(500, 10000);
  ASSERT_EQ(read.records.size(), 500U);
  EXPECT_EQ(read.records.front().sequence, 501U);
  EXPECT_EQ(read.records.front().record, written[500]);
  EXPECT_EQ(spool->append(reading(5000)).sequence, 1001U);
}

TEST_F(SpoolTest, SequenceContinuesAfterRestartWithEmptySpool) {
  {
    auto spool = open();
    for (int i = 0; i < 5; ++i) ASSERT_TRUE(spool->append(reading(1)).ok());
    EXPECT_EQ(spool->remove_through(5).removed, 5U);
    EXPECT_EQ(spool->size_records(), 0U);
    EXPECT_EQ(spool->size_bytes(), 0U);
  }
  auto spool = open();
  EXPECT_EQ(spool->size_records(), 0U);
  EXPECT_FALSE(spool->first_sequence().has_value());
  EXPECT_EQ(spool->append(reading(1)).sequence, 6U);
}

TEST_F(SpoolTest, RemovesIndividualSequencesInAnyOrder) {
  auto spool = open();
  for (std::uint64_t i = 1; i <= 10; ++i) ASSERT_TRUE(spool->append(reading(i)).ok());
  const std::vector<std::uint64_t> acked{7, 2, 9, 1};
  auto removed = spool->remove(acked);
  ASSERT_TRUE(removed.ok()) << removed.message;
  EXPECT_EQ(removed.removed, 4U);
  EXPECT_EQ(spool->remove(acked).removed, 0U);  // idempotent
  EXPECT_EQ(spool->size_records(), 6U);
  EXPECT_EQ(spool->size_bytes(), 6 * stored_size(reading(1)));
  EXPECT_EQ(spool->first_sequence(), 3U);
  std::vector<std::uint64_t> left;
  for (const auto& s : spool->read_from(0, 100).records) {
    left.push_back(s.sequence);
    EXPECT_EQ(index_of(s.record), s.sequence);
  }
  EXPECT_EQ(left, (std::vector<std::uint64_t>{3, 4, 5, 6, 8, 10}));
  EXPECT_EQ(spool->read_from(5, 2).records.size(), 2U);
  EXPECT_EQ(spool->read_from(5, 2).records[1].sequence, 8U);
}

TEST_F(SpoolTest, RemovesRangesLargerThanOneTransactionChunk) {
  auto spool = open();
  std::vector<SpoolRecord> batch;
  for (std::uint64_t i = 1; i <= 40000; ++i) {
    batch.push_back(reading(i, 16));
    if (batch.size() == 1000) {
      ASSERT_TRUE(spool->append_batch(batch).ok());
      batch.clear();
    }
  }
  const std::vector<std::uint64_t> hole{20000};
  ASSERT_EQ(spool->remove(hole).removed, 1U);
  auto removed = spool->remove_through(35000);
  ASSERT_TRUE(removed.ok()) << removed.message;
  EXPECT_EQ(removed.removed, 34999U);
  EXPECT_EQ(spool->size_records(), 5000U);
  EXPECT_EQ(spool->first_sequence(), 35001U);
  EXPECT_EQ(spool->remove_through(35000).removed, 0U);
  EXPECT_EQ(spool->remove_through(40000).removed, 5000U);
  EXPECT_EQ(spool->size_bytes(), 0U);
}

TEST_F(SpoolTest, AppendBatchGetsConsecutiveSequencesInOneTransaction) {
  auto spool = open();
  ASSERT_TRUE(spool->append(reading(0)).ok());
  std::vector<SpoolRecord> batch{reading(1), reading(2), reading(3)};
  auto result = spool->append_batch(batch);
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(result.sequence, 2U);
  EXPECT_EQ(result.bytes, 3 * stored_size(reading(1)));
  auto read = spool->read_from(1, 10);
  ASSERT_EQ(read.records.size(), 3U);
  EXPECT_EQ(read.records[2].record, reading(3));
}

TEST_F(SpoolTest, BackpressureRefusesWhenFullAndWaitForSpaceIsWokenByRemove) {
  const std::uint64_t record = stored_size(reading(1));
  config_.max_size = 10 * record;
  auto spool = open();
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(spool->append(reading(1)).ok());
  auto full = spool->append(reading(1));
  EXPECT_EQ(full.status, SpoolStatus::full);
  EXPECT_FALSE(full.message.empty());
  std::vector<SpoolRecord> batch{reading(1), reading(2)};
  EXPECT_EQ(spool->append_batch(batch).status, SpoolStatus::full);  // all or nothing
  EXPECT_EQ(spool->size_records(), 10U);
  EXPECT_EQ(spool->dropped(), 0U);

  const auto start = std::chrono::steady_clock::now();
  EXPECT_FALSE(spool->wait_for_space(50ms));
  EXPECT_GE(std::chrono::steady_clock::now() - start, 50ms);

  // Only remove()'s wake-up can end this wait in time: its own timeout is far beyond the bound
  // asserted. The drainer's head start is not synchronisation: it makes the waiter likely to be asleep
  // when remove() lands; when it is not, the wait ends at once and the test passes for no reason,
  // but it can never fail for one.
  std::thread drainer([&] {
    std::this_thread::sleep_for(100ms);
    const std::vector<std::uint64_t> first{1};
    spool->remove(first);
  });
  const auto waiting = std::chrono::steady_clock::now();
  EXPECT_TRUE(spool->wait_for_space(30s, record));
  EXPECT_LT(std::chrono::steady_clock::now() - waiting, 5s);
  drainer.join();
  EXPECT_TRUE(spool->append(reading(1)).ok());
  EXPECT_EQ(spool->append(reading(1)).status, SpoolStatus::full);
}

TEST_F(SpoolTest, RecordLargerThanMaxSizeIsAnErrorNotFull) {
  config_.max_size = 100;
  auto spool = open();
  auto result = spool->append(reading(1, 200));
  EXPECT_EQ(result.status, SpoolStatus::error);
  EXPECT_NE(result.message.find("can never fit"), std::string::npos) << result.message;
}

TEST_F(SpoolTest, DropOldestDropsExactlyTheCountedNumber) {
  const std::uint64_t record = stored_size(reading(1));
  config_.max_size = 100 * record + record / 2;
  config_.on_full = SpoolFullPolicy::drop_oldest;
  Metrics metrics;
  auto spool = open({.sync_interval = 100ms, .metrics = &metrics});
  std::uint64_t reported = 0;
  for (std::uint64_t i = 1; i <= 1000; ++i) {
    auto result = spool->append(reading(i));
    ASSERT_TRUE(result.ok()) << result.message;
    reported += result.dropped;
  }
  std::vector<SpoolRecord> batch{reading(1001), reading(1002), reading(1003)};
  auto result = spool->append_batch(batch);
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(result.dropped, 3U);
  reported += result.dropped;
  EXPECT_EQ(spool->dropped(), 903U);
  EXPECT_EQ(reported, 903U);
  EXPECT_EQ(metrics.counter("archer_spool_dropped_total", "").value(), 903U);
  EXPECT_EQ(spool->size_records(), 100U);
  EXPECT_LE(spool->size_bytes(), config_.max_size);
  auto read = spool->read_from(0, 1000);
  ASSERT_EQ(read.records.size(), 100U);
  for (std::size_t i = 0; i < 100; ++i) EXPECT_EQ(index_of(read.records[i].record), 904 + i);
}

TEST_F(SpoolTest, DropOldestNeverDropsClaimedRecords) {
  const std::uint64_t record = stored_size(reading(1));
  config_.max_size = 10 * record;
  config_.on_full = SpoolFullPolicy::drop_oldest;
  auto spool = open();
  for (std::uint64_t i = 1; i <= 10; ++i) ASSERT_TRUE(spool->append(reading(i)).ok());
  ASSERT_EQ(spool->claim_from(0, 4).records.size(), 4U);
  EXPECT_EQ(spool->claimed_bytes(), 4 * record);

  auto some_unclaimed = spool->append(reading(11));  // drops 5, the oldest unclaimed
  ASSERT_TRUE(some_unclaimed.ok()) << some_unclaimed.message;
  EXPECT_EQ(some_unclaimed.dropped, 1U);
  EXPECT_EQ(spool->read_from(4, 1).records.at(0).sequence, 6U);

  ASSERT_EQ(spool->claim_from(4, 100).records.size(), 6U);
  auto all_claimed = spool->append(reading(12));  // nothing may be dropped: full, as with backpressure
  EXPECT_EQ(all_claimed.status, SpoolStatus::full) << all_claimed.message;
  EXPECT_EQ(spool->dropped(), 1U);
  EXPECT_EQ(spool->size_records(), 10U);

  const std::vector<std::uint64_t> acked{1};
  ASSERT_EQ(spool->remove(acked).removed, 1U);
  EXPECT_EQ(spool->claimed_bytes(), 9 * record);
  EXPECT_TRUE(spool->append(reading(12)).ok());
  EXPECT_EQ(spool->dropped(), 1U);
}

TEST_F(SpoolTest, ConcurrentAppenderAndDrainerLoseAndDuplicateNothing) {
  constexpr std::uint64_t kRecords = 100000;
  config_.max_size = 300 * stored_size(reading(1, 64));  // small: the appender meets backpressure
  auto spool = open({.sync_interval = 20ms});
  std::atomic<std::uint64_t> full_waits{0};
  std::thread appender([&] {
    std::uint64_t i = 1;
    while (i <= kRecords) {
      AppendResult result;
      if (i % 3 == 0 && i + 8 <= kRecords) {
        std::vector<SpoolRecord> batch;
        for (std::uint64_t j = 0; j < 8; ++j) batch.push_back(reading(i + j, 64));
        result = spool->append_batch(batch);
        if (result.ok()) i += 8;
      } else {
        result = spool->append(reading(i, 64));
        if (result.ok()) ++i;
      }
      if (result.status == SpoolStatus::full) {
        ++full_waits;
        spool->wait_for_space(1s);
      }
      ASSERT_NE(result.status, SpoolStatus::error) << result.message;
    }
  });
  std::uint64_t seen = 0;
  std::uint64_t after = 0;
  const auto deadline = std::chrono::steady_clock::now() + 100s;
  while (seen < kRecords && std::chrono::steady_clock::now() < deadline) {
    auto read = spool->read_from(after, 512);
    ASSERT_TRUE(read.ok()) << read.message;
    ASSERT_TRUE(read.corrupt.empty());
    if (read.records.empty()) {
      std::this_thread::sleep_for(1ms);
      continue;
    }
    std::vector<std::uint64_t> odd;  // acks out of order: odd ones individually, then the range
    for (const auto& stored : read.records) {
      ASSERT_EQ(index_of(stored.record), seen + 1);
      ASSERT_EQ(stored.sequence, seen + 1);
      ++seen;
      if (stored.sequence % 2 == 1) odd.insert(odd.begin(), stored.sequence);
    }
    after = read.records.back().sequence;
    ASSERT_TRUE(spool->remove(odd).ok());
    ASSERT_TRUE(spool->remove_through(after).ok());
  }
  appender.join();
  EXPECT_EQ(seen, kRecords);
  EXPECT_EQ(spool->size_records(), 0U);
  EXPECT_EQ(spool->size_bytes(), 0U);
  EXPECT_EQ(spool->next_sequence(), kRecords + 1);
  EXPECT_GT(full_waits.load(), 0U);  // backpressure was exercised
}

TEST_F(SpoolTest, SyncEveryCommitModeAndExplicitSync) {
  {
    auto spool = open({.sync_interval = 0ms});
    ASSERT_TRUE(spool->append(reading(1)).ok());
    EXPECT_TRUE(spool->sync());
  }
  auto spool = open();
  EXPECT_EQ(spool->size_records(), 1U);
  EXPECT_TRUE(spool->sync());
}

TEST_F(SpoolTest, ProcessCrashAfterAppendLosesNothing) {
  // "fast" forks here (no threads are running between tests), so the child uses this test's directory.
  GTEST_FLAG_SET(death_test_style, "fast");
  EXPECT_EXIT(
      {
        std::string error;
        auto spool = Spool::open(config_, error, {.sync_interval = std::chrono::hours(1)});
        if (!spool) std::_Exit(1);
        for (std::uint64_t i = 1; i <= 500; ++i) {
          if (!spool->append(reading(i)).ok()) std::_Exit(2);
        }
        std::_Exit(0);  // no destructor, no fsync: like kill -9
      },
      ::testing::ExitedWithCode(0), "");
  auto spool = open();
  ASSERT_EQ(spool->size_records(), 500U);
  auto read = spool->read_from(0, 1000);
  ASSERT_EQ(read.records.size(), 500U);
  EXPECT_EQ(read.records.back().record, reading(500));
}

TEST_F(SpoolTest, OpenFailsClearlyOnUnusableDirectories) {
  std::string error;
  fs::create_directories(dir_);
  std::ofstream(dir_ / "a-file") << "not a directory";
  config_.dir = dir_ / "a-file" / "spool";
  EXPECT_EQ(Spool::open(config_, error), nullptr);
  EXPECT_NE(error.find("cannot create directory"), std::string::npos) << error;
  EXPECT_NE(error.find(config_.dir.string()), std::string::npos) << error;

  config_.dir = dir_ / "corrupt";
  fs::create_directories(config_.dir);
  std::ofstream(config_.dir / "data.mdb", std::ios::binary) << std::string(16384, '\x5a');
  error.clear();
  EXPECT_EQ(Spool::open(config_, error), nullptr);
  EXPECT_NE(error.find("cannot open LMDB environment"), std::string::npos) << error;

  config_.dir = dir_ / "busy";
  auto first = open();
  ASSERT_NE(first, nullptr);
  error.clear();
  EXPECT_EQ(Spool::open(config_, error), nullptr);
  EXPECT_NE(error.find("in use"), std::string::npos) << error;
}

}  // namespace
}  // namespace archer::spool
