#pragma once
// The running fleet: devices, their MQTT connections, the open-loop scheduler, the command responder
// and the report. Threads (see README.md): the caller's thread runs the scheduler; the responder's
// worker thread decides and times answers; one progress thread; Paho's own threads deliver callbacks,
// which only count or hand work to the responder. The parts live in src/ (device_table, connections,
// scheduler, responder, progress), each with its own threading contract; Fleet only wires them.
#include <atomic>
#include <memory>

#include "archer/devsim/options.h"
#include "archer/devsim/stats.h"

namespace archer::devsim {

class Fleet {
 public:
  explicit Fleet(Options options);
  ~Fleet();
  Fleet(const Fleet&) = delete;
  Fleet& operator=(const Fleet&) = delete;

  // Connects, runs until `duration` or until `stop` becomes true, disconnects cleanly and writes the
  // report. Returns the process exit code (0, or 1 when the report cannot be written or no device
  // ever connected).
  int run(const std::atomic<bool>& stop);

  const Stats& stats() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Raises the soft limit of open files to the hard limit (a socket per device); returns the new limit.
long raise_open_files_limit();

}  // namespace archer::devsim
