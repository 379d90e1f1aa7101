#pragma once
// Counters and latency histograms, updated from the scheduler, Paho's threads and the command
// worker (all atomics), and the JSON report written at the end.
#include <array>
#include <atomic>
#include <cstdint>
#include <string>

#include "archer/devsim/options.h"

namespace archer::devsim {

// Log-linear histogram of microseconds: 32 sub-buckets per power of two (error < 3.2 %), up to ~2^40 us.
class Histogram {
 public:
  void record(std::uint64_t value_us);
  std::uint64_t count() const { return count_.load(std::memory_order_relaxed); }
  std::uint64_t max() const { return max_.load(std::memory_order_relaxed); }
  // The value at quantile q (0..1): the upper edge of its bucket, capped at max().
  std::uint64_t percentile(double q) const;

  static std::size_t bucket_of(std::uint64_t value);
  static std::uint64_t upper_edge(std::size_t bucket);

 private:
  static constexpr std::size_t kSub = 32;
  static constexpr std::size_t kBuckets = kSub * 40;
  std::array<std::atomic<std::uint64_t>, kBuckets> buckets_{};
  std::atomic<std::uint64_t> count_{0};
  std::atomic<std::uint64_t> max_{0};
};

struct Stats {
  using Counter = std::atomic<std::uint64_t>;
  Counter sent{0};           // publishes handed to the client
  Counter acked{0};          // PUBACK/PUBCOMP received (QoS > 0), or written (QoS 0)
  Counter publish_failed{0};
  Counter skipped_disconnected{0};  // scheduled while the device's connection was down
  std::array<Counter, kKindCount> sent_by_kind{};
  Counter sent_json{0};
  Counter sent_flatbuffers{0};
  std::array<Counter, kFaultCount> faults{};  // [none] = well-formed messages

  Counter commands_received{0};
  Counter commands_performed{0};
  Counter commands_duplicates{0};
  Counter commands_rejected{0};
  Counter commands_unanswered{0};
  Counter commands_late{0};
  Counter commands_twice{0};
  Counter commands_invalid{0};
  Counter responses_sent{0};

  Counter connected{0};  // connections up right now
  Counter max_connected{0};
  Counter connects{0};   // successful connects, reconnects included
  Counter connection_lost{0};
  Counter disconnects_clean{0};
  Counter disconnects_unclean{0};

  Histogram puback_latency;  // publish -> PUBACK (QoS 1) / PUBCOMP (QoS 2)
  Histogram send_lag;        // scheduled time -> publish call (how far behind the open-loop schedule)
  Histogram end_to_end;      // scheduled time -> PUBACK

  void on_connected();
};

struct ReportInfo {
  const Options* options = nullptr;
  int devices_by_kind[kKindCount] = {};
  int connections = 0;
  double elapsed_s = 0;
  std::uint64_t connected_at_end = 0;  // connections up when the run ended (before disconnecting)
};

std::string report_json(const Stats& stats, const ReportInfo& info);
// One line: "sent 1200 acked 1199 cmds 3 rate 400/s connected 10".
std::string progress_line(const Stats& stats, double rate);

}  // namespace archer::devsim
