#pragma once
// The open-loop schedule: every device's telemetry at its due time (late sends are measured, never
// skipped to catch up), malformed messages at their ratios, disconnects on purpose, and the
// connections' housekeeping every 100 ms.
// Threads: run() and everything it calls run on the caller's thread.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <random>

#include "archer/devsim/faults.h"
#include "archer/devsim/options.h"
#include "archer/devsim/stats.h"
#include "connections.h"
#include "device_table.h"

namespace archer::devsim {

// Steady time to Unix microseconds, from one pair of readings of both clocks.
struct ClockAnchor {
  Clock::time_point steady;
  std::int64_t system_us = 0;

  static ClockAnchor now();
  std::int64_t to_system_us(Clock::time_point t) const;
};

class Scheduler {
 public:
  // `random` (the fleet's generator, drawn from on this thread only) and the rest must outlive it.
  Scheduler(const Options& options, DeviceTable& devices, Connections& connections, Stats& stats,
            std::mt19937_64& random);

  // Until `stop` becomes true or `end` passes (zero: no end). Telemetry stamps carry the scheduled
  // time through `anchor`.
  void run(const std::atomic<bool>& stop, Clock::time_point end, const ClockAnchor& anchor);

 private:
  void send_telemetry(std::size_t d, Clock::time_point scheduled, FaultPicker& faults, RatioPicker& formats,
                      const std::atomic<bool>& stop, Clock::time_point end, const ClockAnchor& anchor);

  const Options& options_;
  DeviceTable& devices_;
  Connections& connections_;
  Stats& stats_;
  std::mt19937_64& random_;
};

}  // namespace archer::devsim
