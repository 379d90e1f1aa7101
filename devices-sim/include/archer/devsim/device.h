#pragma once
// One simulated device: its state, its dynamics and its telemetry encodings. Not thread-safe by
// itself; the fleet guards each device with its own mutex.
#include <cstdint>
#include <random>
#include <string>
#include <string_view>

#include "archer/devsim/options.h"

namespace archer::devsim {

enum class ValveStateName { closed, opening, open, closing };

struct DeviceState {
  // environment
  double temperature_c = 21;
  double base_temperature_c = 21;
  double humidity_pct = 45;
  double co2_ppm = 600;
  // valve
  double position_pct = 0;
  double target_pct = 0;
  // meter
  double energy_wh = 0;
  double power_w = 800;
  double voltage_v = 230;
};

// What one telemetry message carries besides the state.
struct Stamp {
  std::uint64_t seq = 0;
  std::int64_t sent_at_ms = 0;       // device clock (with skew)
  std::int64_t scheduled_at_us = 0;  // Unix microseconds the open-loop schedule meant to send it
};

class Device {
 public:
  Device(std::string id, Kind kind, std::uint64_t seed, std::int64_t clock_skew_ms = 0, double valve_speed = 20);

  const std::string& id() const { return id_; }
  Kind kind() const { return kind_; }
  const DeviceState& state() const { return state_; }
  std::int64_t clock_skew_ms() const { return clock_skew_ms_; }

  // Moves the dynamics forward by `seconds` (the fleet calls it with the steady-clock time since the
  // last call).
  void advance(double seconds);
  // The next seq: 1, 2, 3, ... (from 1 after each start of the simulator).
  std::uint64_t next_seq() { return ++seq_; }
  std::uint64_t last_seq() const { return seq_; }

  // Valve: a new target; the position then travels there at valve_speed percent per second.
  void set_target(double percent);
  // Meter: energy back to 0.
  void reset_energy() { state_.energy_wh = 0; }
  ValveStateName valve_state() const;

  // Telemetry root "ATEL" (FlatBuffers) or its JSON form. `device_field` is what the payload names as
  // the device (the id, or another one for the wrong-device fault).
  std::string encode_binary(const Stamp& stamp, std::string_view device_field) const;
  std::string encode_json(const Stamp& stamp, std::string_view device_field) const;

 private:
  std::string id_;
  Kind kind_;
  std::int64_t clock_skew_ms_;
  double valve_speed_;
  std::uint64_t seq_ = 0;
  DeviceState state_;
  std::mt19937_64 random_;
};

// The name used in telemetry.fbs for a valve state (CLOSED, OPENING, ...).
std::string_view valve_state_text(ValveStateName state);

// Device ids: env-0001, valve-0002 (per-kind numbering, at least 4 digits).
std::string device_id(Kind kind, int number, int total_of_kind);

}  // namespace archer::devsim
