#include "archer/transport/mqtt_session.h"

#include <algorithm>
#include <map>
#include <mutex>
#include <random>
#include <utility>

#include <fmt/ranges.h>

#include "archer/core/callback_guard.h"
#include "archer/core/log.h"
#include "archer/core/paho_trace.h"
#include "archer/core/tcp_nodelay.h"
#include "archer/core/uuid.h"
#include "archer/transport/mqtt_tls.h"

namespace archer::transport {
namespace {

constexpr auto kReconnectMin = std::chrono::seconds(1);
constexpr auto kReconnectMax = std::chrono::seconds(30);
// How long a disconnect (a pause, or stop) waits for SUBACKs still due. A subscribe left pending
// across a disconnect stays in Paho C's response list, and destroying the client later fails it
// through a token Paho C++ no longer holds: a crash at exit, seen under AddressSanitizer after a
// pause that came right after a connect.
constexpr auto kSubscriptionSettle = std::chrono::seconds(5);
// A failed connect is looked into once more (mqtt_tls.h) within about twice this.
constexpr auto kTlsDiagnosisTimeout = std::chrono::seconds(3);
// How often a reason for a failed connect that keeps coming back is written again.
constexpr auto kRepeatInterval = std::chrono::seconds(60);

// Writes a line the first time it comes, then at most once per kRepeatInterval while it keeps
// coming back, saying how many were held back. One for the process: the gateway's sessions all
// reach the same broker, and a broker that refuses one refuses them all for the same reason.
class RepeatedLines {
 public:
  // True when `line` may be written now; `held` is then how many identical lines were held back.
  bool allow(const std::string& line, std::uint64_t& held) {
    const auto now = std::chrono::steady_clock::now();
    std::lock_guard lock(mutex_);
    if (seen_.size() > 64) seen_.clear();  // reasons come from a small set; never grow without bound
    auto [entry, fresh] = seen_.try_emplace(line);
    if (!fresh && now < entry->second.next) {
      ++entry->second.held;
      return false;
    }
    held = std::exchange(entry->second.held, 0);
    entry->second.next = now + kRepeatInterval;
    return true;
  }
  // A connect ended the run: the next failure is news again, whatever it says.
  void forget() {
    std::lock_guard lock(mutex_);
    seen_.clear();
  }

 private:
  struct Seen {
    std::chrono::steady_clock::time_point next;
    std::uint64_t held = 0;
  };
  std::mutex mutex_;
  std::map<std::string, Seen> seen_;
};

// The hand-over marker's topic: the client id, with what cannot stand in a topic level replaced.
std::string handover_topic_of(std::string client_id) {
  for (char& c : client_id) {
    if (c == '/' || c == '+' || c == '#') c = '_';
  }
  return "archer/handover/" + client_id;
}

// Set once any session of the process is request/response (MqttSession::disable_nagle).
std::atomic<bool> nagle_off_wanted{false};

RepeatedLines& failed_connect_lines() {
  static RepeatedLines lines;
  return lines;
}

}  // namespace

MqttSession::MqttSession(MqttConfig config)
    : config_(std::move(config)), handover_topic_(handover_topic_of(config_.client_id)) {
  archer::quiet_paho_trace();
  // No client-side persistence: the gateway publishes only what its callers track themselves.
  client_ = std::make_unique<mqtt::async_client>(config_.uri, config_.client_id, mqtt::create_options(MQTTVERSION_5),
                                                 nullptr);
}

MqttSession::~MqttSession() { stop(std::chrono::seconds(2)); }

void MqttSession::disable_nagle() {
  require_not_started("disable_nagle");
  nagle_off_wanted.store(true);
}

void MqttSession::require_not_started(const char* what) const {
  // Paho's thread reads these without a lock once the session has started.
  if (started_) throw std::logic_error(std::string("MqttSession: ") + what + " after start()");
}

void MqttSession::add_subscription(std::string filter, int qos) {
  require_not_started("add_subscription");
  subscriptions_.emplace_back(std::move(filter), qos);
}

std::vector<std::pair<std::string, int>> MqttSession::subscriptions() const {
  std::lock_guard lock(subscriptions_mutex_);
  return subscriptions_;
}

bool MqttSession::subscribe(const std::string& filter, int qos, std::chrono::milliseconds timeout) {
  {
    std::lock_guard lock(subscriptions_mutex_);
    subscriptions_.emplace_back(filter, qos);
  }
  if (!connected()) return false;  // made at the next connect, as every subscription
  try {
    auto token = client_->subscribe(filter, qos);
    if (!token->wait_for(timeout) || token->get_reason_code() >= mqtt::ReasonCode::UNSPECIFIED_ERROR) {
      log::error("mqtt", "subscribing to '{}' failed (reason code {})", filter,
                 static_cast<int>(token->get_reason_code()));
      return false;
    }
  } catch (const mqtt::exception& error) {
    log::error("mqtt", "subscribing to '{}' failed: {}", filter, error.what());
    return false;
  }
  log::info("mqtt", "{}: subscribed to '{}'", config_.client_id, filter);
  return true;
}

bool MqttSession::unsubscribe(const std::string& filter, std::chrono::milliseconds timeout) {
  {
    std::lock_guard lock(subscriptions_mutex_);
    std::erase_if(subscriptions_, [&](const auto& one) { return one.first == filter; });
  }
  if (!connected()) return true;  // the persistent session still has it: gone at the next connect's
  try {
    if (!client_->unsubscribe(filter)->wait_for(timeout)) return false;
  } catch (const mqtt::exception& error) {
    log::error("mqtt", "unsubscribing from '{}' failed: {}", filter, error.what());
    return false;
  }
  log::info("mqtt", "{}: unsubscribed from '{}'", config_.client_id, filter);
  return true;
}

void MqttSession::set_message_handler(MessageHandler handler) {
  require_not_started("set_message_handler");
  handler_ = std::move(handler);
}

void MqttSession::add_ready_listener(std::function<void()> listener) {
  require_not_started("add_ready_listener");
  ready_listeners_.push_back(std::move(listener));
}

void MqttSession::build_connect_options() {
  auto builder = mqtt::connect_options_builder()
                     .mqtt_version(MQTTVERSION_5)
                     .clean_start(false)
                     .keep_alive_interval(std::chrono::duration_cast<std::chrono::seconds>(config_.keepalive))
                     .connect_timeout(std::chrono::seconds(10));
  if (config_.username) builder.user_name(*config_.username);
  if (config_.password) builder.password(*config_.password);  // read with the config (archer/core/secret_file.h)
  if (is_tls_uri(config_.uri)) {
    // The server certificate is verified (against ca_file, else the system's trust store) and so is
    // the URI's host against it (Paho's `verify`, off by default); TLS 1.2 is the minimum through
    // the cipher list (mqtt_tls.h says why). No error handler: Paho C++ 1.2.0's is unsafe (mqtt_tls.h).
    const MqttTlsConfig tls = config_.tls.value_or(MqttTlsConfig{});
    auto ssl = mqtt::ssl_options_builder();
    ssl.enable_server_cert_auth(true).verify(true).enabled_cipher_suites(kMqttTlsCiphers);
    if (!tls.ca_file.empty()) ssl.trust_store(tls.ca_file.string());
    if (!tls.cert_file.empty()) ssl.key_store(tls.cert_file.string());
    if (!tls.key_file.empty()) ssl.private_key(tls.key_file.string());
    builder.ssl(ssl.finalize());
  }
  connect_options_ = builder.finalize();
  // Paho C++ 1.2.0: a copied connect_options points at the original's MQTT 5 properties, so the
  // properties are set on the final object, which lives as long as the client.
  const auto expiry = std::chrono::duration_cast<std::chrono::seconds>(config_.session_expiry).count();
  connect_options_.set_properties(
      mqtt::properties{{mqtt::property::SESSION_EXPIRY_INTERVAL, static_cast<int>(expiry)}});
}

void MqttSession::start() {
  require_not_started("start");
  started_ = true;
  client_->set_message_callback([this](mqtt::const_message_ptr message) {
    guarded("MQTT message handler", [&] {
      if (marker_awaited_.load(std::memory_order_relaxed) && message->get_topic() == handover_topic_) {
        std::lock_guard lock(marker_mutex_);
        if (message->get_payload_str() == marker_token_) marker_seen_ = true;
        marker_cv_.notify_all();
        return;
      }
      if (handler_) handler_(message);
    });
  });
  client_->set_connected_handler(
      [this](const std::string&) { guarded("MQTT connected handler", [this] { on_connected(); }); });
  client_->set_connection_lost_handler([this](const std::string& cause) {
    guarded("MQTT connection-lost handler", [&] { on_connection_lost(cause); });
  });
  build_connect_options();
  connect_thread_ = std::thread([this] { connect_until_stopped(); });
}

void MqttSession::on_connection_lost(const std::string& cause) {
  if (stopping_) return;
  log::warn("mqtt", "connection to {} lost ({}); reconnecting", config_.uri, cause.empty() ? "no reason given" : cause);
  {
    std::lock_guard lock(connected_mutex_);
    subscribed_ = false;
    need_connect_ = true;
  }
  connected_cv_.notify_all();
}

void MqttSession::connect_until_stopped() {
  // Connects, and connects again whenever the connection is lost, with capped exponential backoff
  // and jitter (so a fleet of gateways does not return to a restarted broker in step).
  std::mt19937 random(std::random_device{}());
  std::uniform_real_distribution<double> jitter(0.5, 1.5);
  std::unique_lock lock(connected_mutex_);
  while (!stopping_) {
    connected_cv_.wait(lock, [this] {
      return stopping_.load() || (paused_ && client_->is_connected()) || (need_connect_ && !paused_);
    });
    if (stopping_) break;
    if (paused_) {
      // Intake paused: leave, keeping the session; the broker queues for it meanwhile.
      settle_subscriptions(lock);
      lock.unlock();
      try {
        client_->disconnect(5000)->wait_for(std::chrono::seconds(6));
      } catch (const mqtt::exception& error) {
        log::warn("mqtt", "disconnect to pause intake: {}", error.what());
      }
      lock.lock();
      subscribed_ = false;
      need_connect_ = true;
      log::warn("mqtt", "{}: intake paused; the broker keeps the session and queues for it", config_.client_id);
      continue;
    }
    need_connect_ = false;
    auto delay = std::chrono::duration_cast<std::chrono::milliseconds>(kReconnectMin);
    while (!stopping_ && !paused_) {
      lock.unlock();
      bool connected = false;
      std::string failure = "no answer within 15 s";
      bool broker_refused = false;  // the broker answered CONNECT with a refusal: TLS was fine
      try {
        connected = client_->connect(connect_options_)->wait_for(std::chrono::seconds(15));
      } catch (const mqtt::exception& error) {
        failure = error.what();
        broker_refused = error.get_return_code() > 0;
      }
      if (!connected && !stopping_) report_failed_connect(failure, broker_refused);
      lock.lock();
      if (connected) break;
      const auto wait =
          std::chrono::milliseconds(static_cast<std::int64_t>(static_cast<double>(delay.count()) * jitter(random)));
      log::info("mqtt", "next connection attempt to {} in {} ms", config_.uri, wait.count());
      connected_cv_.wait_for(lock, wait, [this] { return stopping_.load() || paused_; });
      delay = std::min(delay * 2, std::chrono::duration_cast<std::chrono::milliseconds>(kReconnectMax));
    }
  }
}

void MqttSession::report_failed_connect(const std::string& failure, bool broker_refused) {
  // Paho says "TCP/TLS connect failure" whatever went wrong; for a TLS broker, find out what.
  std::string line;
  bool tls_refused = false;
  if (is_tls_uri(config_.uri) && !broker_refused) {
    const TlsDiagnosis found = diagnose_tls(config_.uri, config_.tls.value_or(MqttTlsConfig{}), kTlsDiagnosisTimeout);
    if (found.stage == TlsDiagnosis::Stage::refused) {
      line = fmt::format("TLS handshake with {} failed: {}", config_.uri, found.cause);
      tls_refused = true;
    } else if (found.stage == TlsDiagnosis::Stage::unreachable) {
      line = fmt::format("cannot connect to {}: {}", config_.uri, found.cause);
    }
  }
  if (line.empty()) line = fmt::format("cannot connect to {}: {}", config_.uri, failure);
  std::uint64_t held = 0;
  if (!failed_connect_lines().allow(line, held)) return;
  const std::string repeated = held == 0 ? "" : fmt::format(" ({} more times since the last such line)", held);
  if (tls_refused) {
    log::error("mqtt", "{}{}", line, repeated);
  } else {
    log::warn("mqtt", "{}{}", line, repeated);
  }
}

void MqttSession::on_connected() {
  // Runs on Paho's thread after every (re)connect. Subscribing again is harmless when the broker
  // kept the session, and necessary when it expired.
  log::info("mqtt", "connected to {} as {}", config_.uri, config_.client_id);
  // Before the first request goes out: with Nagle on, each waits out the broker's delayed ACK.
  if (nagle_off_wanted.load()) disable_nagle_to_port(mqtt_uri_port(config_.uri));
  failed_connect_lines().forget();
  const auto wanted = subscriptions();
  pending_subacks_ = static_cast<int>(wanted.size());
  if (wanted.empty()) {
    {
      std::lock_guard lock(connected_mutex_);
      subscribed_ = true;
    }
    connected_cv_.notify_all();
    for (const auto& listener : ready_listeners_) listener();
  }
  for (const auto& [filter, qos] : wanted) {
    client_->subscribe(filter, qos, nullptr, subscribe_listener_, mqtt::subscribe_options(), mqtt::properties());
  }
}

void MqttSession::SubscribeListener::on_success(const mqtt::token& token) {
  guarded("MQTT subscribe completion", [&] { granted(token); });
}

void MqttSession::SubscribeListener::granted(const mqtt::token& token) {
  if (token.get_reason_code() >= mqtt::ReasonCode::UNSPECIFIED_ERROR) {
    on_failure(token);
    return;
  }
  if (--session_.pending_subacks_ != 0) return;
  log::info("mqtt", "subscribed to {} filter(s)", session_.subscriptions().size());
  {
    std::lock_guard lock(session_.connected_mutex_);
    session_.subscribed_ = true;
  }
  session_.connected_cv_.notify_all();
  for (const auto& listener : session_.ready_listeners_) listener();
}

void MqttSession::SubscribeListener::on_failure(const mqtt::token& token) {
  guarded("MQTT subscribe completion", [&] { refused(token); });
}

void MqttSession::SubscribeListener::refused(const mqtt::token& token) {
  log::error("mqtt", "subscription refused by the broker (reason code {}, return code {})",
             static_cast<int>(token.get_reason_code()), token.get_return_code());
}

void MqttSession::pause_intake() {
  {
    std::lock_guard lock(connected_mutex_);
    if (paused_) return;
    paused_ = true;
  }
  connected_cv_.notify_all();
}

void MqttSession::resume_intake() {
  {
    std::lock_guard lock(connected_mutex_);
    if (!paused_) return;
    paused_ = false;
  }
  log::info("mqtt", "{}: intake resumed", config_.client_id);
  connected_cv_.notify_all();
}

bool MqttSession::wait_connected(std::chrono::milliseconds timeout) {
  std::unique_lock lock(connected_mutex_);
  return connected_cv_.wait_for(lock, timeout, [this] { return subscribed_.load(); });
}

void MqttSession::settle_subscriptions(std::unique_lock<std::mutex>& lock) {
  connected_cv_.wait_for(lock, kSubscriptionSettle, [this] { return subscribed_.load() || !client_->is_connected(); });
}

bool MqttSession::hand_over_shares(std::chrono::milliseconds timeout) {
  std::vector<std::string> shared;
  for (const auto& [filter, qos] : subscriptions()) {
    if (filter.starts_with("$share/")) shared.push_back(filter);
  }
  if (shared.empty()) return true;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  const auto left = [&] {
    return std::max(std::chrono::milliseconds(0),
                    std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()));
  };
  if (!connected()) {
    for (const std::string& filter : shared) unsubscribe(filter, left());
    log::warn("mqtt",
              "{}: not connected at the stop: what the broker queued for this session's share of {} waits "
              "for its next start",
              config_.client_id, fmt::join(shared, ", "));
    return false;
  }
  for (const std::string& filter : shared) unsubscribe(filter, left());
  const std::string& topic = handover_topic_;
  const std::string token = new_record_id().to_string();
  {
    std::lock_guard lock(marker_mutex_);
    marker_token_ = token;
    marker_seen_ = false;
  }
  marker_awaited_ = true;
  bool seen = false;
  if (!subscribe(topic, 1, left())) {
    log::warn("mqtt",
              "{}: the broker refused '{}' (its ACL?): the hand-over cannot tell when the share queued "
              "for this session has all arrived; what is left waits for its next start",
              config_.client_id, topic);
  } else {
    try {
      client_->publish(topic, token, 1, false);
      std::unique_lock lock(marker_mutex_);
      seen = marker_cv_.wait_until(lock, deadline, [this] { return marker_seen_; });
    } catch (const mqtt::exception& error) {
      log::warn("mqtt", "{}: hand-over marker: {}", config_.client_id, error.what());
    }
  }
  unsubscribe(topic, left());
  marker_awaited_ = false;
  if (seen) {
    log::info("mqtt", "{}: handed over its share of {}: the broker routes it to the group's other members",
              config_.client_id, fmt::join(shared, ", "));
  } else {
    log::warn("mqtt",
              "{}: hand-over of {} not confirmed within {} ms; what the broker still queued for this "
              "session waits for its next start",
              config_.client_id, fmt::join(shared, ", "), timeout.count());
  }
  return seen;
}

void MqttSession::stop(std::chrono::milliseconds timeout) {
  {
    std::lock_guard lock(connected_mutex_);
    stopping_ = true;
  }
  connected_cv_.notify_all();
  if (connect_thread_.joinable()) connect_thread_.join();
  {
    std::unique_lock lock(connected_mutex_);
    if (started_) settle_subscriptions(lock);
  }
  try {
    if (client_->is_connected()) client_->disconnect(static_cast<int>(timeout.count()))->wait_for(timeout);
  } catch (const mqtt::exception& error) {
    log::warn("mqtt", "disconnect: {}", error.what());
  }
  subscribed_ = false;
}

}  // namespace archer::transport
