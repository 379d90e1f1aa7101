// docs/metrics.md lists every metric the bridge exposes, with its type, and nothing else: a bridge
// with an ingest section, an actuator and both Kafka producers' statistics is scraped and its
// families are compared with the page's tables.
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <regex>
#include <sstream>

#include <fmt/format.h>

#include "archer/testing/bridge.h"
#include "archer/testing/http.h"
#include "archer/testing/telemetry_section.h"
#include "archer/testing/testing.h"
#include "archer/testing/valves_section.h"

namespace {

using namespace std::chrono_literals;
using archer::testing::Bridge;
using archer::testing::DevKafka;
using archer::testing::DevKafkaOptions;
using archer::testing::Mosquitto;
using archer::testing::wait_until;
using Families = std::map<std::string, std::string>;  // name -> type

// "# TYPE name type" lines of the Prometheus text.
Families exposed(const std::string& text) {
  Families out;
  std::istringstream in(text);
  std::string line;
  const std::regex type_line(R"(^# TYPE (\S+) (\S+)$)");
  std::smatch m;
  while (std::getline(in, line)) {
    if (std::regex_match(line, m, type_line)) out[m[1]] = m[2];
  }
  return out;
}

// Table rows "| `name` | type | ..." of the page.
Families documented(const std::string& file) {
  Families out;
  std::ifstream in(file);
  std::string line;
  const std::regex row(R"(^\| `(archer_[a-z_]+)` \| (counter|gauge|histogram) \|.*)");
  std::smatch m;
  while (std::getline(in, line)) {
    if (std::regex_match(line, m, row)) out[m[1]] = m[2];
  }
  return out;
}

TEST(MetricsDoc, EveryExposedMetricIsDocumentedWithItsTypeAndNothingElse) {
  const Families doc = documented(ARCHER_DOCS_DIR "/metrics.md");
  ASSERT_GT(doc.size(), 30u) << "docs/metrics.md has no metric table rows";
  Mosquitto mqtt;
  DevKafka kafka(DevKafkaOptions()
                     .with_topic("raw.telemetry")
                     .with_topic("dlq.telemetry")
                     .with_topic("cmd.valves")
                     .with_topic("tx.valves")
                     .with_topic("evt.valves"));
  Bridge bridge(mqtt.uri(), kafka.bootstrap(),
                archer::testing::telemetry_section() + archer::testing::valves_section());
  bridge.start();
  // The Kafka gauges appear with each producer's first statistics.
  std::string text;
  ASSERT_TRUE(wait_until(
      [&] {
        const auto reply = archer::testing::http_get(bridge.http_port(), "/metrics");
        if (!reply || reply->status != 200) return false;
        text = reply->body;
        return text.find(R"(archer_kafka_broker_rtt_seconds{client="ingest")") != std::string::npos &&
               text.find(R"(archer_kafka_broker_rtt_seconds{client="actuator:valves")") != std::string::npos;
      },
      15s, 200ms))
      << text;
  const Families code = exposed(text);
  for (const auto& [name, type] : code) {
    const auto it = doc.find(name);
    if (it == doc.end()) {
      ADD_FAILURE() << name << " (" << type << ") is exposed but not listed in docs/metrics.md";
    } else {
      EXPECT_EQ(it->second, type) << name << ": docs/metrics.md says " << it->second;
    }
  }
  for (const auto& [name, type] : doc) {
    EXPECT_TRUE(code.count(name)) << name << " is listed in docs/metrics.md but the bridge does not expose it";
  }
  EXPECT_EQ(bridge.stop(), 0);
}

}  // namespace
