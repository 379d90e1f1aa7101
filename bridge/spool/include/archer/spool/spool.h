#pragma once
// The durable spool: a bounded FIFO of received MQTT messages on LMDB, between MQTT receipt and
// Kafka delivery. A message is appended before Paho's arrival callback returns (so before the
// PUBACK) and removed only after Kafka acknowledged it.
//
// Storage: one LMDB environment in `SpoolConfig::dir` (data.mdb, lock.mdb, plus our own
// archer-spool.lock that keeps a second process or a second Spool in this process out). Its one
// database maps an 8-byte big-endian sequence number (1, 2, 3, ... monotonic, continuing after a
// restart) to the encoded record (record_format.h); the 1-byte key 0x00, which sorts first, keeps the
// highest sequence ever used, so numbering also continues when the spool was empty at shutdown.
//
// Durability (SpoolOptions::sync_interval, default 100 ms):
//  - append() returns ok only after its write transaction committed. Commits do not fsync
//    (MDB_NOSYNC): the pages are in the OS page cache, so a process crash (kill -9, abort, OOM kill)
//    loses nothing append() returned ok for.
//  - A background thread calls mdb_env_sync(force) every sync_interval when something was committed.
//    A power loss (or kernel crash) loses the appends of at most the last sync_interval plus the
//    duration of one fsync. Caveat, from LMDB's documentation of MDB_NOSYNC: that bound holds only
//    when the filesystem writes back in order; on filesystems that reorder writeback (ext4
//    data=ordered does for overwritten pages) a power loss inside the window can also leave the
//    database unopenable: open() then fails with an error naming the directory, and the operator
//    moves it aside. sync_interval = 0 fsyncs every commit (LMDB's default: no window, no such
//    risk) at the price of one fdatasync per append()/append_batch().
//  - remove() is ordinary committed state too: after a power loss, removed records may come back
//    (delivered twice, never lost).
//
// Bound: "stored bytes" = sum over records of (8-byte key + encoded value). The LMDB map is sized
// max_size * 2 + 64 MiB to leave room for B-tree pages, free pages and fragmentation; if LMDB still
// reports MDB_MAP_FULL, the spool treats its current content as the limit until it empties.
//
// Threads: every method is thread-safe. The intended split is append()/append_batch() from Paho's
// callback thread, read_from()/remove()/remove_through() from the drainer thread, and the sync
// thread owned by the Spool. Write transactions (append, remove, drop) are serialized by one mutex;
// reads use their own read-only transaction (MDB_NOTLS, so not tied to a thread), never held
// across a call, so a reader never blocks the appender and vice versa.
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "archer/core/config.h"
#include "archer/spool/record_format.h"

namespace archer {
class Metrics;
}

namespace archer::spool {

enum class SpoolStatus {
  ok,
  full,   // backpressure: no room now; wait_for_space() and retry
  error,  // message says what; the spool is still usable unless it says otherwise
};

struct AppendResult {
  SpoolStatus status = SpoolStatus::ok;
  std::uint64_t sequence = 0;  // the (first) record's sequence when ok; a batch gets consecutive ones
  std::uint64_t bytes = 0;     // stored bytes of the record(s)
  std::uint64_t dropped = 0;   // drop_oldest: how many older records this append deleted
  std::string message;
  bool ok() const { return status == SpoolStatus::ok; }
};

struct RemoveResult {
  SpoolStatus status = SpoolStatus::ok;  // never full
  std::uint64_t removed = 0;             // sequences not present are ignored (idempotent)
  std::string message;
  bool ok() const { return status == SpoolStatus::ok; }
};

struct Stored {
  std::uint64_t sequence = 0;
  SpoolRecord record;
};

struct ReadResult {
  SpoolStatus status = SpoolStatus::ok;
  std::vector<Stored> records;         // ascending sequence
  std::vector<std::uint64_t> corrupt;  // sequences whose value did not decode: remove them (counted)
  std::string message;
  bool ok() const { return status == SpoolStatus::ok; }
};

struct SpoolOptions {
  // How often committed appends are fsynced; 0 = fsync every commit (no power-loss window).
  std::chrono::milliseconds sync_interval{100};
  // Optional: registers archer_spool_* counters and gauges. Must outlive the Spool.
  Metrics* metrics = nullptr;
};

class Spool {
 public:
  // Creates the directory if needed and opens (or creates) the LMDB environment; scans the records
  // once to recover the stored bytes and the next sequence. nullptr + `error` on failure (directory
  // not creatable or not writable, spool in use, LMDB file corrupt, ...).
  static std::unique_ptr<Spool> open(const SpoolConfig& config, std::string& error, SpoolOptions options = {});

  // Stops the sync thread, fsyncs once more and closes the environment.
  ~Spool();
  Spool(const Spool&) = delete;
  Spool& operator=(const Spool&) = delete;

  // Whether an append must stay within max_size. beyond_limit is for the few messages Paho still
  // delivers while the daemon stops with the spool full: the broker is acknowledged when the
  // callback returns, so the message is kept above the limit (the LMDB map has room for it) rather
  // than lost.
  enum class Admission { within_limit, beyond_limit };

  // Committed (see Durability above) when it returns ok. When stored bytes + the record would
  // exceed max_size: backpressure -> full; drop_oldest -> deletes the oldest unclaimed records in the
  // same transaction (counted, warned) and appends, or full when every record left is claimed. A record larger than
  // max_size on its own -> error.
  AppendResult append(const SpoolRecord& record, Admission admission = Admission::within_limit);
  // All or nothing, one transaction: the hot path's group commit.
  AppendResult append_batch(std::span<const SpoolRecord> records);

  // Waits until `bytes` more stored bytes fit (0 = the size of the last record refused with full),
  // woken by removes. True when they fit; false on timeout.
  bool wait_for_space(std::chrono::milliseconds timeout, std::uint64_t bytes = 0);

  // Up to max_records records with sequence > after_sequence, ascending. One read transaction.
  ReadResult read_from(std::uint64_t after_sequence, std::size_t max_records) const;
  // read_from(), and marks what it returns as claimed: handed to Kafka, so drop_oldest never drops
  // it (when only claimed records are left, append() answers full, as with backpressure). This makes
  // `dropped` exact: a dropped record was never sent.
  ReadResult claim_from(std::uint64_t after_sequence, std::size_t max_records);

  // Delete the given sequences (any order; absent ones ignored) in one write transaction.
  RemoveResult remove(std::span<const std::uint64_t> sequences);
  // Delete every record with sequence <= `sequence` (in transactions of at most 16384 records, so a
  // large backlog never exceeds LMDB's dirty-page limit).
  RemoveResult remove_through(std::uint64_t sequence);

  // Forces an fsync now (graceful drain, tests). False + log on failure.
  bool sync();

  std::optional<std::uint64_t> first_sequence() const;     // oldest stored sequence, if any
  std::optional<std::int64_t> oldest_received_ms() const;  // receipt time of the oldest record, if any
  std::uint64_t next_sequence() const;                     // the sequence the next append gets
  std::uint64_t size_records() const;
  std::uint64_t size_bytes() const;
  std::uint64_t max_size() const;
  std::uint64_t dropped() const;        // records deleted by drop_oldest since open
  std::uint64_t claimed_bytes() const;  // stored bytes of claimed records not yet removed
  const std::filesystem::path& dir() const;

 private:
  struct Impl;
  explicit Spool(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace archer::spool
