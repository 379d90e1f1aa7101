// SIGHUP under load: an added [[ingest]] section and a changed [[actuator]] apply without a restart,
// a broken config is refused with file:line while the old one keeps running, and across both
// nothing the broker acknowledged is lost or written twice, no command goes without its one outcome
// and no device acts twice.
#include <gtest/gtest.h>

#include <atomic>
#include <fstream>
#include <map>
#include <regex>
#include <thread>

#include <fmt/format.h>

#include "archer/testing/bridge.h"
#include "archer/testing/command_writer.h"
#include "archer/testing/mqtt_client.h"
#include "archer/testing/test_devices.h"
#include "archer/testing/testing.h"
#include "archer/testing/valves_section.h"
#include "figures.h"

namespace {

using namespace std::chrono_literals;
using archer::faults::Datalog;
using archer::faults::Load;
using archer::faults::LoadOptions;
using archer::faults::outcome_of;
using archer::testing::Bridge;
using archer::testing::CommandWriter;
using archer::testing::DevKafka;
using archer::testing::DevKafkaOptions;
using archer::testing::KafkaConsumerForTest;
using archer::testing::Mosquitto;
using archer::testing::MqttClient;
using archer::testing::TestDevices;
using archer::testing::wait_until;

std::string read_text(const std::filesystem::path& file) {
  std::ifstream in(file);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// The section a reload adds: site gateways' telemetry, same schema, a topic of its own.
std::string sites_section() {
  return fmt::format(R"(
[[ingest]]
name = "sites"
mqtt = "sites/{{device}}/telemetry"
schema = "{}/telemetry.bfbs"
topic = "raw.sites"
key = "{{device}}"
dead_letter = "dlq.sites"
)",
                     ARCHER_SCHEMA_DIR);
}

TEST(Reload, AnAddedIngestAndAChangedActuatorApplyUnderLoadAndABrokenConfigIsRefused) {
  Mosquitto mqtt;
  DevKafka kafka(DevKafkaOptions()
                     .with_topic("raw.telemetry:3")
                     .with_topic("dlq.telemetry:1")
                     .with_topic("raw.sites:1")
                     .with_topic("dlq.sites:1")
                     .with_topic("cmd.valves:4")
                     .with_topic("tx.valves:4")
                     .with_topic("evt.valves:4")
                     .with_topic("dlq.valves:1"));
  Datalog datalog(kafka.bootstrap(), "raw.telemetry");
  TestDevices devices(mqtt.uri());
  Bridge bridge(mqtt.uri(), kafka.bootstrap(),
                archer::faults::telemetry_section() + archer::testing::valves_section({}, {.timeout = "2s"}));
  bridge.start();
  KafkaConsumerForTest events(kafka.bootstrap(), {"evt.valves"});

  LoadOptions o;
  o.devices = 50;
  o.rate = 500;
  o.seconds = 20;
  Load load(mqtt.uri(), o);

  // Commands at 10/s through both reloads.
  constexpr int kCommands = 120;
  constexpr int kDevices = 8;
  CommandWriter writer(kafka.bootstrap(), "cmd.valves");
  std::vector<std::string> ids(kCommands);
  std::atomic<int> written{0};
  std::thread commands([&] {
    const auto start = std::chrono::steady_clock::now();
    for (int n = 0; n < kCommands; ++n) {
      std::this_thread::sleep_until(start + n * 100ms);
      ids[static_cast<std::size_t>(n)] =
          writer.write(fmt::format("v-{:02}", n % kDevices), "set", {{"n", std::to_string(n)}});
      written = n + 1;
    }
  });
  std::map<std::string, int> outcome_count;
  auto take_outcomes = [&](std::chrono::milliseconds wait) {
    for (const auto& record : events.consume_until(kCommands, wait)) {
      const auto* outcome = outcome_of(record);
      ASSERT_NE(outcome, nullptr);
      ++outcome_count[outcome->command_id()->str()];
    }
  };
  while (outcome_count.size() < 20) take_outcomes(500ms);

  // 1. Add a section, change the actuator's timeout.
  const std::string original = read_text(bridge.config_file());
  std::string changed = original + sites_section();
  changed.replace(changed.find("timeout = \"2s\""), 14, "timeout = \"3s\"");
  std::ofstream(bridge.config_file()) << changed;
  bridge.process()->kill(SIGHUP);
  ASSERT_TRUE(wait_until([&] { return bridge.log().find("reload: ") != std::string::npos; }, 20s)) << bridge.log();
  ASSERT_TRUE(wait_until([&] { return bridge.log().find(" applied: 2 ingest section(s)") != std::string::npos; }, 30s))
      << bridge.log();
  EXPECT_NE(bridge.log().find("valves restarted (changed)"), std::string::npos) << bridge.log();
  {
    MqttClient site(mqtt.uri(), "site-publisher");
    for (std::uint64_t seq = 1; seq <= 50; ++seq)
      site.publish("sites/s-1/telemetry", archer::faults::telemetry_reading("s-1", seq));
    site.wait_all();
  }
  KafkaConsumerForTest sites(kafka.bootstrap(), {"raw.sites"});
  EXPECT_EQ(sites.consume_until(50, 30s).size(), 50u) << "the added section does not ingest\n" << bridge.log();

  // 2. A broken config: refused with file:line, the running one stays.
  const int written_before_broken = written.load();
  std::string broken = changed;
  broken.replace(broken.find("timeout = \"3s\""), 14, "timeout = \"soon\"");
  std::ofstream(bridge.config_file()) << broken;
  bridge.process()->kill(SIGHUP);
  ASSERT_TRUE(wait_until([&] { return bridge.log().find("reload refused") != std::string::npos; }, 20s))
      << bridge.log();
  const std::regex located(bridge.config_file().filename().string() + R"(:\d+:\d+: actuator\[0\]\.timeout)");
  EXPECT_TRUE(std::regex_search(bridge.log(), located)) << bridge.log();

  commands.join();
  writer.flush(30s);
  EXPECT_GT(written.load(), written_before_broken);
  const auto deadline = std::chrono::steady_clock::now() + 60s;
  while (outcome_count.size() < static_cast<std::size_t>(kCommands) && std::chrono::steady_clock::now() < deadline) {
    take_outcomes(1s);
  }
  take_outcomes(3s);  // a repeated outcome would arrive behind
  const archer::faults::LoadReport report = load.finish();
  ASSERT_TRUE(report.ok);
  datalog.collect(report.acked, 60s);

  int missing = 0;
  int repeated = 0;
  for (const std::string& id : ids) {
    const int c = outcome_count.count(id) ? outcome_count.at(id) : 0;
    missing += c == 0 ? 1 : 0;
    repeated += c > 1 ? c - 1 : 0;
  }
  std::map<std::string, int> performed;
  for (int d = 0; d < kDevices; ++d) {
    for (const auto& action : devices.actions(fmt::format("v-{:02}", d))) ++performed[action.args.at("n")];
  }
  int acted_twice = 0;
  for (const auto& [n, times] : performed) acted_twice += times > 1 ? 1 : 0;
  const std::uint64_t lost = report.acked > datalog.distinct() ? report.acked - datalog.distinct() : 0;
  std::cout << fmt::format(
      "FIGURES scenario=reload readings_acked={} delivered={} lost={} duplicated={} commands={} outcomes={} "
      "missing={} repeated={} acted_twice={}\n",
      report.acked, datalog.distinct(), lost, datalog.duplicated(), kCommands, outcome_count.size(), missing, repeated,
      acted_twice);
  EXPECT_EQ(lost, 0u) << bridge.log();
  EXPECT_EQ(datalog.duplicated(), 0u);
  EXPECT_EQ(missing, 0) << bridge.log();
  EXPECT_EQ(repeated, 0);
  EXPECT_EQ(acted_twice, 0);
  EXPECT_EQ(bridge.stop(), 0);
}

}  // namespace
