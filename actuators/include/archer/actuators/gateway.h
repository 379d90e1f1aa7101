#pragma once
// The actuator gateway of one [[actuator]] section at work: the protocol state machine
// (gateway_protocol.h) carried out over Kafka (its own producer, the command-log reader), the
// gateway's actuation MQTT session and Asio timers.
//
// Life: start() returns at once; the loop thread first loads what the logs say (view_loader.h),
// retrying while Kafka cannot be read, with ready() false and the reason; then it consumes. stop()
// stops taking commands, lets running exchanges finish for the drain period, writes a snapshot and
// stops. What is unfinished resumes from the logs at the next start.
//
// Kafka: every record the protocol writes is retried while the failure can pass (Kafka away, a full
// queue, a fatal producer error: the producer is then replaced); only a refusal for good reaches the
// protocol. A snapshot of the state goes to snapshot.<gateway> every snapshot_interval and at stop.
//
// Threading: one actuator loop thread (Boost.Asio) owns all state. The command consumer thread,
// Paho's callback thread and the producer's delivery thread only post work to it (Paho's posts are
// bounded: beyond kInboxLimit waiting, Paho's thread waits, holding the broker back).
#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <semaphore>
#include <string>
#include <thread>

#include <mqtt/message.h>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include "archer/actuators/gateway_protocol.h"
#include "archer/actuators/presence.h"
#include "archer/actuators/publish_window.h"
#include "archer/core/config.h"
#include "archer/core/headers.h"
#include "archer/core/heartbeat.h"
#include "archer/core/metrics.h"
#include "archer/core/readiness.h"
#include "archer/transport/kafka_producer.h"
#include "archer/transport/kafka_reader.h"
#include "archer/transport/mqtt_session.h"

namespace archer::actuators {

class LoopMailbox;

class ActuatorGateway : private ProtocolEffects {
 public:
  // `mqtt` is the actuation session: the gateway publishes requests on it and reads its state; the
  // owner routes its messages and events here (offer, on_session_ready, on_device_online).
  ActuatorGateway(const Config& config, const ActuatorSection& section, transport::MqttSession& mqtt,
                  PresenceTracker& presence, Metrics& metrics);
  ~ActuatorGateway() override;
  ActuatorGateway(const ActuatorGateway&) = delete;
  ActuatorGateway& operator=(const ActuatorGateway&) = delete;

  // The response filter, for the MQTT session.
  std::pair<std::string, int> subscription() const;
  // Paho's thread: takes device responses on this section's response topic.
  bool offer(const mqtt::const_message_ptr& message);
  // Paho's thread: the actuation session is connected and subscribed (again).
  void on_session_ready();
  // Paho's thread: a device announced itself online.
  void on_device_online(const std::string& device);
  const ActuatorSection& section() const { return section_; }

  // Returns at once; see Life above. False with `error` when the producer cannot be made.
  bool start(std::string& error);
  void stop(std::chrono::milliseconds drain);
  Readiness ready() const;
  // Not healthy when its loop has stopped turning (Heartbeat). Any thread.
  Readiness health() const;

  void log_stats() const;

 private:
  // The topics this section produces to (KafkaProducer::prepare).
  std::vector<std::string> written_topics() const;
  struct Pending;  // one record on its way to Kafka, retried until it is taken or refused for good
  class AsioTimer;

  static constexpr std::size_t kPublishWindow = 16;  // below Mosquitto's default Receive Maximum of 20
  static constexpr std::ptrdiff_t kInboxLimit = 8192;

  // Loop thread.
  void load();
  void consume();  // consumer thread
  void produce(std::shared_ptr<Pending> pending);
  void on_delivery(const std::shared_ptr<Pending>& pending, RdKafka::ErrorCode err, std::string error,
                   std::int32_t partition, std::int64_t offset);
  void retry_later(const std::shared_ptr<Pending>& pending, std::string why);
  void replace_producer();
  void watch();  // every second: a fatal producer replaced, a snapshot every snapshot_interval
  void pulse();  // every second from start: the loop's heartbeat and Kafka reachability
  void write_snapshot();
  headers::RecordHeaders headers_for(const RecordContext& context) const;
  void set_state(std::string reason);  // empty: ready

  // ProtocolEffects (loop thread)
  void write_transaction(const Transaction& entry, const RecordContext& context, DeliveryDone done) override;
  void write_outcome(const Bytes& outcome, const DeviceId& device, const RecordContext& context,
                     DeliveryDone done) override;
  void write_dead_letter(const Bytes& payload, std::string_view topic, std::string_view error, std::string_view detail,
                         std::string_view correlation) override;
  void send_request(const DeviceId& device, const InteractionId& interaction, const Bytes& request,
                    std::string_view traceparent, std::function<void(bool, std::string)> done) override;
  std::unique_ptr<Timer> make_timer() override;
  bool session_up() const override;
  bool device_offline(const DeviceId& device) const override;
  void commit(const OffsetTracker::Offsets& offsets) override;
  void job_finished() override;
  std::int64_t now_ms() const override;

  const Config& config_;
  ActuatorSection section_;
  transport::MqttSession& mqtt_;
  PresenceTracker& presence_;
  Metrics& metrics_;

  boost::asio::io_context io_;
  std::shared_ptr<LoopMailbox> mailbox_;
  std::unique_ptr<transport::KafkaProducer> producer_;  // loop thread; replaced after a fatal error
  std::unique_ptr<transport::KafkaReader> commands_;
  GatewayProtocol protocol_;
  PublishWindow window_{kPublishWindow};
  boost::asio::steady_timer load_timer_;
  boost::asio::steady_timer watch_timer_;
  boost::asio::steady_timer pulse_timer_;
  Heartbeat loop_beat_;
  std::atomic<std::int64_t> kafka_unreachable_ms_{0};  // from the producer's statistics, by pulse()
  std::atomic<bool> kafka_credentials_refused_{false};  // the producer's last login refused, by pulse()
  std::chrono::steady_clock::time_point last_snapshot_at_;
  std::map<std::int32_t, Bytes> last_snapshot_;  // per partition, as written (time left out)
  bool loaded_ = false;
  int load_failures_ = 0;

  std::thread loop_thread_;
  std::thread consumer_thread_;
  std::atomic<bool> stopping_{false};
  std::counting_semaphore<4096> job_slots_{1024};  // commands taken from the log and not yet finished
  std::counting_semaphore<kInboxLimit> inbox_{kInboxLimit};

  mutable std::mutex state_mutex_;
  std::string not_ready_;  // why the gateway cannot take commands now; empty: it can

  Counter& produce_retries_;
  Counter& producers_replaced_;
  Counter& snapshots_written_;
  Gauge& start_records_read_;
  log::RateLimit retry_log_{std::chrono::seconds(5)};
};

}  // namespace archer::actuators
