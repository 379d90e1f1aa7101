#include "archer/daemon/status_json.h"

#include <cmath>

#include <fmt/format.h>

#include "archer/core/json_text.h"

namespace archer::daemon {
namespace {

// Shortest round-trip form; JSON has no Inf or NaN.
std::string number(double value) { return std::isfinite(value) ? fmt::format("{}", value) : "null"; }

std::string object_of(const Labels& pairs) {
  std::string out = "{";
  for (const auto& [name, value] : pairs) {
    if (out.size() > 1) out += ',';
    out += json_string(name) + ':' + json_string(value);
  }
  return out + '}';
}

template <typename T, typename Format>
std::string array_of(const std::vector<T>& items, Format format) {
  std::string out = "[";
  for (const T& item : items) {
    if (out.size() > 1) out += ',';
    out += format(item);
  }
  return out + ']';
}

std::string sample_json(const Metrics::Sample& sample) {
  std::string out = fmt::format(R"({{"name":{},"type":"{}","help":{},"labels":{})", json_string(sample.name),
                                type_name(sample.type), json_string(sample.help), object_of(sample.labels));
  if (sample.type != Metrics::Type::histogram) return out + fmt::format(R"(,"value":{}}})", number(sample.value));
  const Histogram::Snapshot& h = sample.histogram;
  return out + fmt::format(R"(,"count":{},"sum":{},"bounds":{},"cumulative":{}}})",
                           h.cumulative.empty() ? 0 : h.count(), number(h.sum), array_of(h.bounds, number),
                           array_of(h.cumulative, [](std::uint64_t n) { return std::to_string(n); }));
}

}  // namespace

std::string status_json(const StatusIdentity& identity, const Readiness& readiness,
                        const std::vector<Metrics::Sample>& samples,
                        const std::vector<RecentEvents::Event>& dead_letters) {
  std::string out =
      fmt::format(R"({{"gateway":{},"version":{},"now_unix_ms":{},"uptime_seconds":{},"ready":{},"reasons":{},)",
                  json_string(identity.gateway), json_string(identity.version), identity.now_unix_ms,
                  number(identity.uptime_seconds), readiness.ready() ? "true" : "false",
                  array_of(readiness.reasons, [](const std::string& reason) { return json_string(reason); }));
  out += R"("metrics":)" + array_of(samples, sample_json) + ',';
  out += R"("dead_letters":)" + array_of(dead_letters, [](const RecentEvents::Event& event) {
           return fmt::format(R"({{"unix_ms":{},"fields":{}}})", event.unix_ms, object_of(event.fields));
         });
  return out + "}\n";
}

}  // namespace archer::daemon
