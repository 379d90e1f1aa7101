// What an operator watches tells the truth: /metrics counts what the test itself sent, the latency
// histogram has one observation per delivered record, and /readyz follows Kafka away and back. On
// archer-devkafka and on Apache Kafka (the `apache` instance stops and starts the whole node).
#include <gtest/gtest.h>

#include <fmt/format.h>

#include "archer/testing/bridge.h"
#include "archer/testing/mqtt_client.h"
#include "archer/testing/on_both_brokers.h"
#include "archer/testing/testing.h"
#include "figures.h"

namespace {

using namespace std::chrono_literals;
using archer::faults::http_request;
using archer::faults::Load;
using archer::faults::LoadOptions;
using archer::faults::metric_value;
using archer::testing::Bridge;
using archer::testing::MqttClient;
using archer::testing::wait_until;
using Clock = std::chrono::steady_clock;

class Observability : public archer::testing::OnBothBrokers {
 protected:
  void SetUp() override {
    OnBothBrokers::SetUp();
    if (IsSkipped()) return;
    raw_ = topic("raw.telemetry", 3);
    dead_letters_ = topic("dlq.telemetry", 1);
    port_ = archer::testing::free_port();
  }

  std::unique_ptr<Bridge> bridge_with_http() const {
    return bridge(archer::faults::http_head(port_) + archer::faults::telemetry_section(raw_, dead_letters_));
  }

  // The whole /metrics text, or empty when it is not served.
  std::string metrics() const {
    const auto response = http_request(port_, "/metrics");
    return response && response->status == 200 ? response->body : std::string();
  }
  double metric(const std::string& name) const { return metric_value(metrics(), name).value_or(-1); }

  std::string raw_;
  std::string dead_letters_;
  std::uint16_t port_ = 0;
};

TEST_P(Observability, MetricsCountWhatWasSentAndTheLatencyHistogramEveryDeliveredRecord) {
  auto bridge = bridge_with_http();
  bridge->start();
  constexpr int kGood = 400;
  constexpr int kBad = 25;
  {
    MqttClient publisher(mqtt_.uri(), "observability-publisher");
    for (int seq = 1; seq <= kGood; ++seq) {
      const std::string device = fmt::format("env-{:02}", seq % 10);
      publisher.publish("devices/" + device + "/telemetry",
                        archer::faults::telemetry_reading(device, static_cast<std::uint64_t>(seq)));
      // The section takes FlatBuffers only: JSON is rejected as not_flatbuffers.
      if (seq % (kGood / kBad) == 0) publisher.publish("devices/" + device + "/telemetry", R"({"device":"x"})");
    }
    publisher.wait_all();
  }
  ASSERT_TRUE(wait_until(
      [&] {
        const std::string text = metrics();
        return metric_value(text, "archer_ingest_delivered_total") == kGood &&
               metric_value(text, "archer_ingest_dead_letters_delivered_total") == kBad;
      },
      60s, 100ms))
      << metrics() << bridge->log();

  const std::string text = metrics();
  auto value = [&](const std::string& name) { return metric_value(text, name).value_or(-1); };
  EXPECT_EQ(value("archer_ingest_received_total"), kGood + kBad);
  EXPECT_EQ(value("archer_ingest_accepted_total"), kGood);
  EXPECT_EQ(value(R"(archer_ingest_rejected_total{section="telemetry",reason="not_flatbuffers"})"), kBad);
  EXPECT_EQ(value("archer_ingest_rejected_total"), kBad);
  // One observation per record the raw datalog took, and every bucket cumulative up to all of them.
  EXPECT_EQ(value("archer_ingest_latency_seconds_count"), kGood) << text;
  EXPECT_EQ(value(R"(archer_ingest_latency_seconds_bucket{section="telemetry",le="+Inf"})"), kGood) << text;
  EXPECT_GT(value("archer_ingest_latency_seconds_sum"), 0);
  EXPECT_LT(value("archer_ingest_latency_seconds_sum") / kGood, 5.0) << "mean latency above 5 s on loopback";
  // Read gauges are refreshed every second: a scrape just after the start may still show 0.
  EXPECT_TRUE(wait_until([&] { return metric(R"(archer_mqtt_connected{session="telemetry"})") == 1; }, 10s, 100ms))
      << metrics();
  // librdkafka's statistics arrive every second.
  EXPECT_TRUE(wait_until([&] { return metric(R"(archer_kafka_brokers_up{client="ingest"})") >= 1; }, 10s, 100ms))
      << metrics();
  EXPECT_TRUE(wait_until([&] { return metric(R"(archer_kafka_queue_messages{client="ingest"})") == 0; }, 10s, 100ms));
  // Everything delivered has left the spool.
  EXPECT_TRUE(wait_until(
      [&] { return metric("archer_spool_records") == 0 && metric("archer_spool_oldest_record_age_seconds") == 0; }, 10s,
      100ms))
      << metrics();
  EXPECT_EQ(value("archer_spool_max_bytes"), 1024.0 * 1024 * 1024);
  const auto health = http_request(port_, "/healthz");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200) << health->body;
  EXPECT_EQ(bridge->stop(), 0);
}

TEST_P(Observability, ReadyzTurnsNotReadyWhenEveryBrokerIsAwayAndReadyWhenTheyReturn) {
  auto bridge = bridge_with_http();
  bridge->start();
  LoadOptions o;
  o.devices = 20;
  o.rate = 100;
  o.seconds = 60;
  Load load(mqtt_.uri(), o);
  load.wait_for_acks(200);
  auto ready = [&] {
    const auto response = http_request(port_, "/readyz");
    return response && response->status == 200;
  };
  ASSERT_TRUE(wait_until(ready, 20s, 100ms)) << bridge->log();

  archer::faults::take_kafka_away(kafka());
  const auto away_at = Clock::now();
  std::string reason;
  ASSERT_TRUE(wait_until(
      [&] {
        const auto response = http_request(port_, "/readyz");
        if (!response || response->status != 503) return false;
        reason = response->body;
        return true;
      },
      10s, 100ms))
      << "still ready 10 s after every broker went away\n"
      << bridge->log();
  const double not_ready_after = archer::faults::seconds_since(away_at);
  EXPECT_NE(reason.find("kafka: no broker reachable for "), std::string::npos) << reason;
  // /healthz stays green: the loops turn, they are only waiting for Kafka.
  const auto health = http_request(port_, "/healthz");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200) << health->body;

  archer::faults::bring_kafka_back(kafka());
  const auto back_at = Clock::now();
  ASSERT_TRUE(wait_until(ready, 10s, 100ms))
      << "not ready 10 s after the brokers returned: " << http_request(port_, "/readyz")->body << bridge->log();
  const double ready_after = archer::faults::seconds_since(back_at);
  std::cout << fmt::format("FIGURES scenario=readyz{} not_ready_after_s={:.1f} ready_after_s={:.1f} reason=\"{}\"\n",
                           GetParam() == archer::testing::KafkaKind::apache ? "_apache" : "", not_ready_after,
                           ready_after, reason.substr(0, reason.find('\n')));
  EXPECT_EQ(bridge->stop(), 0);
}

INSTANTIATE_TEST_SUITE_P(Brokers, Observability, ::testing::ValuesIn(archer::testing::all_kafka_kinds()),
                         archer::testing::kafka_kind_name);

}  // namespace
