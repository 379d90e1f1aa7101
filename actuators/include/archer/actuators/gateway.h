#pragma once
// The actuator gateway of one [[actuator]] section: the Archer gateway protocol.
//
//   command log --> OPENED (acknowledged by Kafka) --> DeviceCommand over MQTT --> SENT
//     --> DeviceResponse --> RESPONDED   (or no answer: resend with the same interaction id,
//                                          then TIMED_OUT; a failed send: FAILED)
//     --> CLOSED (carrying the CommandOutcome) --> outcome to the event log --> offset committed
//
// Before consuming, the gateway rebuilds its TransactionView from its transaction log and event
// log, so after any crash a CLOSED command is never sent again (a missing outcome is re-emitted)
// and an open interaction resumes with its interaction id (devices answer a repeated id without
// acting twice).
//
// Threading: one actuator loop thread (Boost.Asio) owns all state. The command consumer thread,
// Paho's callback thread and the producer's delivery thread only post work to it. Commands of one
// device run one at a time, in log order; different devices run concurrently, up to
// max_concurrent_devices.
#include <atomic>
#include <deque>
#include <map>
#include <memory>
#include <semaphore>
#include <set>
#include <string>
#include <thread>
#include <unordered_map>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <mqtt/message.h>

#include "archer/actuators/messages.h"
#include "archer/actuators/presence.h"
#include "archer/actuators/transaction_view.h"
#include "archer/core/config.h"
#include "archer/core/headers.h"
#include "archer/core/metrics.h"
#include "archer/transport/kafka_producer.h"
#include "archer/transport/kafka_reader.h"
#include "archer/transport/mqtt_session.h"

namespace archer::actuators {

class LoopMailbox;

class ActuatorGateway {
 public:
  ActuatorGateway(const Config& config, const ActuatorSection& section, transport::KafkaProducer& producer,
                  transport::MqttSession& mqtt, PresenceTracker& presence, Metrics& metrics);
  ~ActuatorGateway();
  ActuatorGateway(const ActuatorGateway&) = delete;
  ActuatorGateway& operator=(const ActuatorGateway&) = delete;

  // The response filter, for the MQTT session.
  std::pair<std::string, int> subscription() const;
  // Paho's thread: takes device responses on this section's response topic.
  bool offer(const mqtt::const_message_ptr& message);

  // Rebuilds the view from the logs (blocking), then starts the loop and the command consumer.
  bool start(std::string& error);
  // Stops taking commands, lets running exchanges finish for up to `drain`, then stops. What is
  // unfinished resumes from the transaction log at the next start.
  void stop(std::chrono::milliseconds drain);

  void log_stats() const;

 private:
  struct Job;          // one command from the log, until its offset may be committed
  struct Interaction;  // the live exchange of a Job with its device

  // Loop thread.
  void on_command(std::shared_ptr<Job> job);
  void pump();
  void begin(const std::shared_ptr<Job>& job);
  void send_attempt(const std::shared_ptr<Interaction>& interaction);
  // Paho stalls for seconds when more QoS 1 publishes wait for their PUBACK than the broker's
  // Receive Maximum (Mosquitto's default: 20), so requests go out through a smaller window.
  static constexpr std::size_t kPublishWindow = 16;
  void publish(const mqtt::message_ptr& message, std::function<void(bool, std::string)> done);
  void on_published(const std::shared_ptr<Interaction>& interaction, std::uint32_t attempt, bool ok, std::string error);
  void on_timeout(const std::shared_ptr<Interaction>& interaction, std::uint32_t attempt);
  void on_response(const std::string& topic, const std::string& correlation, Bytes payload, std::string traceparent);
  void on_device_online(const std::string& device);
  void close(const std::shared_ptr<Interaction>& interaction, OutcomeStatus status, std::string detail);
  void emit_outcome(const std::shared_ptr<Job>& job, Bytes outcome);
  void finish(const std::shared_ptr<Job>& job);
  void commit();

  // Produces to Kafka; `done(ok)` runs on the loop thread when Kafka has answered.
  void produce(const std::string& topic, const std::string& key, const Bytes& value,
               const headers::RecordHeaders& record_headers, std::function<void(bool)> done);
  void record(const std::shared_ptr<Interaction>& interaction, Phase phase, std::uint32_t attempt, Bytes payload,
              std::string detail, std::function<void(bool)> done = {});
  headers::RecordHeaders headers_for(const Job& job, std::string_view source = {}) const;

  // Consumer thread.
  void consume();

  const Config& config_;
  ActuatorSection section_;
  transport::KafkaProducer& producer_;
  transport::MqttSession& mqtt_;
  PresenceTracker& presence_;
  TopicTemplate status_topic_;

  boost::asio::io_context io_;
  std::shared_ptr<LoopMailbox> mailbox_;
  std::thread loop_thread_;
  std::thread consumer_thread_;
  std::unique_ptr<transport::KafkaReader> commands_;
  std::atomic<bool> stopping_{false};
  std::counting_semaphore<4096> job_slots_{1024};  // commands taken from the log and not yet finished

  TransactionView view_;
  std::map<std::string, std::deque<std::shared_ptr<Job>>> device_queues_;  // head = running or next
  std::set<std::string> busy_devices_;
  std::unordered_map<std::string, std::shared_ptr<Interaction>> interactions_;  // live, by interaction id
  std::map<std::int32_t, std::set<std::int64_t>> unfinished_offsets_;           // per partition
  std::map<std::int32_t, std::int64_t> next_offsets_;                           // per partition
  std::map<std::int32_t, std::int64_t> committed_offsets_;                      // per partition
  std::size_t publishes_in_flight_ = 0;
  std::deque<std::pair<mqtt::message_ptr, std::function<void(bool, std::string)>>> waiting_publishes_;

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
    Gauge* active;
  } counters_;
};

}  // namespace archer::actuators
