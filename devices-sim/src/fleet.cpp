// The fleet only wires its parts together: the device table, the connections, the scheduler (the
// caller's thread), the responder (its worker thread) and the progress line; each part's file states
// its own threading contract.
#include "archer/devsim/fleet.h"

#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <optional>
#include <random>

#include "archer/core/log.h"
#include "connections.h"
#include "device_table.h"
#include "progress.h"
#include "responder.h"
#include "scheduler.h"

namespace archer::devsim {
namespace {

using namespace std::chrono_literals;

constexpr const char* kLog = "devsim";

std::mt19937_64 seeded(const Options& options) {
  std::uint64_t seed = options.seed != 0 ? options.seed : std::random_device{}();
  return std::mt19937_64(seed);
}

}  // namespace

long raise_open_files_limit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return -1;
  if (limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    setrlimit(RLIMIT_NOFILE, &limit);
    getrlimit(RLIMIT_NOFILE, &limit);
  }
  return static_cast<long>(limit.rlim_cur);
}

// Declaration order is construction order: one generator, drawn from in a fixed order (the
// responder's seed, then each device's), so a --seed run builds the same fleet every time.
struct Fleet::Impl {
  Options options;
  Stats stats;
  std::mt19937_64 random;
  std::uint64_t responder_seed;
  DeviceTable devices;
  Connections connections;
  Responder responder;
  Scheduler scheduler;

  explicit Impl(Options o)
      : options(std::move(o)),
        random(seeded(options)),
        responder_seed(random()),
        devices(options, random),
        connections(options, devices, stats),
        responder(options, devices, connections, stats, responder_seed),
        scheduler(options, devices, connections, stats, random) {
    connections.set_command_handler([this](std::size_t connection, const mqtt::const_message_ptr& message) {
      responder.enqueue(connection, message);
    });
  }
};

Fleet::Fleet(Options options) : impl_(std::make_unique<Impl>(std::move(options))) {}
Fleet::~Fleet() = default;
const Stats& Fleet::stats() const { return impl_->stats; }

int Fleet::run(const std::atomic<bool>& stop) {
  Impl& m = *impl_;
  const Options& o = m.options;
  const long files = raise_open_files_limit();
  if (files > 0 && static_cast<long>(m.connections.count()) + 64 > files) {
    log::warn(kLog, "{} connections but only {} open files allowed (ulimit -n)", m.connections.count(), files);
  }
  const ClockAnchor anchor = ClockAnchor::now();

  m.responder.start();
  std::optional<ProgressLine> progress;
  if (o.progress == Progress::always || (o.progress == Progress::automatic && isatty(STDERR_FILENO) == 1)) {
    progress.emplace(m.stats);
  }

  m.connections.connect_all(stop);
  const auto run_start = Clock::now();
  const auto end = o.duration.count() > 0 ? run_start + o.duration : Clock::time_point{};
  m.scheduler.run(stop, end, anchor);
  const double elapsed = std::chrono::duration<double>(Clock::now() - run_start).count();
  const std::uint64_t connected_at_end = m.stats.connected.load();

  // Let the last publishes be acknowledged (bounded), then go offline.
  m.connections.wait_acknowledged(5s);
  m.responder.stop();
  m.connections.disconnect_all();
  progress.reset();

  ReportInfo info;
  info.options = &o;
  for (int k = 0; k < kKindCount; ++k) info.devices_by_kind[k] = m.devices.count_of(static_cast<Kind>(k));
  info.connections = static_cast<int>(m.connections.count());
  info.elapsed_s = elapsed;
  info.connected_at_end = connected_at_end;
  const std::string report = report_json(m.stats, info);
  log::info(kLog, "sent {} acked {} in {:.1f}s ({:.0f}/s); commands received {} performed {} duplicates {}",
            m.stats.sent.load(), m.stats.acked.load(), elapsed,
            static_cast<double>(m.stats.sent.load()) / std::max(elapsed, 1e-9), m.stats.commands_received.load(),
            m.stats.commands_performed.load(), m.stats.commands_duplicates.load());
  int code = m.stats.max_connected.load() == 0 ? 1 : 0;
  if (code != 0) log::error(kLog, "no connection to {} ever succeeded", o.uri);
  if (!o.report_file.empty()) {
    std::ofstream out(o.report_file, std::ios::trunc);
    out << report;
    if (!out) {
      log::error(kLog, "cannot write the report to {}", o.report_file);
      code = 1;
    }
  }
  return code;
}

}  // namespace archer::devsim
