#pragma once
// Faults on purpose, at exact ratios. The picker is deterministic (smooth weighted round robin over
// credits), so over n messages each choice is made ratio*n times give or take one: a fault test
// does not depend on luck.
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "archer/devsim/device.h"
#include "archer/devsim/options.h"

namespace archer::devsim {

class RatioPicker {
 public:
  // ratios[i] >= 0, sum <= 1; the rest of the time pick() returns `ratios.size()` (the "none" choice).
  explicit RatioPicker(std::vector<double> ratios);
  std::size_t pick();

 private:
  std::vector<double> ratios_;  // with the remainder appended
  std::vector<double> credit_;
};

// Picks the fault of the next message: Fault::none most of the time.
class FaultPicker {
 public:
  explicit FaultPicker(const Options& options);
  Fault pick();

 private:
  RatioPicker picker_;
};

// The payload of a faulty message for `device` (its state and `stamp` as the good one would carry):
//   random_bytes  16..256 random bytes (no "ATEL" identifier)
//   truncated     a valid binary Telemetry cut to half its length
//   wrong_schema  a valid archer.command.Command buffer ("ACMD")
//   wrong_device  a valid Telemetry (binary or JSON per `json`) naming another device
//   oversize      a valid binary Telemetry padded to `oversize_bytes` + 1..1024 bytes
//   bad_json      the JSON form with its closing brace missing
std::string fault_payload(Fault fault, const Device& device, const Stamp& stamp, bool json, std::uint64_t oversize_bytes,
                          std::mt19937_64& random);

}  // namespace archer::devsim
