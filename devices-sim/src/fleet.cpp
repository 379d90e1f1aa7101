#include "archer/devsim/fleet.h"

#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <fstream>
#include <mutex>
#include <queue>
#include <random>
#include <thread>
#include <unordered_map>
#include <vector>

#include <fmt/format.h>
#include <mqtt/async_client.h>

#include "archer/core/log.h"
#include "archer/core/topic_template.h"
#include "archer/devsim/commands.h"
#include "archer/devsim/device.h"
#include "archer/devsim/faults.h"

namespace archer::devsim {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

long raise_open_files_limit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return -1;
  if (limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    setrlimit(RLIMIT_NOFILE, &limit);
    getrlimit(RLIMIT_NOFILE, &limit);
  }
  return static_cast<long>(limit.rlim_cur);
}

namespace {

constexpr const char* kLog = "devsim";

std::string render(const std::string& pattern, const std::string& device) {
  std::string out = pattern;
  for (auto at = out.find("{device}"); at != std::string::npos; at = out.find("{device}", at + device.size())) {
    out.replace(at, 8, device);
  }
  return out;
}

std::string random_hex(std::mt19937_64& random, int digits) {
  std::string out;
  while (static_cast<int>(out.size()) < digits) out += fmt::format("{:016x}", random());
  out.resize(static_cast<std::size_t>(digits));
  return out;
}

// What a publish carries to its completion callback.
struct PendingPublish {
  Clock::time_point scheduled;
  Clock::time_point sent;
  std::size_t connection;
  bool telemetry = true;  // else a presence message: counted in the window only
};

struct Command {
  std::size_t device;
  std::string payload;
  std::string correlation;
  std::string response_topic;  // from the request; empty: the device's configured one
  std::string traceparent;
};

struct Answer {
  Clock::time_point due;
  std::uint64_t order;
  std::size_t device;
  std::string topic;
  std::string payload;
  std::string correlation;
  std::string traceparent;
  bool operator>(const Answer& other) const { return due != other.due ? due > other.due : order > other.order; }
};

struct Event {
  enum Type { telemetry, disconnect };
  Clock::time_point due;  // the open-loop schedule's time
  std::size_t index;      // device (telemetry) or connection (disconnect)
  Type type;
  bool operator>(const Event& other) const { return due > other.due; }
};

}  // namespace

struct Fleet::Impl {
  struct Slot {
    std::unique_ptr<Device> device;
    std::mutex mutex;
    std::unique_ptr<ResponseCache> cache;
    Clock::time_point last_advance;
    std::size_t connection = 0;
    std::string telemetry_topic, status_topic, command_topic, response_topic;
  };

  struct Connection;
  class PublishListener : public mqtt::iaction_listener {
   public:
    explicit PublishListener(Impl& impl) : impl_(impl) {}
    void on_success(const mqtt::token& token) override { impl_.publish_done(token, true); }
    void on_failure(const mqtt::token& token) override { impl_.publish_done(token, false); }

   private:
    Impl& impl_;
  };
  class ConnectListener : public mqtt::iaction_listener {
   public:
    ConnectListener(Impl& impl, std::size_t index) : impl_(impl), index_(index) {}
    void on_success(const mqtt::token& token) override { impl_.connect_succeeded(index_, token); }
    void on_failure(const mqtt::token& token) override { impl_.connect_failed(index_, token); }

   private:
    Impl& impl_;
    std::size_t index_;
  };

  struct Connection {
    std::string client_id;
    std::unique_ptr<mqtt::async_client> client;
    mqtt::connect_options connect_options;  // kept alive with the client (Paho C++ 1.2.0 properties pointer)
    std::vector<std::size_t> devices;
    std::atomic<int> inflight{0};
    std::atomic<int> window{0};  // min(max_inflight, the broker's Receive Maximum - 2)
    std::atomic<bool> presence_pending{false};
    std::atomic<bool> up{false};
    std::atomic<bool> stopping{false};
    std::atomic<std::int64_t> retry_at_ns{0};  // steady time of the next (re)connect attempt; 0: none
    std::unique_ptr<ConnectListener> connect_listener;
  };

  Options options;
  Stats stats;
  std::vector<std::unique_ptr<Slot>> slots;
  std::vector<std::unique_ptr<Connection>> connections;
  std::unordered_map<std::string, std::size_t> device_index;
  std::optional<TopicTemplate> command_template;
  int devices_by_kind[kKindCount] = {};
  PublishListener publish_listener{*this};
  std::mutex window_mutex;
  std::condition_variable window_cv;
  std::mt19937_64 random;

  // command worker
  std::mutex work_mutex;
  std::condition_variable work_cv;
  std::deque<Command> commands;
  std::priority_queue<Answer, std::vector<Answer>, std::greater<>> answers;
  std::uint64_t answer_order = 0;
  bool worker_stop = false;
  std::unique_ptr<CommandProcessor> processor;

  Clock::time_point steady_start;
  Clock::time_point run_end;  // zero: no --duration
  std::int64_t system_start_us = 0;

  explicit Impl(Options o) : options(std::move(o)) {
    std::uint64_t seed = options.seed != 0 ? options.seed : std::random_device{}();
    random.seed(seed);
    processor = std::make_unique<CommandProcessor>(options, random());
    std::string error;
    command_template = TopicTemplate::parse(options.command_topic, error);
    build_devices();
    build_connections();
  }

  void build_devices() {
    std::vector<double> weights;
    double total = 0;
    for (const auto& [kind, weight] : options.kinds) total += weight;
    for (const auto& [kind, weight] : options.kinds) weights.push_back(weight / total);
    weights.pop_back();  // the last kind takes the remainder
    std::vector<Kind> kinds;
    {
      RatioPicker picker(weights);
      for (int i = 0; i < options.devices; ++i) {
        const std::size_t choice = std::min(picker.pick(), options.kinds.size() - 1);
        kinds.push_back(options.kinds[choice].first);
        ++devices_by_kind[static_cast<int>(kinds.back())];
      }
    }
    int numbered[kKindCount] = {};
    std::uniform_int_distribution<std::int64_t> skew(-options.clock_skew.count(), options.clock_skew.count());
    for (Kind kind : kinds) {
      auto slot = std::make_unique<Slot>();
      const int k = static_cast<int>(kind);
      std::string id = device_id(kind, ++numbered[k], devices_by_kind[k]);
      slot->device = std::make_unique<Device>(id, kind, random(), skew(random), options.valve_speed);
      slot->cache = std::make_unique<ResponseCache>(options.remember);
      slot->telemetry_topic = render(options.telemetry_topic, id);
      slot->status_topic = render(options.status_topic, id);
      slot->command_topic = render(options.command_topic, id);
      slot->response_topic = render(options.response_topic, id);
      device_index.emplace(id, slots.size());
      slots.push_back(std::move(slot));
    }
  }

  void build_connections() {
    const bool per_device = options.connections == 0;
    const std::size_t count = per_device ? slots.size() : static_cast<std::size_t>(options.connections);
    const int version = options.mqtt_version == 5 ? MQTTVERSION_5 : MQTTVERSION_3_1_1;
    for (std::size_t c = 0; c < count; ++c) {
      auto conn = std::make_unique<Connection>();
      conn->client_id = per_device ? slots[c]->device->id() : fmt::format("{}{}", options.client_id_prefix, c + 1);
      conn->connect_listener = std::make_unique<ConnectListener>(*this, c);
      conn->window = options.max_inflight;
      connections.push_back(std::move(conn));
    }
    for (std::size_t d = 0; d < slots.size(); ++d) {
      const std::size_t c = per_device ? d : d % count;
      slots[d]->connection = c;
      connections[c]->devices.push_back(d);
    }
    for (std::size_t c = 0; c < count; ++c) {
      Connection& conn = *connections[c];
      auto create = mqtt::create_options_builder()
                        .mqtt_version(version)
                        .send_while_disconnected(false)
                        .max_buffered_messages(std::max(65535, options.max_inflight * 4))
                        .finalize();
      conn.client = std::make_unique<mqtt::async_client>(options.uri, conn.client_id, create, nullptr);
      // The will: the connection's (first) device goes offline. Multiplexed connections carry one will.
      const std::string& will_topic = slots[conn.devices.front()]->status_topic;
      auto builder = mqtt::connect_options_builder()
                         .mqtt_version(version)
                         .keep_alive_interval(30s)
                         .connect_timeout(10s)
                         .automatic_reconnect(std::max<std::chrono::seconds>(1s, std::chrono::duration_cast<std::chrono::seconds>(options.reconnect_after)),
                                              std::max<std::chrono::seconds>(30s, std::chrono::duration_cast<std::chrono::seconds>(options.reconnect_after)))
                         .will(mqtt::message(will_topic, std::string("offline"), 1, true));
      if (version == MQTTVERSION_5) builder.clean_start(true);
      else builder.clean_session(true);
      if (options.username) builder.user_name(*options.username);
      if (options.password) builder.password(*options.password);
      conn.connect_options = builder.finalize();
      conn.client->set_connected_handler([this, c](const std::string&) { on_connected(c); });
      conn.client->set_connection_lost_handler([this, c](const std::string& cause) { on_lost(c, cause); });
      conn.client->set_message_callback([this, c](mqtt::const_message_ptr message) { on_message(c, message); });
    }
  }

  // --- Paho callbacks: count, publish without waiting, hand over ---

  void on_connected(std::size_t c) {
    Connection& conn = *connections[c];
    conn.inflight = 0;
    conn.retry_at_ns = 0;
    if (!conn.up.exchange(true)) stats.on_connected();
    window_cv.notify_all();
    try {
      // Subscribe first: the broker handles a connection's packets in order, so whoever sees
      // `online` (published by the scheduler, through the window) can already reach the device.
      if (options.connections == 0) {
        conn.client->subscribe(slots[conn.devices.front()]->command_topic, 1);
      } else {
        conn.client->subscribe(command_template->filter(), 1);
      }
      conn.presence_pending = true;
    } catch (const mqtt::exception& error) {
      log::warn(kLog, "{}: after connecting: {}", conn.client_id, error.what());
    }
  }

  void on_lost(std::size_t c, const std::string& cause) {
    Connection& conn = *connections[c];
    if (conn.up.exchange(false)) stats.connected.fetch_sub(1);
    stats.connection_lost.fetch_add(1);
    if (!conn.stopping) log::debug(kLog, "{}: connection lost ({})", conn.client_id, cause);
    window_cv.notify_all();
  }

  void connect_succeeded(std::size_t c, const mqtt::token& token) {
    // Paho C holds back publishes beyond the broker's Receive Maximum (Mosquitto: max_inflight_messages,
    // 20 by default) and then stalls for seconds; the window stays below it.
    if (options.mqtt_version != 5) return;
    try {
      const auto& props = token.get_connect_response().get_properties();
      if (props.contains(mqtt::property::RECEIVE_MAXIMUM)) {
        const int receive_maximum = mqtt::get<std::uint16_t>(props, mqtt::property::RECEIVE_MAXIMUM);
        // Two below it: command answers are published outside the window.
        connections[c]->window = std::min(options.max_inflight, std::max(1, receive_maximum - 2));
      }
    } catch (const std::exception& error) {
      log::debug(kLog, "{}: no connect response: {}", connections[c]->client_id, error.what());
    }
  }

  void connect_failed(std::size_t c, const mqtt::token& token) {
    Connection& conn = *connections[c];
    log::debug(kLog, "{}: connect failed (return code {})", conn.client_id, token.get_return_code());
    const auto at = Clock::now() + options.reconnect_after;
    conn.retry_at_ns = at.time_since_epoch().count();
  }

  void on_message(std::size_t c, const mqtt::const_message_ptr& message) {
    std::vector<std::string_view> captures;
    if (!command_template->match(message->get_topic(), captures)) return;
    std::string_view device;
    for (std::size_t i = 0; i < captures.size(); ++i) {
      if (command_template->capture_names()[i] == "device") device = captures[i];
    }
    auto it = device_index.find(std::string(device));
    if (it == device_index.end() || slots[it->second]->connection != c) return;
    Command command{it->second, message->get_payload_str(), {}, {}, {}};
    const auto& props = message->get_properties();
    if (props.contains(mqtt::property::CORRELATION_DATA)) {
      command.correlation = mqtt::get<std::string>(props, mqtt::property::CORRELATION_DATA);
    }
    if (props.contains(mqtt::property::RESPONSE_TOPIC)) {
      command.response_topic = mqtt::get<std::string>(props, mqtt::property::RESPONSE_TOPIC);
    }
    const std::size_t users = props.count(mqtt::property::USER_PROPERTY);
    for (std::size_t i = 0; i < users; ++i) {
      auto [name, value] = mqtt::get<mqtt::string_pair>(props, mqtt::property::USER_PROPERTY, i);
      if (name == "traceparent") command.traceparent = value;
    }
    stats.commands_received.fetch_add(1);
    {
      std::lock_guard lock(work_mutex);
      commands.push_back(std::move(command));
    }
    work_cv.notify_one();
  }

  void publish_done(const mqtt::token& token, bool ok) {
    std::unique_ptr<PendingPublish> pending(static_cast<PendingPublish*>(token.get_user_context()));
    if (!pending) return;
    const auto now = Clock::now();
    if (!pending->telemetry) {
    } else if (ok) {
      stats.acked.fetch_add(1);
      stats.puback_latency.record(static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(now - pending->sent).count()));
      stats.end_to_end.record(static_cast<std::uint64_t>(
          std::max<std::int64_t>(0, std::chrono::duration_cast<std::chrono::microseconds>(now - pending->scheduled).count())));
    } else {
      stats.publish_failed.fetch_add(1);
    }
    Connection& conn = *connections[pending->connection];
    int seen = conn.inflight.load();
    while (seen > 0 && !conn.inflight.compare_exchange_weak(seen, seen - 1)) {
    }
    if (seen <= conn.window.load()) window_cv.notify_all();
  }

  // --- command worker: decisions and timed answers ---

  void worker() {
    std::unique_lock lock(work_mutex);
    while (true) {
      if (!commands.empty()) {
        Command command = std::move(commands.front());
        commands.pop_front();
        lock.unlock();
        decide(command);
        lock.lock();
        continue;
      }
      if (!answers.empty() && answers.top().due <= Clock::now()) {
        Answer answer = answers.top();
        answers.pop();
        lock.unlock();
        send_answer(answer);
        lock.lock();
        continue;
      }
      if (worker_stop) return;
      if (answers.empty()) work_cv.wait(lock);
      else work_cv.wait_until(lock, answers.top().due);
    }
  }

  void decide(const Command& command) {
    Slot& slot = *slots[command.device];
    Decision decision;
    {
      std::lock_guard lock(slot.mutex);
      const auto now = Clock::now();
      slot.device->advance(std::chrono::duration<double>(now - slot.last_advance).count());
      slot.last_advance = now;
      decision = processor->handle(*slot.device, *slot.cache, command.payload, command.correlation);
    }
    if (!decision.valid) stats.commands_invalid.fetch_add(1);
    if (decision.duplicate) stats.commands_duplicates.fetch_add(1);
    if (decision.performed) stats.commands_performed.fetch_add(1);
    if (decision.rejected && !decision.duplicate) stats.commands_rejected.fetch_add(1);
    if (decision.late) stats.commands_late.fetch_add(1);
    if (!decision.answer) {
      stats.commands_unanswered.fetch_add(1);
      return;
    }
    if (decision.copies > 1) stats.commands_twice.fetch_add(1);
    const std::string topic = command.response_topic.empty() ? slot.response_topic : command.response_topic;
    std::string correlation = command.correlation;
    if (correlation.empty() && options.mqtt_version == 5) correlation = decision.interaction_id;
    const auto due = Clock::now() + decision.delay;
    std::lock_guard lock(work_mutex);
    for (int copy = 0; copy < decision.copies; ++copy) {
      answers.push(Answer{due + std::chrono::milliseconds(copy), answer_order++, command.device, topic, decision.response,
                          correlation, command.traceparent});
    }
  }

  void send_answer(const Answer& answer) {
    Connection& conn = *connections[slots[answer.device]->connection];
    if (!conn.up) return;
    auto message = mqtt::message::create(answer.topic, answer.payload, 1, false);
    if (options.mqtt_version == 5) {
      mqtt::properties props;
      if (!answer.correlation.empty()) props.add(mqtt::property(mqtt::property::CORRELATION_DATA, answer.correlation));
      if (!answer.traceparent.empty()) props.add(mqtt::property(mqtt::property::USER_PROPERTY, "traceparent", answer.traceparent));
      message->set_properties(std::move(props));
    }
    try {
      conn.client->publish(message);
      stats.responses_sent.fetch_add(1);
    } catch (const mqtt::exception& error) {
      log::warn(kLog, "{}: cannot answer: {}", conn.client_id, error.what());
    }
  }

  // --- scheduler (the caller's thread) ---

  void start_connect(std::size_t c) {
    Connection& conn = *connections[c];
    conn.retry_at_ns = 0;
    try {
      conn.client->connect(conn.connect_options, nullptr, *conn.connect_listener);
    } catch (const mqtt::exception& error) {
      log::debug(kLog, "{}: connect: {}", conn.client_id, error.what());
      conn.retry_at_ns = (Clock::now() + options.reconnect_after).time_since_epoch().count();
    }
  }

  void disconnect_on_purpose(std::size_t c) {
    Connection& conn = *connections[c];
    if (!conn.up.exchange(false)) return;
    stats.connected.fetch_sub(1);
    const bool unclean = options.disconnect_mode == DisconnectMode::unclean;
    try {
      if (unclean) {
        // Paho cannot drop its socket, and Paho C++ 1.2.0 cannot send DISCONNECT reason 0x04 (its
        // disconnect options are MQTT 3 structs). A PUBLISH to a wildcard topic is a protocol error: the
        // broker closes the connection without a DISCONNECT and publishes the will, as for a dropped
        // device. Paho's automatic reconnect then brings it back after reconnect_after.
        conn.client->publish(slots[conn.devices.front()]->status_topic + "/#", "", 0, 0, false);
        stats.disconnects_unclean.fetch_add(1);
        return;
      } else {
        for (std::size_t d : conn.devices) conn.client->publish(slots[d]->status_topic, "offline", 7, 1, true);
        conn.client->disconnect(mqtt::disconnect_options_builder().timeout(2s).finalize());
        stats.disconnects_clean.fetch_add(1);
      }
    } catch (const mqtt::exception& error) {
      log::debug(kLog, "{}: disconnect: {}", conn.client_id, error.what());
    }
    conn.retry_at_ns = (Clock::now() + options.reconnect_after).time_since_epoch().count();
  }

  void connect_all(const std::atomic<bool>& stop) {
    // At most 256 connects in flight: thousands at once would only time out against a busy broker.
    std::deque<mqtt::token_ptr> pending;
    for (std::size_t c = 0; c < connections.size() && !stop; ++c) {
      while (pending.size() >= 256) {
        pending.front()->wait_for(10s);
        pending.pop_front();
      }
      Connection& conn = *connections[c];
      try {
        pending.push_back(conn.client->connect(conn.connect_options, nullptr, *conn.connect_listener));
      } catch (const mqtt::exception& error) {
        log::warn(kLog, "{}: connect: {}", conn.client_id, error.what());
        conn.retry_at_ns = (Clock::now() + options.reconnect_after).time_since_epoch().count();
      }
    }
    const auto deadline = Clock::now() + 30s;
    while (!stop && Clock::now() < deadline && stats.connected.load() < connections.size()) {
      std::unique_lock lock(window_mutex);
      window_cv.wait_for(lock, 20ms);
    }
    log::info(kLog, "{} of {} connection(s) up to {} ({} devices)", stats.connected.load(), connections.size(),
              options.uri, slots.size());
  }

  std::int64_t to_system_us(Clock::time_point t) const {
    return system_start_us + std::chrono::duration_cast<std::chrono::microseconds>(t - steady_start).count();
  }

  // Waits while the connection's window is full; false when it went down or the run ended.
  bool wait_window(Connection& conn, const std::atomic<bool>& stop) {
    {
      std::unique_lock lock(window_mutex);
      while (conn.inflight.load() >= conn.window.load() && conn.up && !stop &&
             (run_end == Clock::time_point{} || Clock::now() < run_end)) {
        window_cv.wait_for(lock, 20ms);
      }
    }
    return conn.up && !stop;
  }

  void send_presence(std::size_t c, const std::atomic<bool>& stop) {
    Connection& conn = *connections[c];
    for (std::size_t d : conn.devices) {
      if (!wait_window(conn, stop)) return;
      auto* pending = new PendingPublish{Clock::now(), Clock::now(), c, false};
      conn.inflight.fetch_add(1);
      try {
        conn.client->publish(mqtt::message::create(slots[d]->status_topic, "online", 1, true), pending, publish_listener);
      } catch (const mqtt::exception& error) {
        delete pending;
        conn.inflight.fetch_sub(1);
        log::debug(kLog, "{}: presence: {}", conn.client_id, error.what());
        return;
      }
    }
  }

  void send_telemetry(std::size_t d, Clock::time_point scheduled, FaultPicker& faults, RatioPicker& formats,
                      const std::atomic<bool>& stop) {
    Slot& slot = *slots[d];
    Connection& conn = *connections[slot.connection];
    if (options.qos > 0) wait_window(conn, stop);  // at most `window` publishes unacknowledged
    if (!conn.up || stop) {
      stats.skipped_disconnected.fetch_add(1);
      return;
    }
    const Fault fault = faults.pick();
    const bool json = fault == Fault::bad_json || (fault == Fault::none || fault == Fault::wrong_device ? formats.pick() == 0 : false);
    std::string payload;
    {
      std::lock_guard lock(slot.mutex);
      const auto now = Clock::now();
      slot.device->advance(std::chrono::duration<double>(now - slot.last_advance).count());
      slot.last_advance = now;
      Stamp stamp;
      stamp.seq = slot.device->next_seq();
      stamp.sent_at_ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count() +
                         slot.device->clock_skew_ms();
      stamp.scheduled_at_us = to_system_us(scheduled);
      payload = fault_payload(fault, *slot.device, stamp, json, options.oversize_bytes, random);
    }
    auto message = mqtt::message::create(slot.telemetry_topic, payload, options.qos, false);
    if (options.traceparent) {
      message->set_properties(mqtt::properties{
          {mqtt::property::USER_PROPERTY, "traceparent", fmt::format("00-{}-{}-01", random_hex(random, 32), random_hex(random, 16))}});
    }
    const auto sent = Clock::now();
    auto* pending = new PendingPublish{scheduled, sent, slot.connection};
    conn.inflight.fetch_add(1);
    try {
      conn.client->publish(message, pending, publish_listener);
    } catch (const mqtt::exception& error) {
      delete pending;
      conn.inflight.fetch_sub(1);
      stats.publish_failed.fetch_add(1);
      log::debug(kLog, "{}: publish: {}", conn.client_id, error.what());
      return;
    }
    stats.sent.fetch_add(1);
    stats.sent_by_kind[static_cast<std::size_t>(slot.device->kind())].fetch_add(1);
    (json ? stats.sent_json : stats.sent_flatbuffers).fetch_add(1);
    stats.faults[static_cast<std::size_t>(fault)].fetch_add(1);
    stats.send_lag.record(static_cast<std::uint64_t>(std::max<std::int64_t>(0, std::chrono::duration_cast<std::chrono::microseconds>(sent - scheduled).count())));
  }

  void schedule_loop(const std::atomic<bool>& stop, Clock::time_point end) {
    FaultPicker faults(options);
    RatioPicker formats({options.json_ratio});
    const double period_s = options.rate > 0 ? static_cast<double>(slots.size()) / options.rate
                                             : std::chrono::duration<double>(options.interval).count();
    const auto period = std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(period_s));
    std::uniform_real_distribution<double> unit(0, 1);
    std::priority_queue<Event, std::vector<Event>, std::greater<>> events;
    const auto start = Clock::now();
    for (std::size_t d = 0; d < slots.size(); ++d) {
      slots[d]->last_advance = start;
      events.push(Event{start + std::chrono::duration_cast<Clock::duration>(period * unit(random)), d, Event::telemetry});
    }
    if (options.disconnect_every.count() > 0) {
      for (std::size_t c = 0; c < connections.size(); ++c) {
        const auto first = std::chrono::duration_cast<Clock::duration>(options.disconnect_every * (0.5 + unit(random)));
        events.push(Event{start + first, c, Event::disconnect});
      }
    }
    auto next_housekeeping = start;
    while (!stop) {
      auto now = Clock::now();
      if (end != Clock::time_point{} && now >= end) break;
      if (now >= next_housekeeping) {
        next_housekeeping = now + 100ms;
        for (std::size_t c = 0; c < connections.size(); ++c) {
          const std::int64_t at = connections[c]->retry_at_ns.load();
          if (at != 0 && at <= now.time_since_epoch().count() && !connections[c]->up) start_connect(c);
          if (connections[c]->presence_pending.exchange(false)) send_presence(c, stop);
        }
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
        send_telemetry(event.index, event.due, faults, formats, stop);
        const double factor = 1 + options.jitter * (2 * unit(random) - 1);
        event.due += std::chrono::duration_cast<Clock::duration>(period * factor);
      } else {
        disconnect_on_purpose(event.index);
        event.due += std::chrono::duration_cast<Clock::duration>(options.disconnect_every);
      }
      events.push(event);
    }
  }

  void disconnect_all() {
    // `offline` for every device, through the windows (bounded: 5 s in all), then DISCONNECT.
    const auto deadline = Clock::now() + 5s;
    for (std::size_t c = 0; c < connections.size(); ++c) {
      Connection& conn = *connections[c];
      conn.stopping = true;
      for (std::size_t d : conn.devices) {
        std::unique_lock lock(window_mutex);
        while (conn.inflight.load() >= conn.window.load() && conn.up && Clock::now() < deadline) window_cv.wait_for(lock, 20ms);
        lock.unlock();
        if (!conn.up) break;
        auto* pending = new PendingPublish{Clock::now(), Clock::now(), c, false};
        conn.inflight.fetch_add(1);
        try {
          conn.client->publish(mqtt::message::create(slots[d]->status_topic, "offline", 1, true), pending, publish_listener);
        } catch (const mqtt::exception& error) {
          delete pending;
          conn.inflight.fetch_sub(1);
          break;
        }
      }
    }
    std::vector<mqtt::token_ptr> tokens;
    for (auto& conn : connections) {
      if (!conn->client->is_connected()) continue;
      try {
        tokens.push_back(conn->client->disconnect(mqtt::disconnect_options_builder().timeout(2s).finalize()));
      } catch (const mqtt::exception& error) {
        log::debug(kLog, "{}: disconnect: {}", conn->client_id, error.what());
      }
    }
    for (auto& token : tokens) {
      try {
        token->wait_for(5s);
      } catch (const mqtt::exception&) {
        // Already gone: nothing more to do.
      }
    }
    for (auto& conn : connections) {
      if (conn->up.exchange(false)) stats.connected.fetch_sub(1);
    }
  }
};

Fleet::Fleet(Options options) : impl_(std::make_unique<Impl>(std::move(options))) {}
Fleet::~Fleet() = default;
const Stats& Fleet::stats() const { return impl_->stats; }

int Fleet::run(const std::atomic<bool>& stop) {
  Impl& m = *impl_;
  const Options& o = m.options;
  const long files = raise_open_files_limit();
  if (files > 0 && static_cast<long>(m.connections.size()) + 64 > files) {
    log::warn(kLog, "{} connections but only {} open files allowed (ulimit -n)", m.connections.size(), files);
  }
  m.steady_start = Clock::now();
  m.system_start_us = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch()).count();

  std::thread worker([&m] { m.worker(); });
  const bool show_progress = o.progress == Progress::always || (o.progress == Progress::automatic && isatty(STDERR_FILENO) == 1);
  std::mutex progress_mutex;
  std::condition_variable progress_cv;
  bool progress_stop = false;
  std::thread progress;
  if (show_progress) {
    progress = std::thread([&] {
      std::unique_lock lock(progress_mutex);
      std::uint64_t last = m.stats.sent.load();
      auto last_time = Clock::now();
      while (!progress_cv.wait_for(lock, 1s, [&] { return progress_stop; })) {
        const auto now = Clock::now();
        const std::uint64_t sent = m.stats.sent.load();
        const double rate = static_cast<double>(sent - last) / std::chrono::duration<double>(now - last_time).count();
        last = sent;
        last_time = now;
        const std::string line = "\r" + progress_line(m.stats, rate) + "\033[K";
        [[maybe_unused]] auto written = ::write(STDERR_FILENO, line.data(), line.size());
      }
      [[maybe_unused]] auto written = ::write(STDERR_FILENO, "\n", 1);
    });
  }

  m.connect_all(stop);
  const auto run_start = Clock::now();
  const auto end = o.duration.count() > 0 ? run_start + o.duration : Clock::time_point{};
  m.run_end = end;
  m.schedule_loop(stop, end);
  const double elapsed = std::chrono::duration<double>(Clock::now() - run_start).count();
  const std::uint64_t connected_at_end = m.stats.connected.load();

  // Let the last publishes be acknowledged (bounded), then go offline.
  const auto drain_deadline = Clock::now() + 5s;
  while (Clock::now() < drain_deadline) {
    bool idle = true;
    for (auto& conn : m.connections) {
      if (conn->inflight.load() > 0 && conn->up) idle = false;
    }
    if (idle) break;
    std::unique_lock lock(m.window_mutex);
    m.window_cv.wait_for(lock, 10ms);
  }
  {
    std::lock_guard lock(m.work_mutex);
    m.worker_stop = true;
    // Answers not yet due are dropped: the run is over.
    m.stats.commands_unanswered.fetch_add(m.answers.size());
    m.answers = {};
  }
  m.work_cv.notify_all();
  worker.join();
  m.disconnect_all();
  if (progress.joinable()) {
    {
      std::lock_guard lock(progress_mutex);
      progress_stop = true;
    }
    progress_cv.notify_all();
    progress.join();
  }

  ReportInfo info;
  info.options = &o;
  for (int k = 0; k < kKindCount; ++k) info.devices_by_kind[k] = m.devices_by_kind[k];
  info.connections = static_cast<int>(m.connections.size());
  info.elapsed_s = elapsed;
  info.connected_at_end = connected_at_end;
  const std::string report = report_json(m.stats, info);
  log::info(kLog, "sent {} acked {} in {:.1f}s ({:.0f}/s); commands received {} performed {} duplicates {}",
            m.stats.sent.load(), m.stats.acked.load(), elapsed, static_cast<double>(m.stats.sent.load()) / std::max(elapsed, 1e-9),
            m.stats.commands_received.load(), m.stats.commands_performed.load(), m.stats.commands_duplicates.load());
  int code = m.stats.max_connected.load() == 0 ? 1 : 0;
  if (code != 0) log::error(kLog, "no connection to {} ever succeeded", o.uri);
  if (!o.report_file.empty()) {
    std::ofstream out(o.report_file, std::ios::trunc);
    out << report;
    if (!out) {
      log::error(kLog, "cannot write the report to {}", o.report_file);
      code = 1;
    }
  }
  return code;
}

}  // namespace archer::devsim
