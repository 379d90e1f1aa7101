// Spool benchmark (ctest label `bench`, not in CI): how many appends per second the durable spool
// takes for 128-byte readings, and what that costs next to baselines measured in the same run:
//   - an in-memory std::deque<std::string> (the floor: encoding + a copy),
//   - a raw LMDB put, one transaction per record, same environment flags, no encoding (the store's floor),
// plus append_batch(64), a concurrent append + read + remove cycle, and fsync-per-commit mode.
// Usage: spool_bench [dir] [records]   (dir defaults to a fresh folder under the system temp dir)
#include <lmdb.h>
#include <sys/resource.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "archer/spool/spool.h"

namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;
using archer::spool::Spool;
using archer::spool::SpoolRecord;

SpoolRecord reading(std::uint64_t i) {
  SpoolRecord r;
  r.route = "telemetry";
  r.topic = "devices/dev-" + std::to_string(i % 100) + "/telemetry";
  r.payload.assign(128, static_cast<char>('a' + i % 26));
  r.qos = 1;
  r.content_type = "application/x-flatbuffers";
  r.received_ms = 1'790'000'000'000 + static_cast<std::int64_t>(i);
  return r;
}

double cpu_seconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  auto seconds = [](const timeval& t) { return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6; };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

struct Figure {
  std::string name;
  std::uint64_t records = 0;
  double wall = 0;
  double cpu = 0;
  double per_second() const { return static_cast<double>(records) / wall; }
  double us_each() const { return wall * 1e6 / static_cast<double>(records); }
  double cpu_us_each() const { return cpu * 1e6 / static_cast<double>(records); }
};

template <class F>
Figure measure(std::string name, std::uint64_t records, F&& body) {
  const double cpu0 = cpu_seconds();
  const auto t0 = std::chrono::steady_clock::now();
  body();
  const auto t1 = std::chrono::steady_clock::now();
  Figure f{std::move(name), records, std::chrono::duration<double>(t1 - t0).count(), cpu_seconds() - cpu0};
  fmt::print("{:<44} {:>9.0f} rec/s  {:>7.2f} us/rec wall  {:>7.2f} us/rec CPU\n", f.name, f.per_second(), f.us_each(),
             f.cpu_us_each());
  std::fflush(stdout);
  return f;
}

std::unique_ptr<Spool> open_spool(const fs::path& dir, std::chrono::milliseconds sync_interval) {
  fs::remove_all(dir);
  archer::SpoolConfig config;
  config.dir = dir;
  config.max_size = std::uint64_t{1} << 30;
  std::string error;
  auto spool = Spool::open(config, error, {.sync_interval = sync_interval});
  if (!spool) {
    fmt::print(stderr, "{}\n", error);
    std::exit(1);
  }
  return spool;
}

void check(bool ok, const char* what) {
  if (!ok) {
    fmt::print(stderr, "failed: {}\n", what);
    std::exit(1);
  }
}

}  // namespace

int main(int argc, char** argv) {
  const fs::path base =
      argc > 1 ? fs::path(argv[1]) : fs::temp_directory_path() / ("archer-spool-bench-" + std::to_string(::getpid()));
  const std::uint64_t n = argc > 2 ? std::stoull(argv[2]) : 200000;
  std::vector<SpoolRecord> records;
  records.reserve(n);
  for (std::uint64_t i = 0; i < n; ++i) records.push_back(reading(i));
  const std::uint64_t stored = archer::spool::stored_size(records[0]);
  double load[3] = {0, 0, 0};
  check(getloadavg(load, 3) == 3, "getloadavg");
  fmt::print(
      "spool_bench: {} records of 128 B payload ({} B stored each), dir {}, {} cores, load {:.2f} {:.2f} {:.2f}\n", n,
      stored, base.string(), std::thread::hardware_concurrency(), load[0], load[1], load[2]);

  // Baseline 1: in memory.
  std::deque<std::string> deque;
  const Figure memory = measure("baseline: encode + std::deque push", n, [&] {
    for (const auto& r : records) deque.push_back(archer::spool::encode_record(r));
  });
  deque.clear();

  // Baseline 2: raw LMDB, one put + commit per record, MDB_NOSYNC|MDB_NOTLS, value pre-encoded.
  Figure raw;
  {
    const fs::path dir = base / "raw";
    fs::remove_all(dir);
    fs::create_directories(dir);
    MDB_env* env = nullptr;
    MDB_dbi dbi = 0;
    MDB_txn* txn = nullptr;
    check(mdb_env_create(&env) == 0 && mdb_env_set_mapsize(env, std::size_t{3} << 30) == 0 &&
              mdb_env_open(env, dir.c_str(), MDB_NOSYNC | MDB_NOTLS, 0600) == 0 &&
              mdb_txn_begin(env, nullptr, 0, &txn) == 0 && mdb_dbi_open(txn, nullptr, 0, &dbi) == 0 &&
              mdb_txn_commit(txn) == 0,
          "raw lmdb open");
    std::string value = archer::spool::encode_record(records[0]);
    raw = measure("baseline: raw LMDB put+commit (NOSYNC)", n, [&] {
      for (std::uint64_t i = 1; i <= n; ++i) {
        unsigned char key[8];
        for (int b = 0; b < 8; ++b) key[b] = static_cast<unsigned char>(i >> (8 * (7 - b)));
        MDB_val k{8, key};
        MDB_val v{value.size(), value.data()};
        check(mdb_txn_begin(env, nullptr, 0, &txn) == 0 && mdb_put(txn, dbi, &k, &v, MDB_APPEND) == 0 &&
                  mdb_txn_commit(txn) == 0,
              "raw put");
      }
    });
    mdb_env_close(env);
  }

  // The spool: one record per transaction, then 64 per transaction.
  Figure single;
  Figure batch;
  {
    auto spool = open_spool(base / "single", 100ms);
    single = measure("spool append() x1, sync 100 ms", n, [&] {
      for (const auto& r : records) check(spool->append(r).ok(), "append");
    });
  }
  {
    // The same without the background fsync competing for the disk and CPU (isolates its cost).
    auto spool = open_spool(base / "nosync", std::chrono::hours(1));
    measure("spool append() x1, no background sync", n, [&] {
      for (const auto& r : records) check(spool->append(r).ok(), "append");
    });
  }
  {
    auto spool = open_spool(base / "batch", 100ms);
    batch = measure("spool append_batch(64), sync 100 ms", n, [&] {
      for (std::size_t i = 0; i < n; i += 64) {
        const std::size_t count = std::min<std::size_t>(64, n - i);
        check(spool->append_batch(std::span<const SpoolRecord>(records.data() + i, count)).ok(), "append_batch");
      }
    });
    const auto t0 = std::chrono::steady_clock::now();
    spool->append(records[0]);
    check(spool->sync(), "sync");
    fmt::print("  one fsync after {} MB appended: {:.2f} ms\n", spool->size_bytes() >> 20,
               std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }

  // Cycle: Paho-like appender thread (one record per append) + drainer thread (read 512, remove them).
  Figure cycle;
  {
    auto spool = open_spool(base / "cycle", 100ms);
    std::atomic<std::uint64_t> drained{0};
    cycle = measure("spool append + read + remove (2 threads)", n, [&] {
      std::thread drainer([&] {
        std::uint64_t after = 0;
        while (drained.load() < n) {
          auto read = spool->read_from(after, 512);
          check(read.ok(), "read");
          if (read.records.empty()) {
            std::this_thread::sleep_for(200us);
            continue;
          }
          after = read.records.back().sequence;
          check(spool->remove_through(after).ok(), "remove");
          drained += read.records.size();
        }
      });
      for (const auto& r : records) check(spool->append(r).ok(), "append");
      drainer.join();
    });
    fmt::print("  left in spool: {}\n", spool->size_records());
  }

  // Full durability for comparison: fsync on every commit (fewer records: it is slow).
  const std::uint64_t n_sync = std::min<std::uint64_t>(n, 2000);
  Figure fsync_each;
  {
    auto spool = open_spool(base / "fsync", 0ms);
    fsync_each = measure("spool append() x1, fsync every commit", n_sync, [&] {
      for (std::uint64_t i = 0; i < n_sync; ++i) check(spool->append(records[i]).ok(), "append");
    });
  }

  fmt::print("ratios (wall time per record vs baselines):\n");
  fmt::print("  append() x1        = {:.1f}x deque, {:.2f}x raw LMDB\n", single.us_each() / memory.us_each(),
             single.us_each() / raw.us_each());
  fmt::print("  append_batch(64)   = {:.1f}x deque, {:.2f}x raw LMDB (per-record), {:.1f}x faster than x1\n",
             batch.us_each() / memory.us_each(), batch.us_each() / raw.us_each(), single.us_each() / batch.us_each());
  fmt::print("  fsync every commit = {:.0f}x append() x1 with sync 100 ms\n", fsync_each.us_each() / single.us_each());
  check(getloadavg(load, 3) == 3, "getloadavg");
  fmt::print("load after: {:.2f} {:.2f} {:.2f}\n", load[0], load[1], load[2]);
  fs::remove_all(base);
  return 0;
}
