#include "connections.h"

#include <algorithm>
#include <deque>

#include <fmt/format.h>

#include "archer/core/log.h"
#include "archer/core/paho_trace.h"
#include "archer/core/tcp_nodelay.h"

namespace archer::devsim {
namespace {

using namespace std::chrono_literals;

constexpr const char* kLog = "devsim";

}  // namespace

// What a publish carries to its completion callback.
struct Connections::PendingPublish {
  Clock::time_point scheduled;
  Clock::time_point sent;
  std::size_t connection;
  bool telemetry = true;  // else a presence message: counted in the window only
};

class Connections::PublishListener : public mqtt::iaction_listener {
 public:
  explicit PublishListener(Connections& owner) : owner_(owner) {}
  void on_success(const mqtt::token& token) override { owner_.publish_done(token, true); }
  void on_failure(const mqtt::token& token) override { owner_.publish_done(token, false); }

 private:
  Connections& owner_;
};

class Connections::ConnectListener : public mqtt::iaction_listener {
 public:
  ConnectListener(Connections& owner, std::size_t index) : owner_(owner), index_(index) {}
  void on_success(const mqtt::token& token) override { owner_.connect_succeeded(index_, token); }
  void on_failure(const mqtt::token& token) override { owner_.connect_failed(index_, token); }

 private:
  Connections& owner_;
  std::size_t index_;
};

struct Connections::Connection {
  std::string client_id;
  std::unique_ptr<mqtt::async_client> client;
  mqtt::connect_options connect_options;  // kept alive with the client (Paho C++ 1.2.0 properties pointer)
  std::atomic<int> inflight{0};
  std::atomic<int> window{0};  // min(max_inflight, the broker's Receive Maximum - 2)
  std::atomic<bool> presence_pending{false};
  std::atomic<bool> up{false};
  std::atomic<bool> stopping{false};
  std::atomic<std::int64_t> retry_at_ns{0};  // steady time of the next (re)connect attempt; 0: none
  std::unique_ptr<ConnectListener> connect_listener;
};

Connections::Connections(const Options& options, const DeviceTable& devices, Stats& stats)
    : options_(options), devices_(devices), stats_(stats), publish_listener_(std::make_unique<PublishListener>(*this)) {
  const bool per_device = options_.connections == 0;
  const std::size_t count = devices_.connection_count();
  const int version = options_.mqtt_version == 5 ? MQTTVERSION_5 : MQTTVERSION_3_1_1;
  for (std::size_t c = 0; c < count; ++c) {
    auto conn = std::make_unique<Connection>();
    conn->client_id = per_device ? devices_[c].device->id() : fmt::format("{}{}", options_.client_id_prefix, c + 1);
    conn->connect_listener = std::make_unique<ConnectListener>(*this, c);
    conn->window = options_.max_inflight;
    connections_.push_back(std::move(conn));
  }
  quiet_paho_trace();  // the load generator shares the cores with what it measures
  for (std::size_t c = 0; c < count; ++c) {
    Connection& conn = *connections_[c];
    auto create = mqtt::create_options_builder()
                      .mqtt_version(version)
                      .send_while_disconnected(false)
                      .max_buffered_messages(std::max(65535, options_.max_inflight * 4))
                      .finalize();
    conn.client = std::make_unique<mqtt::async_client>(options_.uri, conn.client_id, create, nullptr);
    // The will: the connection's (first) device goes offline. Multiplexed connections carry one will.
    const std::string& will_topic = devices_[devices_.devices_on(c).front()].status_topic;
    const auto reconnect_after = std::chrono::duration_cast<std::chrono::seconds>(options_.reconnect_after);
    auto builder = mqtt::connect_options_builder()
                       .mqtt_version(version)
                       .keep_alive_interval(30s)
                       .connect_timeout(10s)
                       .automatic_reconnect(std::max<std::chrono::seconds>(1s, reconnect_after),
                                            std::max<std::chrono::seconds>(30s, reconnect_after))
                       .will(mqtt::message(will_topic, std::string("offline"), 1, true));
    if (version == MQTTVERSION_5) {
      builder.clean_start(true);
    } else {
      builder.clean_session(true);
    }
    if (options_.username) builder.user_name(*options_.username);
    if (options_.password) builder.password(*options_.password);
    conn.connect_options = builder.finalize();
    conn.client->set_connected_handler([this, c](const std::string&) { on_connected(c); });
    conn.client->set_connection_lost_handler([this, c](const std::string& cause) { on_lost(c, cause); });
    conn.client->set_message_callback([this, c](mqtt::const_message_ptr message) {
      if (command_handler_) command_handler_(c, message);
    });
  }
}

Connections::~Connections() = default;

bool Connections::up(std::size_t c) const { return connections_[c]->up.load(); }

// --- Paho callbacks: count, publish without waiting, hand over ---

void Connections::on_connected(std::size_t c) {
  Connection& conn = *connections_[c];
  conn.inflight = 0;
  conn.retry_at_ns = 0;
  if (!conn.up.exchange(true)) stats_.on_connected();
  nagle_due_ = true;  // for housekeeping: one pass over the sockets for however many connections came up
  window_cv_.notify_all();
  try {
    // Subscribe first: the broker handles a connection's packets in order, so whoever sees
    // `online` (published by the scheduler, through the window) can already reach the device.
    conn.client->subscribe(devices_.command_subscription(c), 1);
    conn.presence_pending = true;
  } catch (const mqtt::exception& error) {
    log::warn(kLog, "{}: after connecting: {}", conn.client_id, error.what());
  }
}

void Connections::on_lost(std::size_t c, const std::string& cause) {
  Connection& conn = *connections_[c];
  if (conn.up.exchange(false)) stats_.connected.fetch_sub(1);
  stats_.connection_lost.fetch_add(1);
  if (!conn.stopping) log::debug(kLog, "{}: connection lost ({})", conn.client_id, cause);
  window_cv_.notify_all();
}

void Connections::connect_succeeded(std::size_t c, const mqtt::token& token) {
  // Paho C holds back publishes beyond the broker's Receive Maximum (Mosquitto: max_inflight_messages,
  // 20 by default) and then stalls for seconds; the window stays below it.
  if (options_.mqtt_version != 5) return;
  try {
    const auto& props = token.get_connect_response().get_properties();
    if (props.contains(mqtt::property::RECEIVE_MAXIMUM)) {
      const int receive_maximum = mqtt::get<std::uint16_t>(props, mqtt::property::RECEIVE_MAXIMUM);
      // Two below it: command answers are published outside the window.
      connections_[c]->window = std::min(options_.max_inflight, std::max(1, receive_maximum - 2));
    }
  } catch (const std::exception& error) {
    log::debug(kLog, "{}: no connect response: {}", connections_[c]->client_id, error.what());
  }
}

void Connections::connect_failed(std::size_t c, const mqtt::token& token) {
  Connection& conn = *connections_[c];
  log::debug(kLog, "{}: connect failed (return code {})", conn.client_id, token.get_return_code());
  const auto at = Clock::now() + options_.reconnect_after;
  conn.retry_at_ns = at.time_since_epoch().count();
}

void Connections::publish_done(const mqtt::token& token, bool ok) {
  std::unique_ptr<PendingPublish> pending(static_cast<PendingPublish*>(token.get_user_context()));
  if (!pending) return;
  const auto now = Clock::now();
  if (!pending->telemetry) {
  } else if (ok) {
    stats_.acked.fetch_add(1);
    stats_.puback_latency.record(
        static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(now - pending->sent).count()));
    stats_.end_to_end.record(static_cast<std::uint64_t>(std::max<std::int64_t>(
        0, std::chrono::duration_cast<std::chrono::microseconds>(now - pending->scheduled).count())));
  } else {
    stats_.publish_failed.fetch_add(1);
  }
  Connection& conn = *connections_[pending->connection];
  int seen = conn.inflight.load();
  while (seen > 0 && !conn.inflight.compare_exchange_weak(seen, seen - 1)) {
  }
  if (seen <= conn.window.load()) window_cv_.notify_all();
}

// --- the caller's thread ---

void Connections::start_connect(std::size_t c) {
  Connection& conn = *connections_[c];
  conn.retry_at_ns = 0;
  try {
    conn.client->connect(conn.connect_options, nullptr, *conn.connect_listener);
  } catch (const mqtt::exception& error) {
    log::debug(kLog, "{}: connect: {}", conn.client_id, error.what());
    conn.retry_at_ns = (Clock::now() + options_.reconnect_after).time_since_epoch().count();
  }
}

void Connections::connect_all(const std::atomic<bool>& stop) {
  // At most 256 connects in flight: thousands at once would only time out against a busy broker.
  std::deque<mqtt::token_ptr> pending;
  for (std::size_t c = 0; c < connections_.size() && !stop; ++c) {
    while (pending.size() >= 256) {
      pending.front()->wait_for(10s);
      pending.pop_front();
    }
    Connection& conn = *connections_[c];
    try {
      pending.push_back(conn.client->connect(conn.connect_options, nullptr, *conn.connect_listener));
    } catch (const mqtt::exception& error) {
      log::warn(kLog, "{}: connect: {}", conn.client_id, error.what());
      conn.retry_at_ns = (Clock::now() + options_.reconnect_after).time_since_epoch().count();
    }
  }
  const auto deadline = Clock::now() + 30s;
  while (!stop && Clock::now() < deadline && stats_.connected.load() < connections_.size()) {
    std::unique_lock lock(window_mutex_);
    window_cv_.wait_for(lock, 20ms);
  }
  log::info(kLog, "{} of {} connection(s) up to {} ({} devices)", stats_.connected.load(), connections_.size(),
            options_.uri, devices_.size());
}

void Connections::housekeeping(Clock::time_point now, const std::atomic<bool>& stop, Clock::time_point end) {
  // Before the presence below: a device answers at once only with Nagle off (archer/core/tcp_nodelay.h).
  if (nagle_due_.exchange(false)) disable_nagle_to_port(mqtt_uri_port(options_.uri));
  for (std::size_t c = 0; c < connections_.size(); ++c) {
    const std::int64_t at = connections_[c]->retry_at_ns.load();
    if (at != 0 && at <= now.time_since_epoch().count() && !connections_[c]->up) start_connect(c);
    if (connections_[c]->presence_pending.exchange(false)) send_presence(c, stop, end);
  }
}

bool Connections::wait_window(std::size_t c, const std::atomic<bool>& stop, Clock::time_point end) {
  Connection& conn = *connections_[c];
  {
    std::unique_lock lock(window_mutex_);
    while (conn.inflight.load() >= conn.window.load() && conn.up && !stop &&
           (end == Clock::time_point{} || Clock::now() < end)) {
      window_cv_.wait_for(lock, 20ms);
    }
  }
  return conn.up && !stop;
}

void Connections::send_presence(std::size_t c, const std::atomic<bool>& stop, Clock::time_point end) {
  Connection& conn = *connections_[c];
  for (std::size_t d : devices_.devices_on(c)) {
    if (!wait_window(c, stop, end)) return;
    auto* pending = new PendingPublish{Clock::now(), Clock::now(), c, false};
    conn.inflight.fetch_add(1);
    try {
      conn.client->publish(mqtt::message::create(devices_[d].status_topic, "online", 1, true), pending,
                           *publish_listener_);
    } catch (const mqtt::exception& error) {
      delete pending;
      conn.inflight.fetch_sub(1);
      log::debug(kLog, "{}: presence: {}", conn.client_id, error.what());
      return;
    }
  }
}

bool Connections::publish_telemetry(std::size_t c, mqtt::message_ptr message, Clock::time_point scheduled,
                                    Clock::time_point sent) {
  Connection& conn = *connections_[c];
  auto* pending = new PendingPublish{scheduled, sent, c};
  conn.inflight.fetch_add(1);
  try {
    conn.client->publish(std::move(message), pending, *publish_listener_);
  } catch (const mqtt::exception& error) {
    delete pending;
    conn.inflight.fetch_sub(1);
    stats_.publish_failed.fetch_add(1);
    log::debug(kLog, "{}: publish: {}", conn.client_id, error.what());
    return false;
  }
  return true;
}

bool Connections::publish_answer(std::size_t c, mqtt::message_ptr message) {
  Connection& conn = *connections_[c];
  if (!conn.up) return false;
  try {
    conn.client->publish(std::move(message));
  } catch (const mqtt::exception& error) {
    log::warn(kLog, "{}: cannot answer: {}", conn.client_id, error.what());
    return false;
  }
  return true;
}

void Connections::disconnect_on_purpose(std::size_t c) {
  Connection& conn = *connections_[c];
  if (!conn.up.exchange(false)) return;
  stats_.connected.fetch_sub(1);
  const bool unclean = options_.disconnect_mode == DisconnectMode::unclean;
  const auto& on_it = devices_.devices_on(c);
  try {
    if (unclean) {
      // Paho cannot drop its socket, and Paho C++ 1.2.0 cannot send DISCONNECT reason 0x04 (its
      // disconnect options are MQTT 3 structs). A PUBLISH to a wildcard topic is a protocol error: the
      // broker closes the connection without a DISCONNECT and publishes the will, as for a dropped
      // device. Paho's automatic reconnect then brings it back after reconnect_after.
      conn.client->publish(devices_[on_it.front()].status_topic + "/#", "", 0, 0, false);
      stats_.disconnects_unclean.fetch_add(1);
      return;
    } else {
      for (std::size_t d : on_it) conn.client->publish(devices_[d].status_topic, "offline", 7, 1, true);
      conn.client->disconnect(mqtt::disconnect_options_builder().timeout(2s).finalize());
      stats_.disconnects_clean.fetch_add(1);
    }
  } catch (const mqtt::exception& error) {
    log::debug(kLog, "{}: disconnect: {}", conn.client_id, error.what());
  }
  conn.retry_at_ns = (Clock::now() + options_.reconnect_after).time_since_epoch().count();
}

void Connections::wait_acknowledged(std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (Clock::now() < deadline) {
    bool idle = true;
    for (auto& conn : connections_) {
      if (conn->inflight.load() > 0 && conn->up) idle = false;
    }
    if (idle) break;
    std::unique_lock lock(window_mutex_);
    window_cv_.wait_for(lock, 10ms);
  }
}

void Connections::disconnect_all() {
  const auto deadline = Clock::now() + 5s;
  for (std::size_t c = 0; c < connections_.size(); ++c) {
    Connection& conn = *connections_[c];
    conn.stopping = true;
    for (std::size_t d : devices_.devices_on(c)) {
      std::unique_lock lock(window_mutex_);
      while (conn.inflight.load() >= conn.window.load() && conn.up && Clock::now() < deadline) {
        window_cv_.wait_for(lock, 20ms);
      }
      lock.unlock();
      if (!conn.up) break;
      auto* pending = new PendingPublish{Clock::now(), Clock::now(), c, false};
      conn.inflight.fetch_add(1);
      try {
        conn.client->publish(mqtt::message::create(devices_[d].status_topic, "offline", 1, true), pending,
                             *publish_listener_);
      } catch (const mqtt::exception& error) {
        delete pending;
        conn.inflight.fetch_sub(1);
        break;
      }
    }
  }
  std::vector<mqtt::token_ptr> tokens;
  for (auto& conn : connections_) {
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
  for (auto& conn : connections_) {
    if (conn->up.exchange(false)) stats_.connected.fetch_sub(1);
  }
}

}  // namespace archer::devsim
