#include "archer/devsim/device.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "archer/schemas/telemetry_generated.h"

namespace archer::devsim {
namespace {

namespace tel = archer::telemetry;

tel::ValveState to_schema(ValveStateName state) {
  switch (state) {
    case ValveStateName::closed: return tel::ValveState::CLOSED;
    case ValveStateName::opening: return tel::ValveState::OPENING;
    case ValveStateName::open: return tel::ValveState::OPEN;
    case ValveStateName::closing: return tel::ValveState::CLOSING;
  }
  return tel::ValveState::FAULT;
}

double flow_of(const DeviceState& s) { return s.position_pct * 1.2; }

}  // namespace

std::string_view valve_state_text(ValveStateName state) {
  switch (state) {
    case ValveStateName::closed: return "CLOSED";
    case ValveStateName::opening: return "OPENING";
    case ValveStateName::open: return "OPEN";
    case ValveStateName::closing: return "CLOSING";
  }
  return "FAULT";
}

std::string device_id(Kind kind, int number, int total_of_kind) {
  int width = 4;
  for (int n = total_of_kind; n >= 10000; n /= 10) ++width;
  return fmt::format("{}-{:0{}}", kind_name(kind), number, width);
}

Device::Device(std::string id, Kind kind, std::uint64_t seed, std::int64_t clock_skew_ms, double valve_speed)
    : id_(std::move(id)), kind_(kind), clock_skew_ms_(clock_skew_ms), valve_speed_(valve_speed), random_(seed) {
  std::uniform_real_distribution<double> unit(0, 1);
  state_.base_temperature_c = 18 + 6 * unit(random_);
  state_.temperature_c = state_.base_temperature_c;
  state_.humidity_pct = 35 + 20 * unit(random_);
  state_.co2_ppm = 450 + 300 * unit(random_);
  state_.power_w = 300 + 1500 * unit(random_);
  state_.energy_wh = 10000 * unit(random_);
}

void Device::advance(double seconds) {
  if (seconds <= 0) return;
  std::normal_distribution<double> noise(0, 1);
  const double root = std::sqrt(seconds);
  switch (kind_) {
    case Kind::environment: {
      // Mean-reverting drift around the device's own base temperature, plus noise.
      auto& s = state_;
      s.temperature_c += (s.base_temperature_c - s.temperature_c) * std::min(1.0, 0.01 * seconds) + 0.05 * root * noise(random_);
      s.humidity_pct = std::clamp(s.humidity_pct + (45 - s.humidity_pct) * std::min(1.0, 0.01 * seconds) + 0.2 * root * noise(random_), 0.0, 100.0);
      s.co2_ppm = std::clamp(s.co2_ppm + (600 - s.co2_ppm) * std::min(1.0, 0.005 * seconds) + 5 * root * noise(random_), 350.0, 5000.0);
      break;
    }
    case Kind::valve: {
      auto& s = state_;
      const double step = valve_speed_ * seconds;
      if (s.position_pct < s.target_pct) s.position_pct = std::min(s.target_pct, s.position_pct + step);
      else if (s.position_pct > s.target_pct) s.position_pct = std::max(s.target_pct, s.position_pct - step);
      break;
    }
    case Kind::meter: {
      auto& s = state_;
      s.energy_wh += s.power_w * seconds / 3600.0;  // with the power of the interval's start
      s.power_w = std::clamp(s.power_w + 20 * root * noise(random_), 0.0, 10000.0);
      s.voltage_v = std::clamp(230 + 2 * noise(random_), 200.0, 260.0);
      break;
    }
  }
}

void Device::set_target(double percent) { state_.target_pct = std::clamp(percent, 0.0, 100.0); }

ValveStateName Device::valve_state() const {
  if (state_.position_pct < state_.target_pct) return ValveStateName::opening;
  if (state_.position_pct > state_.target_pct) return ValveStateName::closing;
  return state_.position_pct <= 0 ? ValveStateName::closed : ValveStateName::open;
}

std::string Device::encode_binary(const Stamp& stamp, std::string_view device_field) const {
  flatbuffers::FlatBufferBuilder fbb(256);
  const auto device = fbb.CreateString(device_field.data(), device_field.size());
  const auto seq = stamp.seq;
  flatbuffers::Offset<void> reading;
  tel::Reading type = tel::Reading::NONE;
  const auto& s = state_;
  switch (kind_) {
    case Kind::environment:
      type = tel::Reading::EnvironmentReading;
      reading = tel::CreateEnvironmentReading(fbb, device, seq, stamp.sent_at_ms, stamp.scheduled_at_us,
                                              static_cast<float>(s.temperature_c), static_cast<float>(s.humidity_pct),
                                              static_cast<std::uint16_t>(std::lround(s.co2_ppm)))
                    .Union();
      break;
    case Kind::valve:
      type = tel::Reading::ValveReading;
      reading = tel::CreateValveReading(fbb, device, seq, stamp.sent_at_ms, stamp.scheduled_at_us,
                                        static_cast<float>(s.position_pct), static_cast<float>(s.target_pct),
                                        to_schema(valve_state()), static_cast<float>(flow_of(s)))
                    .Union();
      break;
    case Kind::meter:
      type = tel::Reading::MeterReading;
      reading = tel::CreateMeterReading(fbb, device, seq, stamp.sent_at_ms, stamp.scheduled_at_us, s.energy_wh,
                                        static_cast<float>(s.power_w), static_cast<float>(s.voltage_v))
                    .Union();
      break;
  }
  tel::FinishTelemetryBuffer(fbb, tel::CreateTelemetry(fbb, device, seq, type, reading));
  return std::string(reinterpret_cast<const char*>(fbb.GetBufferPointer()), fbb.GetSize());
}

std::string Device::encode_json(const Stamp& stamp, std::string_view device_field) const {
  // Device ids are [A-Za-z0-9._:-]; escape anyway so any id gives valid JSON.
  std::string device;
  for (char c : device_field) {
    if (c == '"' || c == '\\') device += '\\';
    if (static_cast<unsigned char>(c) < 0x20) {
      device += fmt::format("\\u{:04x}", static_cast<int>(c));
      continue;
    }
    device += c;
  }
  const auto& s = state_;
  std::string reading;
  std::string_view type;
  // Floats print as their shortest round-trip form, which is valid JSON (never NaN or infinite here).
  switch (kind_) {
    case Kind::environment:
      type = "EnvironmentReading";
      reading = fmt::format(R"("temperature_c":{},"humidity_pct":{},"co2_ppm":{})", static_cast<float>(s.temperature_c),
                            static_cast<float>(s.humidity_pct), std::lround(s.co2_ppm));
      break;
    case Kind::valve:
      type = "ValveReading";
      reading = fmt::format(R"("position_pct":{},"target_pct":{},"state":"{}","flow_lpm":{})",
                            static_cast<float>(s.position_pct), static_cast<float>(s.target_pct),
                            valve_state_text(valve_state()), static_cast<float>(flow_of(s)));
      break;
    case Kind::meter:
      type = "MeterReading";
      reading = fmt::format(R"("energy_wh":{},"power_w":{},"voltage_v":{})", s.energy_wh, static_cast<float>(s.power_w),
                            static_cast<float>(s.voltage_v));
      break;
  }
  return fmt::format(
      R"({{"device":"{0}","seq":{1},"reading_type":"{2}","reading":{{"device":"{0}","seq":{1},"sent_at_ms":{3},"scheduled_at_us":{4},{5}}}}})",
      device, stamp.seq, type, stamp.sent_at_ms, stamp.scheduled_at_us, reading);
}

}  // namespace archer::devsim
