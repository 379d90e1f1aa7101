#pragma once
// The document GET /status.json answers with, and the status page (GET /) reads every few seconds:
//   {"gateway": id, "version": v, "now_unix_ms": t, "uptime_seconds": s,
//    "ready": bool, "reasons": [text, ...],                       (the same Readiness as /readyz)
//    "metrics": [{"name", "type": "counter"|"gauge"|"histogram", "help", "labels": {k: v},
//                 "value": x                                      (counter, gauge)
//                 "count", "sum", "bounds": [le, ...], "cumulative": [n, ...]}, ...],  (histogram;
//                 `cumulative` has one more entry than `bounds`: the +Inf bucket, equal to count)
//    "dead_letters": [{"unix_ms": t, "fields": {"section", "reason", "detail", "topic", ...}}, ...]}
// Every series of the registry, in its order (by name, then label set); dead letters oldest first.
// Numbers that are not finite are written as null. docs/status-page.md documents the format.
#include <cstdint>
#include <string>
#include <vector>

#include "archer/core/metrics.h"
#include "archer/core/readiness.h"

namespace archer::daemon {

struct StatusIdentity {
  std::string gateway;
  std::string version;
  std::int64_t now_unix_ms = 0;
  double uptime_seconds = 0;
};

std::string status_json(const StatusIdentity& identity, const Readiness& readiness,
                        const std::vector<Metrics::Sample>& samples,
                        const std::vector<RecentEvents::Event>& dead_letters);

}  // namespace archer::daemon
