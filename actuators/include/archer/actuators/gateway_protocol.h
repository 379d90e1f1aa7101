#pragma once
// The Archer gateway protocol of one [[actuator]] section, as a state machine with no threads and no
// I/O: it decides, the effects (ProtocolEffects, implemented by ActuatorGateway over Kafka, MQTT and
// Asio timers; by a recorder in the unit tests) carry out.
//
//   command log --> OPENED (acknowledged by Kafka) --> DeviceCommand over MQTT --> SENT
//     --> DeviceResponse --> RESPONDED   (or no answer: resend with the same interaction id,
//                                          then TIMED_OUT; a failed send: FAILED)
//     --> CLOSED (carrying the CommandOutcome) --> outcome to the event log --> offset committed
//
// Rules it keeps: nothing reaches the device before Kafka holds the OPENED record; a command's offset
// is committed only after its outcome is in the event log; after any crash a CLOSED command is never
// sent again and an open interaction resumes with its interaction id (devices answer a repeated id
// without acting twice); commands of one device run one at a time, in log order; different devices
// run concurrently, up to max_concurrent_devices.
//
// Threading: every method is called on one thread (the actuator loop), and so is every callback it
// hands to its effects.
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "archer/actuators/offset_tracker.h"
#include "archer/actuators/snapshot.h"
#include "archer/actuators/transaction_view.h"
#include "archer/core/config.h"
#include "archer/core/log.h"
#include "archer/core/metrics.h"
#include "archer/protocol/messages.h"

namespace archer::actuators {

using protocol::Command;
using protocol::Outcome;
using protocol::OutcomeStatus;
using protocol::Phase;

// One record of the command log, from the moment it is read until its offset may be committed.
struct Job {
  CommandPosition position;
  std::string key;          // the record's key (the device id, from a well-behaved writer)
  std::string record_id;    // the command record's archer-id: causation of everything it causes
  std::string traceparent;  // W3C trace context, carried to the device and back
  Bytes raw;
  std::optional<Command> command;  // empty: not a valid Command (`invalid` says why)
  std::string invalid;
  bool queued = false;
  std::int64_t read_ms = 0;  // when the protocol took it (ProtocolEffects::now_ms): the round trip's start
};

// What Kafka finally said of one record: written at (partition, offset), or refused for good (the
// effects retry what can be retried, and report only the final answer).
struct Delivery {
  bool ok = true;
  std::string error;
  std::int32_t partition = -1;
  std::int64_t offset = -1;
};
using DeliveryDone = std::function<void(const Delivery&)>;

// Headers and routing of one record the protocol writes.
struct RecordContext {
  std::string_view causation;    // archer-causation
  std::string_view traceparent;  // carried from the command
  std::string_view source;       // archer-source: the MQTT topic the record is about, if any
  CommandPosition position;      // the command's place in the command log (archer-command-offset on outcomes)
};

class Timer {
 public:
  virtual ~Timer() = default;
  // Replaces any pending expiry.
  virtual void start(std::chrono::milliseconds after, std::function<void()> fire) = 0;
  virtual void cancel() = 0;
};

class ProtocolEffects {
 public:
  virtual ~ProtocolEffects() = default;
  virtual void write_transaction(const Transaction& entry, const RecordContext& context, DeliveryDone done) = 0;
  virtual void write_outcome(const Bytes& outcome, const DeviceId& device, const RecordContext& context,
                             DeliveryDone done) = 0;
  // A device answer the protocol does not take: `error` is the archer-error (bad_response: not a
  // valid DeviceResponse; wrong_device: on another device's response topic), `detail` the reason.
  virtual void write_dead_letter(const Bytes& payload, std::string_view topic, std::string_view error,
                                 std::string_view detail, std::string_view correlation) = 0;
  // Publishes the request (QoS 1, ResponseTopic, CorrelationData = interaction id, traceparent);
  // `done` tells whether the broker took it.
  virtual void send_request(const DeviceId& device, const InteractionId& interaction, const Bytes& request,
                            std::string_view traceparent, std::function<void(bool ok, std::string error)> done) = 0;
  virtual std::unique_ptr<Timer> make_timer() = 0;
  virtual bool session_up() const = 0;
  virtual bool device_offline(const DeviceId& device) const = 0;
  virtual void commit(const OffsetTracker::Offsets& offsets) = 0;
  // A job is finished: the consumer may take one more command.
  virtual void job_finished() = 0;
  virtual std::int64_t now_ms() const = 0;
};

class GatewayProtocol {
 public:
  GatewayProtocol(const ActuatorSection& section, ProtocolEffects& effects, Metrics& metrics);
  ~GatewayProtocol();
  GatewayProtocol(const GatewayProtocol&) = delete;
  GatewayProtocol& operator=(const GatewayProtocol&) = delete;

  // Before the first command: what the logs said (view_loader.h), and where the group's offsets were.
  void restore(TransactionView view, LogOffsets transactions, LogOffsets events,
               const std::map<std::int32_t, std::int64_t>& committed);

  void on_command(std::shared_ptr<Job> job);
  void on_response(const std::string& topic, const std::string& correlation, Bytes payload, std::string traceparent);
  // A device came online; an empty id: the gateway's own MQTT session is back.
  void on_device_online(const DeviceId& device);
  // The command log has been read up to the end it had at start.
  void on_caught_up();
  // No new exchange begins from now on; running ones go on to their end.
  void stop_taking();

  std::size_t busy() const { return busy_devices_.size(); }
  // One record per command-log partition; empty while the view still holds entries whose command
  // position is unknown (records from before positions were kept, until the log is read to its end).
  std::vector<Snapshot> snapshot(const std::string& gateway_id) const;
  const TransactionView& view() const { return view_; }
  void log_stats() const;
  const OffsetTracker& offsets() const { return offsets_; }

 private:
  struct Interaction;

  void pump();
  void begin(const std::shared_ptr<Job>& job);
  void send_attempt(const std::shared_ptr<Interaction>& interaction);
  void on_published(const std::shared_ptr<Interaction>& interaction, std::uint32_t attempt, bool ok, std::string error);
  void on_timeout(const std::shared_ptr<Interaction>& interaction, std::uint32_t attempt);
  void wait_until_reachable(const std::shared_ptr<Interaction>& interaction);
  void answer(const std::shared_ptr<Interaction>& interaction, Bytes payload, const protocol::DeviceResponse& response);
  void record_unexpected_answer(const Exchange& exchange, const std::string& topic, Bytes payload,
                                const std::string& traceparent, bool first_answer);
  void reject_response(const std::string& topic, const std::string& correlation, const Bytes& payload,
                       const std::string& why);
  void refuse_wrong_device(const std::string& topic, const std::string& correlation, const Bytes& payload,
                           const InteractionId& id, const DeviceId& addressed);
  void close(const std::shared_ptr<Interaction>& interaction, OutcomeStatus status, std::string detail);
  void emit_outcome(const std::shared_ptr<Job>& job, Bytes outcome);
  void finish(const std::shared_ptr<Job>& job);
  void commit();
  void record(const std::shared_ptr<Interaction>& interaction, Phase phase, std::uint32_t attempt, Bytes payload,
              std::string detail, std::function<void(bool ok, const std::string& error)> done = {});
  RecordContext context_of(const Job& job, std::string_view source = {}) const;
  void note_written(LogOffsets& cover, const Delivery& delivery);
  // Lines that can come once per command or answer: at most one per interval per kind.
  template <class... Args>
  void log_limited(log::RateLimit& limit, log::Level level, fmt::format_string<Args...> text, Args&&... args);

  const ActuatorSection& section_;
  ProtocolEffects& effects_;
  TransactionView view_;
  OffsetTracker offsets_;
  LogOffsets transactions_written_;  // per partition: one past the highest offset acknowledged (or loaded)
  LogOffsets events_written_;
  bool taking_ = true;

  std::map<DeviceId, std::deque<std::shared_ptr<Job>>> device_queues_;  // head: running or next
  std::set<DeviceId> busy_devices_;
  std::unordered_map<InteractionId, std::shared_ptr<Interaction>> interactions_;  // live ones

  struct Counters {
    Counter* commands;
    Counter* succeeded;
    Counter* rejected;
    Counter* timed_out;
    Counter* failed;
    Counter* expired;
    Counter* resumed;
    Counter* late_responses;
    Counter* unmatched_responses;
    Counter* invalid_responses;
    Counter* wrong_device_responses;
    Counter* invalid_commands;
    Counter* records_refused;
    Counter* outcomes_lost;
    Gauge* active;
    Histogram* round_trip;
  } counters_;
  log::RateLimit invalid_command_log_{std::chrono::seconds(10)};
  log::RateLimit response_log_{std::chrono::seconds(10)};
  log::RateLimit refused_log_{std::chrono::seconds(1)};
  log::RateLimit progress_log_{std::chrono::seconds(1)};
};

}  // namespace archer::actuators
