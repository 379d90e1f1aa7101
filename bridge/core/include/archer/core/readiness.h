#pragma once
// Whether a component can do its work now, and if not, why: /readyz answers 503 with the reasons
// (e.g. "actuator valves: loading its logs (12000 records read)").
#include <string>
#include <string_view>
#include <vector>

namespace archer {

struct Readiness {
  std::vector<std::string> reasons;  // empty: ready

  bool ready() const { return reasons.empty(); }
  void not_ready(std::string reason) { reasons.push_back(std::move(reason)); }
  void add(const Readiness& other) { reasons.insert(reasons.end(), other.reasons.begin(), other.reasons.end()); }
  std::string text() const {
    std::string out;
    for (const std::string& reason : reasons) out += (out.empty() ? "" : "; ") + reason;
    return out;
  }
};

}  // namespace archer
