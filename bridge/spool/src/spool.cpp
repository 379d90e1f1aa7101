// The store: the FIFO of records on LMDB, claims, drop_oldest and the sync thread (contract in
// spool.h). The bytes of a record are record_format.cpp's business, LMDB's handles lmdb_handles.h's.
#include "archer/spool/spool.h"

#include <fcntl.h>
#include <lmdb.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <limits>
#include <mutex>
#include <system_error>
#include <thread>

#include "archer/core/log.h"
#include "archer/core/metrics.h"
#include "lmdb_handles.h"

namespace archer::spool {
namespace {

using lmdb::Txn;

constexpr std::string_view kComponent = "spool";
constexpr std::uint64_t kMapHeadroom = std::uint64_t{64} << 20;
constexpr std::size_t kRemoveChunk = 16384;
constexpr std::uint64_t kNoLimit = std::numeric_limits<std::uint64_t>::max();
// The highest sequence ever used lives under a 1-byte key in the same (unnamed) database: it sorts
// before every 8-byte record key. (A named database would cost one more page write per commit,
// about 2 us of the 8 us an append takes.)
constexpr unsigned char kLastSequenceKey = 0;

// ---- keys: big-endian sequences, so LMDB's byte order is sequence order ----

std::array<unsigned char, 8> key_bytes(std::uint64_t sequence) {
  std::array<unsigned char, 8> k{};
  for (std::size_t i = 0; i < 8; ++i) k[i] = static_cast<unsigned char>((sequence >> (8 * (7 - i))) & 0xffU);
  return k;
}

std::uint64_t key_value(const MDB_val& v) {
  std::uint64_t s = 0;
  const auto* p = static_cast<const unsigned char*>(v.mv_data);
  for (std::size_t i = 0; i < 8; ++i) s = (s << 8) | p[i];
  return s;
}

MDB_val as_val(std::array<unsigned char, 8>& k) { return MDB_val{k.size(), k.data()}; }

MDB_val last_sequence_key() {
  static unsigned char key = kLastSequenceKey;
  return MDB_val{1, &key};
}

// Positions on the first record whose sequence is >= `sequence`.
int cursor_record_from(MDB_cursor* cursor, std::uint64_t sequence, MDB_val& key, MDB_val& value) {
  auto k = key_bytes(sequence);
  key = as_val(k);
  return mdb_cursor_get(cursor, &key, &value, MDB_SET_RANGE);
}

// Positions on the oldest record (skipping the last-sequence key).
int cursor_first_record(MDB_cursor* cursor, MDB_val& key, MDB_val& value) {
  return cursor_record_from(cursor, 1, key, value);
}

}  // namespace

// ---- Spool ----

struct Spool::Impl {
  SpoolConfig config;
  SpoolOptions options;
  lmdb::EnvPtr env;
  MDB_dbi records = 0;
  int lock_fd = -1;

  // Writers (append, remove, drop) hold write_mutex for their whole transaction. The atomics are
  // written under it and read without it.
  std::mutex write_mutex;
  std::atomic<std::uint64_t> next_sequence{1};
  std::atomic<std::uint64_t> bytes{0};
  std::atomic<std::uint64_t> count{0};
  std::atomic<std::uint64_t> dropped{0};
  // Records up to this sequence were handed out by claim_from(): drop_oldest leaves them alone.
  std::atomic<std::uint64_t> claimed{0};
  std::atomic<std::uint64_t> claimed_bytes{0};          // stored bytes of claimed records not yet removed
  std::atomic<std::uint64_t> map_full_limit{kNoLimit};  // lowered when LMDB's map fills first
  std::atomic<std::uint64_t> last_refused{0};

  std::mutex space_mutex;
  std::condition_variable space_cv;

  std::atomic<std::uint64_t> commits{0};
  std::atomic<std::uint64_t> synced{0};
  std::mutex sync_mutex;  // serializes mdb_env_sync callers and guards `stopping`
  std::condition_variable sync_cv;
  bool stopping = false;
  std::thread sync_thread;

  log::RateLimit drop_log{std::chrono::seconds(10)};
  log::RateLimit error_log{std::chrono::seconds(10)};

  std::array<Counter, 6> own_counters;
  std::array<Gauge, 2> own_gauges;
  Counter* appended_total = &own_counters[0];
  Counter* dropped_total = &own_counters[1];
  Counter* full_total = &own_counters[2];
  Counter* errors_total = &own_counters[3];
  Counter* corrupt_total = &own_counters[4];
  Counter* sync_total = &own_counters[5];
  Gauge* bytes_gauge = &own_gauges[0];
  Gauge* records_gauge = &own_gauges[1];

  ~Impl() {
    {
      std::lock_guard lock(sync_mutex);
      stopping = true;
    }
    sync_cv.notify_all();
    if (sync_thread.joinable()) sync_thread.join();
    if (env) {
      sync_now();
      env.reset();
    }
    if (lock_fd >= 0) ::close(lock_fd);
  }

  std::uint64_t limit() const { return std::min(config.max_size, map_full_limit.load()); }

  void publish_sizes() {
    bytes_gauge->set(static_cast<double>(bytes.load()));
    records_gauge->set(static_cast<double>(count.load()));
  }

  template <class... Args>
  void fail(fmt::format_string<Args...> format, Args&&... args) {
    errors_total->add();
    std::uint64_t suppressed = 0;
    if (error_log.allow(suppressed)) {
      log::error(kComponent, "{} ({} similar suppressed)", fmt::format(format, std::forward<Args>(args)...),
                 suppressed);
    }
  }

  bool sync_now() {
    std::lock_guard lock(sync_mutex);
    const std::uint64_t target = commits.load();
    if (target == synced.load()) return true;
    const int rc = mdb_env_sync(env.get(), 1);
    if (rc != MDB_SUCCESS) {
      fail("fsync of {} failed: {}", config.dir.string(), lmdb::error_text(rc));
      return false;
    }
    synced.store(target);
    sync_total->add();
    return true;
  }

  void sync_loop() {
    std::unique_lock lock(sync_mutex);
    while (!stopping) {
      sync_cv.wait_for(lock, options.sync_interval, [&] { return stopping; });
      if (stopping) break;
      lock.unlock();
      sync_now();
      lock.lock();
    }
  }

  void space_freed() {
    { std::lock_guard lock(space_mutex); }
    space_cv.notify_all();
  }

  AppendResult append_encoded(std::vector<std::string>& values, std::uint64_t total, bool beyond_limit = false);
  RemoveResult remove_keys(std::span<const std::uint64_t> sequences);
};

Spool::Spool(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Spool::~Spool() = default;

std::unique_ptr<Spool> Spool::open(const SpoolConfig& config, std::string& error, SpoolOptions options) {
  auto impl = std::make_unique<Impl>();
  impl->config = config;
  impl->options = options;
  const std::string dir = config.dir.string();
  if (config.max_size == 0) {
    error = fmt::format("spool {}: max_size must be > 0", dir);
    return nullptr;
  }

  std::error_code ec;
  std::filesystem::create_directories(config.dir, ec);
  if (ec) {
    error = fmt::format("spool {}: cannot create directory: {}", dir, ec.message());
    return nullptr;
  }
  if (!std::filesystem::is_directory(config.dir, ec)) {
    error = fmt::format("spool {}: not a directory", dir);
    return nullptr;
  }

  const std::string lock_path = (config.dir / "archer-spool.lock").string();
  impl->lock_fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (impl->lock_fd < 0) {
    error = fmt::format("spool {}: cannot create {}: {}", dir, lock_path, std::strerror(errno));
    return nullptr;
  }
  if (::flock(impl->lock_fd, LOCK_EX | LOCK_NB) != 0) {
    error = errno == EWOULDBLOCK
                ? fmt::format("spool {}: in use by another process (or another Spool in this process)", dir)
                : fmt::format("spool {}: cannot lock {}: {}", dir, lock_path, std::strerror(errno));
    return nullptr;
  }

  MDB_env* raw = nullptr;
  int rc = mdb_env_create(&raw);
  if (rc != MDB_SUCCESS) {
    error = fmt::format("spool {}: mdb_env_create: {}", dir, lmdb::error_text(rc));
    return nullptr;
  }
  impl->env.reset(raw);
  MDB_env* env = raw;
  // Room for B-tree pages, free pages and fragmentation; the map is address space, not disk.
  const std::uint64_t max_u64 = std::numeric_limits<std::uint64_t>::max();
  const std::uint64_t map_size =
      config.max_size > (max_u64 - kMapHeadroom) / 2 ? max_u64 : config.max_size * 2 + kMapHeadroom;
  const auto map_size_t =
      static_cast<std::size_t>(std::min<std::uint64_t>(map_size, std::numeric_limits<std::size_t>::max() / 2));
  unsigned flags = MDB_NOTLS;
  if (options.sync_interval.count() > 0) flags |= MDB_NOSYNC;
  if ((rc = mdb_env_set_mapsize(env, map_size_t)) != MDB_SUCCESS ||
      (rc = mdb_env_open(env, dir.c_str(), flags, 0600)) != MDB_SUCCESS) {
    error = fmt::format("spool {}: cannot open LMDB environment: {}", dir, lmdb::error_text(rc));
    return nullptr;
  }

  // The unnamed database; then one scan to recover sizes and the next sequence.
  {
    Txn txn;
    if ((rc = txn.begin(env, 0)) != MDB_SUCCESS ||
        (rc = mdb_dbi_open(txn.get(), nullptr, 0, &impl->records)) != MDB_SUCCESS ||
        (rc = txn.commit()) != MDB_SUCCESS) {
      error = fmt::format("spool {}: cannot open databases: {}", dir, lmdb::error_text(rc));
      return nullptr;
    }
  }
  std::uint64_t last = 0;
  {
    Txn txn;
    if ((rc = txn.begin(env, MDB_RDONLY)) != MDB_SUCCESS || (rc = txn.open_cursor(impl->records)) != MDB_SUCCESS) {
      error = fmt::format("spool {}: cannot read: {}", dir, lmdb::error_text(rc));
      return nullptr;
    }
    MDB_val key{};
    MDB_val value{};
    std::uint64_t bytes = 0;
    std::uint64_t count = 0;
    for (rc = cursor_first_record(txn.cursor(), key, value); rc == MDB_SUCCESS;
         rc = mdb_cursor_get(txn.cursor(), &key, &value, MDB_NEXT)) {
      if (key.mv_size != kStoredKeySize) {
        error = fmt::format("spool {}: corrupt: a key of {} bytes", dir, key.mv_size);
        return nullptr;
      }
      last = key_value(key);
      bytes += kStoredKeySize + value.mv_size;
      ++count;
    }
    if (rc != MDB_NOTFOUND) {
      error = fmt::format("spool {}: corrupt or unreadable: {}", dir, lmdb::error_text(rc));
      return nullptr;
    }
    MDB_val meta_key = last_sequence_key();
    rc = mdb_get(txn.get(), impl->records, &meta_key, &value);
    if (rc == MDB_SUCCESS && value.mv_size == kStoredKeySize) {
      last = std::max(last, key_value(value));
    } else if (rc != MDB_NOTFOUND && rc != MDB_SUCCESS) {
      error = fmt::format("spool {}: corrupt or unreadable: {}", dir, lmdb::error_text(rc));
      return nullptr;
    }
    impl->bytes = bytes;
    impl->count = count;
  }
  impl->next_sequence = last + 1;

  if (options.metrics != nullptr) {
    Metrics& m = *options.metrics;
    impl->appended_total = &m.counter("archer_spool_appended_total", "Records appended to the spool");
    impl->dropped_total = &m.counter("archer_spool_dropped_total", "Records deleted unsent by on_full = drop_oldest");
    impl->full_total = &m.counter("archer_spool_full_total", "Appends refused because the spool was full");
    impl->errors_total = &m.counter("archer_spool_errors_total", "Spool storage errors (LMDB, fsync)");
    impl->corrupt_total = &m.counter("archer_spool_corrupt_total", "Spool records that did not decode");
    impl->sync_total = &m.counter("archer_spool_syncs_total", "fsyncs of the spool");
    impl->bytes_gauge = &m.gauge("archer_spool_bytes", "Stored bytes in the spool (keys + values)");
    impl->records_gauge = &m.gauge("archer_spool_records", "Records in the spool");
  }
  impl->publish_sizes();
  if (options.sync_interval.count() > 0) {
    Impl* p = impl.get();
    impl->sync_thread = std::thread([p] { p->sync_loop(); });
  }
  log::info(kComponent, "opened {}: {} records, {} bytes, next sequence {}, sync every {} ms", dir, impl->count.load(),
            impl->bytes.load(), impl->next_sequence.load(), options.sync_interval.count());
  return std::unique_ptr<Spool>(new Spool(std::move(impl)));
}

AppendResult Spool::append(const SpoolRecord& record, Admission admission) {
  if (admission == Admission::within_limit) return append_batch(std::span<const SpoolRecord>(&record, 1));
  if (!encodable(record)) {
    impl_->errors_total->add();
    return {SpoolStatus::error, 0, 0, 0, "record not encodable (qos > 2 or a field over 4 GiB)"};
  }
  std::vector<std::string> values{encode_record(record)};
  return impl_->append_encoded(values, kStoredKeySize + values.front().size(), /*beyond_limit=*/true);
}

AppendResult Spool::append_batch(std::span<const SpoolRecord> records) {
  AppendResult result;
  if (records.empty()) {
    result.sequence = impl_->next_sequence.load();
    return result;
  }
  // Encode outside the write lock.
  std::vector<std::string> values;
  values.reserve(records.size());
  std::uint64_t total = 0;
  for (const SpoolRecord& r : records) {
    if (!encodable(r)) {
      impl_->errors_total->add();
      return {SpoolStatus::error, 0, 0, 0, "record not encodable (qos > 2 or a field over 4 GiB)"};
    }
    values.push_back(encode_record(r));
    total += kStoredKeySize + values.back().size();
  }
  return impl_->append_encoded(values, total);
}

AppendResult Spool::Impl::append_encoded(std::vector<std::string>& values, std::uint64_t total, bool beyond_limit) {
  AppendResult result;
  result.bytes = total;
  if (total > config.max_size && !beyond_limit) {
    errors_total->add();
    result.status = SpoolStatus::error;
    result.message = fmt::format("{} bytes can never fit in a spool of max_size {}", total, config.max_size);
    return result;
  }
  std::lock_guard lock(write_mutex);
  for (int attempt = 0;; ++attempt) {
    const std::uint64_t cap = limit();
    const std::uint64_t used = bytes.load();
    const bool must_drop = used + total > cap && !beyond_limit;
    if (must_drop && config.on_full == SpoolFullPolicy::backpressure) {
      last_refused.store(total);
      full_total->add();
      result.status = SpoolStatus::full;
      result.message = fmt::format("spool full: {} of {} bytes used, {} needed", used, cap, total);
      return result;
    }

    Txn txn;
    int rc = txn.begin(env.get(), 0);
    std::uint64_t dropped_records = 0;
    std::uint64_t dropped_bytes = 0;
    if (rc == MDB_SUCCESS && must_drop) {
      rc = txn.open_cursor(records);
      MDB_val key{};
      MDB_val value{};
      while (rc == MDB_SUCCESS && used - dropped_bytes + total > cap) {
        rc = cursor_record_from(txn.cursor(), claimed.load() + 1, key, value);
        if (rc != MDB_SUCCESS) break;
        const std::uint64_t size = kStoredKeySize + value.mv_size;
        rc = mdb_cursor_del(txn.cursor(), 0);
        if (rc == MDB_SUCCESS) {
          ++dropped_records;
          dropped_bytes += size;
        }
      }
      if (rc == MDB_NOTFOUND && used - dropped_bytes + total > cap && used - dropped_bytes > 0) {
        // Everything left is claimed (on its way to Kafka): nothing may be dropped, so wait as with
        // backpressure until the claimed records are acknowledged and removed.
        txn.abort();
        last_refused.store(total);
        full_total->add();
        result.status = SpoolStatus::full;
        result.message = fmt::format("spool full of records on their way to Kafka: {} of {} bytes used", used, cap);
        return result;
      }
      if (rc == MDB_NOTFOUND) rc = MDB_SUCCESS;  // emptied; the cap may be below `total` after a map-full
      txn.close_cursor();
    }
    const std::uint64_t first = next_sequence.load();
    for (std::size_t i = 0; rc == MDB_SUCCESS && i < values.size(); ++i) {
      auto k = key_bytes(first + i);
      MDB_val key = as_val(k);
      MDB_val value{values[i].size(), values[i].data()};
      rc = mdb_put(txn.get(), records, &key, &value, MDB_APPEND);
    }
    if (rc == MDB_SUCCESS) rc = txn.commit();

    if (rc == MDB_MAP_FULL && attempt < 4 && used > 0) {
      // LMDB's pages ran out before our byte count did (fragmentation): take the current content as
      // the limit (7/8 of it, for hysteresis) until the spool empties, and decide again.
      txn.abort();
      map_full_limit.store(used - used / 8);
      fail("{}: LMDB map full at {} stored bytes; limit lowered to {} until the spool empties", config.dir.string(),
           used, used - used / 8);
      continue;
    }
    if (rc != MDB_SUCCESS) {
      fail("append to {} failed: {}", config.dir.string(), lmdb::error_text(rc));
      result.status = SpoolStatus::error;
      result.message = fmt::format("append failed: {}", lmdb::error_text(rc));
      return result;
    }

    next_sequence.store(first + values.size());
    bytes.store(used - dropped_bytes + total);
    count.store(count.load() - dropped_records + values.size());
    commits.fetch_add(1);
    appended_total->add(values.size());
    publish_sizes();
    if (dropped_records > 0) {
      dropped.fetch_add(dropped_records);
      dropped_total->add(dropped_records);
      std::uint64_t suppressed = 0;
      if (drop_log.allow(suppressed)) {
        log::warn(kComponent,
                  "{} full: dropped the {} oldest records ({} bytes) unsent; {} dropped since start ({} similar lines "
                  "suppressed)",
                  config.dir.string(), dropped_records, dropped_bytes, dropped.load(), suppressed);
      }
    }
    result.sequence = first;
    result.dropped = dropped_records;
    return result;
  }
}

bool Spool::wait_for_space(std::chrono::milliseconds timeout, std::uint64_t bytes) {
  Impl& s = *impl_;
  const std::uint64_t need = bytes != 0 ? bytes : s.last_refused.load();
  std::unique_lock lock(s.space_mutex);
  return s.space_cv.wait_for(lock, timeout, [&] {
    const std::uint64_t cap = s.limit();
    return need <= cap && s.bytes.load() <= cap - need;
  });
}

ReadResult Spool::read_from(std::uint64_t after_sequence, std::size_t max_records) const {
  ReadResult result;
  if (max_records == 0 || after_sequence == std::numeric_limits<std::uint64_t>::max()) return result;
  Txn txn;
  int rc = txn.begin(impl_->env.get(), MDB_RDONLY);
  if (rc == MDB_SUCCESS) rc = txn.open_cursor(impl_->records);
  auto k = key_bytes(after_sequence + 1);
  MDB_val key = as_val(k);
  MDB_val value{};
  if (rc == MDB_SUCCESS) rc = mdb_cursor_get(txn.cursor(), &key, &value, MDB_SET_RANGE);
  while (rc == MDB_SUCCESS && result.records.size() < max_records) {
    Stored stored;
    stored.sequence = key_value(key);
    if (decode_record(std::string_view(static_cast<const char*>(value.mv_data), value.mv_size), stored.record)) {
      result.records.push_back(std::move(stored));
    } else {
      result.corrupt.push_back(stored.sequence);
      impl_->corrupt_total->add();
      if (result.corrupt.size() >= max_records) break;
    }
    rc = mdb_cursor_get(txn.cursor(), &key, &value, MDB_NEXT);
  }
  if (rc != MDB_SUCCESS && rc != MDB_NOTFOUND) {
    impl_->fail("read from {} failed: {}", impl_->config.dir.string(), lmdb::error_text(rc));
    result.status = SpoolStatus::error;
    result.message = fmt::format("read failed: {}", lmdb::error_text(rc));
  }
  return result;
}

ReadResult Spool::claim_from(std::uint64_t after_sequence, std::size_t max_records) {
  // Under the writers' lock, so no drop can happen between reading a record and claiming it.
  std::lock_guard lock(impl_->write_mutex);
  ReadResult result = read_from(after_sequence, max_records);
  std::uint64_t last = 0;
  std::uint64_t newly_claimed = 0;
  for (const Stored& stored : result.records) {
    if (stored.sequence > impl_->claimed.load()) newly_claimed += stored_size(stored.record);
  }
  impl_->claimed_bytes.fetch_add(newly_claimed);
  if (!result.records.empty()) last = result.records.back().sequence;
  if (!result.corrupt.empty()) last = std::max(last, result.corrupt.back());
  if (last > impl_->claimed.load()) impl_->claimed.store(last);
  return result;
}

RemoveResult Spool::remove(std::span<const std::uint64_t> sequences) { return impl_->remove_keys(sequences); }

RemoveResult Spool::Impl::remove_keys(std::span<const std::uint64_t> sequences) {
  RemoveResult result;
  if (sequences.empty()) return result;
  std::lock_guard lock(write_mutex);
  const std::uint64_t last = next_sequence.load() - 1;
  Txn txn;
  int rc = txn.begin(env.get(), 0);
  if (rc == MDB_SUCCESS) rc = txn.open_cursor(records);
  std::uint64_t removed = 0;
  std::uint64_t freed = 0;
  std::uint64_t freed_claimed = 0;
  bool removed_last = false;
  for (std::size_t i = 0; rc == MDB_SUCCESS && i < sequences.size(); ++i) {
    auto k = key_bytes(sequences[i]);
    MDB_val key = as_val(k);
    MDB_val value{};
    rc = mdb_cursor_get(txn.cursor(), &key, &value, MDB_SET_KEY);
    if (rc == MDB_NOTFOUND) {
      rc = MDB_SUCCESS;
      continue;
    }
    if (rc != MDB_SUCCESS) break;
    const std::uint64_t size = kStoredKeySize + value.mv_size;
    rc = mdb_cursor_del(txn.cursor(), 0);
    if (rc == MDB_SUCCESS) {
      ++removed;
      freed += size;
      if (sequences[i] <= claimed.load()) freed_claimed += size;
      removed_last = removed_last || sequences[i] == last;
    }
  }
  txn.close_cursor();
  if (rc == MDB_SUCCESS && removed_last) {
    // The highest sequence leaves the records database: remember it so numbering continues.
    MDB_val meta_key = last_sequence_key();
    auto v = key_bytes(last);
    MDB_val value = as_val(v);
    rc = mdb_put(txn.get(), records, &meta_key, &value, 0);
  }
  if (rc == MDB_SUCCESS && removed > 0) rc = txn.commit();
  if (rc != MDB_SUCCESS) {
    fail("remove from {} failed: {}", config.dir.string(), lmdb::error_text(rc));
    result.status = SpoolStatus::error;
    result.message = fmt::format("remove failed: {}", lmdb::error_text(rc));
    return result;
  }
  if (removed == 0) return result;
  bytes.store(bytes.load() - freed);
  claimed_bytes.store(claimed_bytes.load() - std::min(freed_claimed, claimed_bytes.load()));
  count.store(count.load() - removed);
  if (count.load() == 0) map_full_limit.store(kNoLimit);
  commits.fetch_add(1);
  publish_sizes();
  result.removed = removed;
  space_freed();
  return result;
}

RemoveResult Spool::remove_through(std::uint64_t sequence) {
  RemoveResult total;
  std::vector<std::uint64_t> chunk;
  std::uint64_t after = 0;
  for (;;) {
    // Collect keys with a short read transaction, then delete them in a write transaction.
    chunk.clear();
    {
      Txn txn;
      int rc = txn.begin(impl_->env.get(), MDB_RDONLY);
      if (rc == MDB_SUCCESS) rc = txn.open_cursor(impl_->records);
      auto k = key_bytes(after + 1);
      MDB_val key = as_val(k);
      MDB_val value{};
      if (rc == MDB_SUCCESS) rc = mdb_cursor_get(txn.cursor(), &key, &value, MDB_SET_RANGE);
      while (rc == MDB_SUCCESS && chunk.size() < kRemoveChunk) {
        const std::uint64_t s = key_value(key);
        if (s > sequence) break;
        chunk.push_back(s);
        rc = mdb_cursor_get(txn.cursor(), &key, &value, MDB_NEXT);
      }
      if (rc != MDB_SUCCESS && rc != MDB_NOTFOUND) {
        impl_->fail("remove from {} failed: {}", impl_->config.dir.string(), lmdb::error_text(rc));
        total.status = SpoolStatus::error;
        total.message = fmt::format("remove failed: {}", lmdb::error_text(rc));
        return total;
      }
    }
    if (chunk.empty()) return total;
    RemoveResult part = impl_->remove_keys(chunk);
    total.removed += part.removed;
    if (!part.ok()) {
      total.status = part.status;
      total.message = std::move(part.message);
      return total;
    }
    after = chunk.back();
    if (chunk.size() < kRemoveChunk) return total;
  }
}

bool Spool::sync() { return impl_->sync_now(); }

std::optional<std::uint64_t> Spool::first_sequence() const {
  Txn txn;
  int rc = txn.begin(impl_->env.get(), MDB_RDONLY);
  if (rc == MDB_SUCCESS) rc = txn.open_cursor(impl_->records);
  MDB_val key{};
  MDB_val value{};
  if (rc == MDB_SUCCESS) rc = cursor_first_record(txn.cursor(), key, value);
  if (rc == MDB_SUCCESS) return key_value(key);
  if (rc != MDB_NOTFOUND) impl_->fail("read from {} failed: {}", impl_->config.dir.string(), lmdb::error_text(rc));
  return std::nullopt;
}

std::optional<std::int64_t> Spool::oldest_received_ms() const {
  const ReadResult oldest = read_from(0, 1);
  if (oldest.records.empty()) return std::nullopt;
  return oldest.records.front().record.received_ms;
}

std::uint64_t Spool::next_sequence() const { return impl_->next_sequence.load(); }
std::uint64_t Spool::size_records() const { return impl_->count.load(); }
std::uint64_t Spool::size_bytes() const { return impl_->bytes.load(); }
std::uint64_t Spool::max_size() const { return impl_->config.max_size; }
std::uint64_t Spool::dropped() const { return impl_->dropped.load(); }
std::uint64_t Spool::claimed_bytes() const { return impl_->claimed_bytes.load(); }
const std::filesystem::path& Spool::dir() const { return impl_->config.dir; }

}  // namespace archer::spool
