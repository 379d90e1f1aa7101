#include "archer/daemon/status_json.h"

#include <gtest/gtest.h>

#include <limits>

namespace archer::daemon {
namespace {

const StatusIdentity kIdentity{"gw-1", "0.1.0", 1700000000123, 12.5};

TEST(StatusJson, WritesIdentityReadinessEverySeriesAndTheDeadLetters) {
  Metrics metrics;
  metrics.counter("archer_ingest_received_total", "MQTT messages received", {{"section", "telemetry"}}).add(7);
  metrics.gauge("archer_spool_bytes", "Stored bytes").set(4096);
  const std::vector<double> bounds{0.01, 0.1};
  Histogram& latency =
      metrics.histogram("archer_ingest_latency_seconds", "Latency", {{"section", "telemetry"}}, bounds);
  latency.observe(0.005);
  latency.observe(0.05);
  latency.observe(3);
  metrics.dead_letters().add({1700000000000, {{"section", "telemetry"}, {"reason", "bad_json"}, {"topic", "d/1/t"}}});
  Readiness readiness;
  readiness.not_ready("kafka: no broker reachable for 12 s");

  EXPECT_EQ(status_json(kIdentity, readiness, metrics.samples(), metrics.dead_letters().list()),
            R"({"gateway":"gw-1","version":"0.1.0","now_unix_ms":1700000000123,"uptime_seconds":12.5,)"
            R"("ready":false,"reasons":["kafka: no broker reachable for 12 s"],"metrics":[)"
            R"({"name":"archer_ingest_latency_seconds","type":"histogram","help":"Latency",)"
            R"("labels":{"section":"telemetry"},"count":3,"sum":3.055,"bounds":[0.01,0.1],"cumulative":[1,2,3]},)"
            R"({"name":"archer_ingest_received_total","type":"counter","help":"MQTT messages received",)"
            R"("labels":{"section":"telemetry"},"value":7},)"
            R"({"name":"archer_spool_bytes","type":"gauge","help":"Stored bytes","labels":{},"value":4096}],)"
            R"("dead_letters":[{"unix_ms":1700000000000,)"
            R"("fields":{"section":"telemetry","reason":"bad_json","topic":"d/1/t"}}]})"
            "\n");
}

TEST(StatusJson, ReadyWithNothingRegisteredIsStillAWholeDocument) {
  EXPECT_EQ(status_json(kIdentity, Readiness{}, {}, {}),
            R"({"gateway":"gw-1","version":"0.1.0","now_unix_ms":1700000000123,"uptime_seconds":12.5,)"
            R"("ready":true,"reasons":[],"metrics":[],"dead_letters":[]})"
            "\n");
}

// What the server cannot vouch for (a device's topic, a parser's detail) is escaped, and a number
// JSON cannot carry becomes null.
TEST(StatusJson, EscapesTextAndWritesNonFiniteNumbersAsNull) {
  Metrics::Sample odd;
  odd.name = "archer_x";
  odd.type = Metrics::Type::gauge;
  odd.labels = {{"session", "a\"b\\c\n"}};
  odd.value = std::numeric_limits<double>::quiet_NaN();
  RecentEvents::Event event{5, {{"detail", "</script><b>\x01\xff"}}};
  const std::string json = status_json({"gw\"", "v", 0, 0}, Readiness{}, {odd}, {event});
  EXPECT_NE(json.find(R"("gateway":"gw\"")"), std::string::npos) << json;
  EXPECT_NE(json.find(R"("labels":{"session":"a\"b\\c\n"},"value":null)"), std::string::npos) << json;
  EXPECT_NE(json.find(R"("fields":{"detail":"</script><b>\u0001\u00ff"})"), std::string::npos) << json;
}

}  // namespace
}  // namespace archer::daemon
