#include "scheduler.h"

#include <algorithm>
#include <queue>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>

namespace archer::devsim {
namespace {

using namespace std::chrono_literals;

std::string random_hex(std::mt19937_64& random, int digits) {
  std::string out;
  while (static_cast<int>(out.size()) < digits) out += fmt::format("{:016x}", random());
  out.resize(static_cast<std::size_t>(digits));
  return out;
}

struct Event {
  enum Type { telemetry, disconnect };
  Clock::time_point due;  // the open-loop schedule's time
  std::size_t index;      // device (telemetry) or connection (disconnect)
  Type type;
  bool operator>(const Event& other) const { return due > other.due; }
};

}  // namespace

ClockAnchor ClockAnchor::now() {
  ClockAnchor anchor;
  anchor.steady = Clock::now();
  anchor.system_us =
      std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count();
  return anchor;
}

std::int64_t ClockAnchor::to_system_us(Clock::time_point t) const {
  return system_us + std::chrono::duration_cast<std::chrono::microseconds>(t - steady).count();
}

Scheduler::Scheduler(const Options& options, DeviceTable& devices, Connections& connections, Stats& stats,
                     std::mt19937_64& random)
    : options_(options), devices_(devices), connections_(connections), stats_(stats), random_(random) {}

void Scheduler::run(const std::atomic<bool>& stop, Clock::time_point end, const ClockAnchor& anchor) {
  FaultPicker faults(options_);
  RatioPicker formats({options_.json_ratio});
  const double period_s = options_.rate > 0 ? static_cast<double>(devices_.size()) / options_.rate
                                            : std::chrono::duration<double>(options_.interval).count();
  const auto period = std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(period_s));
  std::uniform_real_distribution<double> unit(0, 1);
  std::priority_queue<Event, std::vector<Event>, std::greater<>> events;
  const auto start = Clock::now();
  for (std::size_t d = 0; d < devices_.size(); ++d) {
    {
      std::lock_guard lock(devices_[d].mutex);
      devices_[d].last_advance = start;
    }
    events.push(
        Event{start + std::chrono::duration_cast<Clock::duration>(period * unit(random_)), d, Event::telemetry});
  }
  if (options_.disconnect_every.count() > 0) {
    for (std::size_t c = 0; c < connections_.count(); ++c) {
      const auto first = std::chrono::duration_cast<Clock::duration>(options_.disconnect_every * (0.5 + unit(random_)));
      events.push(Event{start + first, c, Event::disconnect});
    }
  }
  auto next_housekeeping = start;
  while (!stop) {
    auto now = Clock::now();
    if (end != Clock::time_point{} && now >= end) break;
    if (now >= next_housekeeping) {
      next_housekeeping = now + 100ms;
      connections_.housekeeping(now, stop, end);
    }
    if (events.empty() || events.top().due > now) {
      auto wake = std::min(now + 20ms, next_housekeeping);
      if (!events.empty()) wake = std::min(wake, events.top().due);
      std::this_thread::sleep_until(wake);
      continue;
    }
    Event event = events.top();
    events.pop();
    if (event.type == Event::telemetry) {
      send_telemetry(event.index, event.due, faults, formats, stop, end, anchor);
      const double factor = 1 + options_.jitter * (2 * unit(random_) - 1);
      event.due += std::chrono::duration_cast<Clock::duration>(period * factor);
    } else {
      connections_.disconnect_on_purpose(event.index);
      event.due += std::chrono::duration_cast<Clock::duration>(options_.disconnect_every);
    }
    events.push(event);
  }
}

void Scheduler::send_telemetry(std::size_t d, Clock::time_point scheduled, FaultPicker& faults, RatioPicker& formats,
                               const std::atomic<bool>& stop, Clock::time_point end, const ClockAnchor& anchor) {
  DeviceSlot& slot = devices_[d];
  const std::size_t c = slot.connection;
  if (options_.qos > 0) connections_.wait_window(c, stop, end);  // at most `window` publishes unacknowledged
  if (!connections_.up(c) || stop) {
    stats_.skipped_disconnected.fetch_add(1);
    return;
  }
  const Fault fault = faults.pick();
  const bool json =
      fault == Fault::bad_json || (fault == Fault::none || fault == Fault::wrong_device ? formats.pick() == 0 : false);
  std::string payload;
  {
    std::lock_guard lock(slot.mutex);
    slot.advance_to(Clock::now());
    Stamp stamp;
    stamp.seq = slot.device->next_seq();
    stamp.sent_at_ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
            .count() +
        slot.device->clock_skew_ms();
    stamp.scheduled_at_us = anchor.to_system_us(scheduled);
    payload = fault_payload(fault, *slot.device, stamp, json, options_.oversize_bytes, random_);
  }
  auto message = mqtt::message::create(slot.telemetry_topic, payload, options_.qos, false);
  if (options_.traceparent) {
    message->set_properties(
        mqtt::properties{{mqtt::property::USER_PROPERTY, "traceparent",
                          fmt::format("00-{}-{}-01", random_hex(random_, 32), random_hex(random_, 16))}});
  }
  const auto sent = Clock::now();
  if (!connections_.publish_telemetry(c, std::move(message), scheduled, sent)) return;
  stats_.sent.fetch_add(1);
  stats_.sent_by_kind[static_cast<std::size_t>(slot.device->kind())].fetch_add(1);
  (json ? stats_.sent_json : stats_.sent_flatbuffers).fetch_add(1);
  stats_.faults[static_cast<std::size_t>(fault)].fetch_add(1);
  stats_.send_lag.record(static_cast<std::uint64_t>(
      std::max<std::int64_t>(0, std::chrono::duration_cast<std::chrono::microseconds>(sent - scheduled).count())));
}

}  // namespace archer::devsim
