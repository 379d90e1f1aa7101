#pragma once
// What a device does with a DeviceCommand: decide, act once, and answer. Pure logic (no MQTT), used by
// the fleet's command worker and by the unit tests.
#include <chrono>
#include <cstdint>
#include <list>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <unordered_map>

#include "archer/devsim/device.h"
#include "archer/devsim/faults.h"
#include "archer/devsim/options.h"

namespace archer::devsim {

// Interaction id -> the exact response bytes given, least recently used forgotten first.
class ResponseCache {
 public:
  explicit ResponseCache(std::size_t capacity) : capacity_(capacity) {}
  const std::string* find(const std::string& interaction_id);  // refreshes the entry
  void insert(const std::string& interaction_id, std::string response);
  std::size_t size() const { return map_.size(); }

 private:
  using Entry = std::pair<std::string, std::string>;
  std::size_t capacity_;
  std::list<Entry> order_;  // most recent first
  std::unordered_map<std::string, std::list<Entry>::iterator> map_;
};

struct Decision {
  std::string interaction_id;
  std::string response;  // DeviceResponse bytes ("ADRS"); empty when nothing can be answered
  bool valid = true;       // the payload verified as a DeviceCommand
  bool duplicate = false;  // seen before: answered from the cache, not acted on
  bool performed = false;  // the device acted
  bool rejected = false;   // status REJECTED
  bool answer = true;      // false: never answered (on purpose)
  bool late = false;
  int copies = 1;          // 2: answered twice
  std::chrono::milliseconds delay{0};
};

class CommandProcessor {
 public:
  CommandProcessor(const Options& options, std::uint64_t seed);

  // `device` has been advanced to now by the caller, who holds its lock. `correlation` is the request's
  // MQTT 5 CorrelationData (used as the interaction id when the payload cannot be read).
  Decision handle(Device& device, ResponseCache& cache, std::string_view payload, std::string_view correlation);

 private:
  std::chrono::milliseconds latency();

  const Options& options_;
  std::mt19937_64 random_;
  RatioPicker outcome_;  // reject, no answer, else normal
  RatioPicker late_;
  RatioPicker twice_;
};

}  // namespace archer::devsim
