#include "archer/devsim/stats.h"

#include <bit>
#include <cmath>

#include <fmt/format.h>

namespace archer::devsim {

std::size_t Histogram::bucket_of(std::uint64_t value) {
  if (value < kSub) return static_cast<std::size_t>(value);
  const int top = static_cast<int>(std::bit_width(value)) - 1;  // >= 5
  const int shift = top - 4;                  // keep 5 significant bits: 16..31 -> sub-bucket
  const std::size_t bucket = static_cast<std::size_t>(shift) * 16 + static_cast<std::size_t>(value >> shift);
  return std::min(bucket, kBuckets - 1);
}

std::uint64_t Histogram::upper_edge(std::size_t bucket) {
  if (bucket < kSub) return bucket;
  // bucket = shift*16 + m, m in 16..31
  const std::size_t shift = (bucket - 16) / 16;
  const std::uint64_t m = bucket - shift * 16;
  return ((m + 1) << shift) - 1;
}

void Histogram::record(std::uint64_t value) {
  buckets_[bucket_of(value)].fetch_add(1, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
  std::uint64_t seen = max_.load(std::memory_order_relaxed);
  while (value > seen && !max_.compare_exchange_weak(seen, value, std::memory_order_relaxed)) {
  }
}

std::uint64_t Histogram::percentile(double q) const {
  const std::uint64_t total = count();
  if (total == 0) return 0;
  const auto rank = static_cast<std::uint64_t>(std::ceil(q * static_cast<double>(total)));
  std::uint64_t seen = 0;
  for (std::size_t i = 0; i < kBuckets; ++i) {
    seen += buckets_[i].load(std::memory_order_relaxed);
    if (seen >= std::max<std::uint64_t>(rank, 1)) return std::min(upper_edge(i), max());
  }
  return max();
}

void Stats::on_connected() {
  connects.fetch_add(1);
  const std::uint64_t now = connected.fetch_add(1) + 1;
  std::uint64_t seen = max_connected.load();
  while (now > seen && !max_connected.compare_exchange_weak(seen, now)) {
  }
}

namespace {

std::string histogram_json(const Histogram& h) {
  return fmt::format(R"({{"count":{},"p50":{},"p90":{},"p99":{},"p999":{},"max":{}}})", h.count(), h.percentile(0.5),
                     h.percentile(0.9), h.percentile(0.99), h.percentile(0.999), h.max());
}

std::string quoted(std::string_view text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') out += '\\';
    if (static_cast<unsigned char>(c) < 0x20) {
      out += fmt::format("\\u{:04x}", static_cast<int>(c));
      continue;
    }
    out += c;
  }
  return out + "\"";
}

}  // namespace

std::string report_json(const Stats& s, const ReportInfo& info) {
  const Options& o = *info.options;
  std::string kinds;
  for (int k = 0; k < kKindCount; ++k) {
    if (!kinds.empty()) kinds += ",";
    kinds += fmt::format(R"("{}":{{"devices":{},"sent":{}}})", kind_name(static_cast<Kind>(k)), info.devices_by_kind[k],
                         s.sent_by_kind[static_cast<std::size_t>(k)].load());
  }
  std::string faults;
  for (int f = 1; f < kFaultCount; ++f) {
    if (!faults.empty()) faults += ",";
    faults += fmt::format(R"("{}":{})", fault_name(static_cast<Fault>(f)), s.faults[static_cast<std::size_t>(f)].load());
  }
  const double elapsed = info.elapsed_s > 0 ? info.elapsed_s : 1e-9;
  std::string out;
  out += "{\n";
  out += fmt::format(R"(  "uri":{},"mqtt_version":{},"qos":{},)", quoted(o.uri), o.mqtt_version == 5 ? "\"5\"" : "\"3.1.1\"", o.qos) + "\n";
  out += fmt::format(R"(  "devices":{},"connections":{},"connected_clients":{},"max_connected_clients":{},)", o.devices,
                     info.connections, info.connected_at_end, s.max_connected.load()) + "\n";
  out += fmt::format(R"(  "connects":{},"connection_lost":{},"disconnects":{{"clean":{},"unclean":{}}},)", s.connects.load(),
                     s.connection_lost.load(), s.disconnects_clean.load(), s.disconnects_unclean.load()) + "\n";
  out += fmt::format(R"(  "elapsed_s":{:.3f},"target_rate":{},"achieved_rate":{:.1f},)", info.elapsed_s,
                     o.rate > 0 ? o.rate : o.devices * 1e6 / static_cast<double>(o.interval.count()),
                     static_cast<double>(s.sent.load()) / elapsed) + "\n";
  out += fmt::format(R"(  "sent":{},"acked":{},"publish_failed":{},"skipped_disconnected":{},)", s.sent.load(), s.acked.load(),
                     s.publish_failed.load(), s.skipped_disconnected.load()) + "\n";
  out += fmt::format(R"(  "kinds":{{{}}},)", kinds) + "\n";
  out += fmt::format(R"(  "formats":{{"flatbuffers":{},"json":{}}},)", s.sent_flatbuffers.load(), s.sent_json.load()) + "\n";
  out += fmt::format(R"(  "well_formed":{},"faults":{{{}}},)", s.faults[0].load(), faults) + "\n";
  out += fmt::format(R"(  "puback_latency_us":{},)", histogram_json(s.puback_latency)) + "\n";
  out += fmt::format(R"(  "send_lag_us":{},)", histogram_json(s.send_lag)) + "\n";
  out += fmt::format(R"(  "scheduled_to_ack_us":{},)", histogram_json(s.end_to_end)) + "\n";
  out += fmt::format(
             R"(  "commands":{{"received":{},"performed":{},"duplicates":{},"rejected":{},"unanswered":{},"late":{},"answered_twice":{},"invalid":{},"responses_sent":{}}})",
             s.commands_received.load(), s.commands_performed.load(), s.commands_duplicates.load(), s.commands_rejected.load(),
             s.commands_unanswered.load(), s.commands_late.load(), s.commands_twice.load(), s.commands_invalid.load(),
             s.responses_sent.load()) + "\n";
  out += "}\n";
  return out;
}

std::string progress_line(const Stats& s, double rate) {
  return fmt::format("sent {} acked {} cmds {}/{} rate {:.0f}/s connected {}", s.sent.load(), s.acked.load(),
                     s.responses_sent.load(), s.commands_received.load(), rate, s.connected.load());
}

}  // namespace archer::devsim
