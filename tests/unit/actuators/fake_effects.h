#pragma once
// A ProtocolEffects that carries nothing out: it records what the protocol asked for, and lets the
// test decide when (and how) Kafka answers, when the device answers and when time passes.
#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "archer/actuators/gateway_protocol.h"

namespace archer::actuators::testing {

class FakeEffects : public ProtocolEffects {
 public:
  struct Write {
    std::string topic;  // "tx" or "evt"
    Transaction entry;  // for "tx"
    Bytes outcome;      // for "evt"
    DeviceId device;
    std::string causation;
    CommandPosition position;
    DeliveryDone done;
    bool answered = false;
  };
  struct Request {
    DeviceId device;
    InteractionId interaction;
    Bytes bytes;
    std::function<void(bool, std::string)> done;
  };
  struct DeadLetter {
    Bytes payload;
    std::string topic;
    std::string detail;
    std::string correlation;
    std::string error;  // archer-error
  };

  class FakeTimer : public Timer {
   public:
    explicit FakeTimer(FakeEffects& owner) : owner_(owner) { owner_.timers_.insert(this); }
    ~FakeTimer() override { owner_.timers_.erase(this); }
    void start(std::chrono::milliseconds after, std::function<void()> fire) override {
      due_ = owner_.now + after.count();
      fire_ = std::move(fire);
    }
    void cancel() override { fire_ = nullptr; }
    std::int64_t due() const { return fire_ ? due_ : -1; }
    void fire() {
      auto fire = std::move(fire_);
      fire_ = nullptr;
      fire();
    }

   private:
    FakeEffects& owner_;
    std::int64_t due_ = 0;
    std::function<void()> fire_;
  };

  // The callbacks it holds own interactions, whose timers deregister here: they go first.
  ~FakeEffects() override {
    writes.clear();
    requests.clear();
  }

  // ProtocolEffects
  void write_transaction(const Transaction& entry, const RecordContext& context, DeliveryDone done) override {
    writes.push_back(
        {"tx", entry, {}, entry.device, std::string(context.causation), context.position, std::move(done)});
  }
  void write_outcome(const Bytes& outcome, const DeviceId& device, const RecordContext& context,
                     DeliveryDone done) override {
    writes.push_back({"evt", {}, outcome, device, std::string(context.causation), context.position, std::move(done)});
  }
  void write_dead_letter(const Bytes& payload, std::string_view topic, std::string_view error, std::string_view detail,
                         std::string_view correlation) override {
    dead_letters.push_back(
        {payload, std::string(topic), std::string(detail), std::string(correlation), std::string(error)});
  }
  void send_request(const DeviceId& device, const InteractionId& interaction, const Bytes& request, std::string_view,
                    std::function<void(bool, std::string)> done) override {
    requests.push_back({device, interaction, request, std::move(done)});
  }
  std::unique_ptr<Timer> make_timer() override { return std::make_unique<FakeTimer>(*this); }
  bool session_up() const override { return up; }
  bool device_offline(const DeviceId& device) const override { return offline.count(device) != 0; }
  void commit(const OffsetTracker::Offsets& offsets) override {
    for (const auto& [partition, offset] : offsets) committed[partition] = offset;
  }
  void job_finished() override { ++finished; }
  std::int64_t now_ms() const override { return now; }

  // Kafka takes every write not yet answered (and those that answers cause), in order.
  void deliver_all() {
    for (std::size_t i = 0; i < writes.size(); ++i) deliver(i, true);
  }
  // Kafka takes the writes waiting now, not those their answers cause.
  void deliver_pending() {
    const std::size_t now_waiting = writes.size();
    for (std::size_t i = 0; i < now_waiting; ++i) deliver(i, true);
  }
  // Kafka answers write `i` (if not yet answered).
  void deliver(std::size_t i, bool ok, const std::string& error = "refused") {
    if (writes[i].answered) return;
    writes[i].answered = true;
    const Delivery delivery{ok, ok ? "" : error, writes[i].topic == "tx" ? 0 : 1, next_offset++};
    // Moved out first: the callback may write more, and the vector may move under it.
    DeliveryDone done = std::move(writes[i].done);
    if (done) done(delivery);
  }
  // Time passes; due timers fire.
  void advance(std::int64_t ms) {
    now += ms;
    while (true) {
      FakeTimer* due = nullptr;
      for (FakeTimer* timer : timers_) {
        if (timer->due() >= 0 && timer->due() <= now && (due == nullptr || timer->due() < due->due())) due = timer;
      }
      if (due == nullptr) return;
      due->fire();
    }
  }

  std::vector<Phase> phases() const {
    std::vector<Phase> out;
    for (const Write& write : writes) {
      if (write.topic == "tx") out.push_back(write.entry.phase);
    }
    return out;
  }
  std::vector<protocol::Outcome> outcomes() const {
    std::vector<protocol::Outcome> out;
    for (const Write& write : writes) {
      if (write.topic == "evt") out.push_back(*protocol::decode_outcome(write.outcome));
    }
    return out;
  }

  std::vector<Write> writes;
  std::vector<Request> requests;
  std::vector<DeadLetter> dead_letters;
  std::map<std::int32_t, std::int64_t> committed;
  std::set<DeviceId> offline;
  int finished = 0;
  bool up = true;
  std::int64_t now = 1'000'000;
  std::int64_t next_offset = 0;

 private:
  std::set<FakeTimer*> timers_;
};

}  // namespace archer::actuators::testing
