// The status page (GET /) as an operator's browser shows it: a real Mosquitto, archer-devkafka and
// archer-bridge with an ingest and an actuator section, good and bad readings and one command, then
// Debian's chromium in headless mode renders the page (its scripts reading /status.json several
// times in virtual time) and the test reads the rendered DOM. A screenshot is kept in
// <build>/artifacts/status-page.png.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <regex>

#include <fmt/format.h>

#include "archer/testing/bridge.h"
#include "archer/testing/command_writer.h"
#include "archer/testing/http.h"
#include "archer/testing/mqtt_client.h"
#include "archer/testing/telemetry_section.h"
#include "archer/testing/test_devices.h"
#include "archer/testing/testing.h"
#include "archer/testing/valves_section.h"

namespace {

using namespace std::chrono_literals;
using namespace archer::testing;

constexpr int kGood = 40;
constexpr int kBadJson = 3;

// The value of one series in Prometheus text (`name{labels}` exactly as exposed), or -1.
double scraped(std::uint16_t port, const std::string& series) {
  const auto reply = http_get(port, "/metrics");
  if (!reply || reply->status != 200) return -1;
  const std::string& text = reply->body;
  for (std::size_t at = text.find(series + ' '); at != std::string::npos; at = text.find(series + ' ', at + 1)) {
    if (at == 0 || text[at - 1] == '\n') return std::strtod(text.c_str() + at + series.size() + 1, nullptr);
  }
  return -1;
}

// chromium from PATH, or "" (scripts/setup.sh installs it).
std::string find_chromium() {
  const char* path = std::getenv("PATH");
  std::string rest = path != nullptr ? path : "";
  while (!rest.empty()) {
    const std::size_t colon = rest.find(':');
    const std::filesystem::path candidate = std::filesystem::path(rest.substr(0, colon)) / "chromium";
    if (::access(candidate.c_str(), X_OK) == 0) return candidate.string();
    rest = colon == std::string::npos ? "" : rest.substr(colon + 1);
  }
  return "";
}

struct Chromium {
  int status = -1;
  std::string out;  // stdout: the DOM for --dump-dom
  std::string log;  // stderr, with the page's console messages
};

// One headless run over `url` with `args`, its profile and HOME in `dir`. The virtual time budget
// lets the page's 2 s refresh timer fire several times without the test waiting for it in real
// time; chromium only lets virtual time run while no request is pending, so every fetch completes.
Chromium run_chromium(const std::string& chromium, const TempDir& dir, const std::string& url,
                      std::vector<std::string> args) {
  std::vector<std::string> argv{chromium,
                                "--headless",
                                "--disable-gpu",
                                "--no-sandbox",  // the tests may run as root
                                "--no-first-run",
                                "--user-data-dir=" + (dir / "profile").string(),
                                "--enable-logging=stderr",
                                "--virtual-time-budget=7000"};
  argv.insert(argv.end(), args.begin(), args.end());
  argv.push_back(url);
  const std::filesystem::path log = dir / fmt::format("chromium-{}.log", args.front().substr(2, 6));
  Process process(argv, ProcessOptions{}.with_stderr_file(log).with_env("HOME=" + dir.path().string()));
  Chromium out;
  out.out = process.read_all(30s);
  out.status = process.wait_exit(30s).value_or(-1);
  out.log = read_file(log);
  return out;
}

// The text of the element with `id` when it holds text only ("" when absent).
std::string text_of(const std::string& dom, const std::string& id) {
  std::smatch match;
  if (!std::regex_search(dom, match, std::regex("id=\"" + id + "\"[^>]*>([^<]*)<"))) return "";
  return match[1];
}

class StatusPage : public ::testing::Test {
 protected:
  Mosquitto mqtt_;
  DevKafka kafka_{DevKafkaOptions()
                      .with_topic("raw.telemetry:3")
                      .with_topic("dlq.telemetry:1")
                      .with_topic("cmd.valves:2")
                      .with_topic("tx.valves:2")
                      .with_topic("evt.valves:2")
                      .with_topic("dlq.valves:1")};
};

TEST_F(StatusPage, ChromiumRendersTheSectionsTheirLiveFiguresAndTheDeadLetterReasons) {
  const std::string chromium = find_chromium();
  if (chromium.empty()) {
    if (std::getenv("CI") != nullptr) FAIL() << "chromium is not on PATH (scripts/setup.sh installs it)";
    GTEST_SKIP() << "chromium is not on PATH (scripts/setup.sh installs it)";
  }
  Bridge bridge(mqtt_.uri(), kafka_.bootstrap(), telemetry_section() + "\n" + valves_section(), "archer-status-gw", "",
                "gw-status");
  bridge.start();
  const std::uint16_t port = bridge.http_port();

  TestDevices devices(mqtt_.uri());
  CommandWriter commands(kafka_.bootstrap());
  commands.write("valve-0001", "open", {{"percent", "40"}});
  commands.flush();
  MqttClient publisher(mqtt_.uri(), "status-page-publisher");
  for (int seq = 0; seq < kGood; ++seq) {
    publisher.publish(fmt::format("devices/env-{}/telemetry", seq % 4),
                      json_reading(fmt::format("env-{}", seq % 4), seq));
  }
  for (int i = 0; i < kBadJson; ++i) publisher.publish("devices/env-9/telemetry", R"({"device": "env-9", "seq": })");
  publisher.wait_all();

  const auto all_in = [&] {
    return scraped(port, R"(archer_ingest_delivered_total{section="telemetry"})") == kGood &&
           scraped(port, R"(archer_ingest_dead_letters_delivered_total{section="telemetry"})") == kBadJson &&
           scraped(port, R"(archer_actuator_outcomes_total{section="valves",status="SUCCEEDED"})") == 1;
  };
  ASSERT_TRUE(wait_until(all_in, 20s, 50ms)) << http_get(port, "/metrics").value_or(HttpReply{}).body << bridge.log();

  // The JSON endpoint the page reads, and the page itself, as plain HTTP.
  const auto json = http_get(port, "/status.json");
  ASSERT_TRUE(json && json->status == 200);
  EXPECT_NE(json->body.find(R"("gateway":"gw-status")"), std::string::npos) << json->body;
  EXPECT_NE(json->body.find(R"("ready":true,"reasons":[])"), std::string::npos) << json->body;
  EXPECT_NE(json->body.find(R"({"name":"archer_ingest_delivered_total","type":"counter")"), std::string::npos);
  const auto page = http_get(port, "/");
  ASSERT_TRUE(page && page->status == 200);
  EXPECT_NE(page->body.find("<title>Archer Edge status</title>"), std::string::npos);
  EXPECT_NE(page->headers.find("Content-Type: text/html; charset=utf-8\r\n"), std::string::npos) << page->headers;
  EXPECT_NE(json->headers.find("Content-Type: application/json\r\n"), std::string::npos) << json->headers;
  const auto head = http_request(port, "HEAD", "/");
  ASSERT_TRUE(head);
  EXPECT_EQ(head->status, 200);
  EXPECT_EQ(head->body, "");
  EXPECT_NE(head->headers.find(fmt::format("Content-Length: {}\r\n", page->body.size())), std::string::npos)
      << head->headers;
  const auto post = http_request(port, "POST", "/status.json");
  ASSERT_TRUE(post);
  EXPECT_EQ(post->status, 405);
  EXPECT_NE(post->headers.find("Allow: GET, HEAD\r\n"), std::string::npos) << post->headers;
  const auto missing = http_get(port, "/nothing");
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 404);
  EXPECT_EQ(missing->body, "not found; endpoints: / (status page), /status.json, /metrics, /healthz, /readyz\n");

  TempDir dir("archer-chromium");
  const std::string url = fmt::format("http://127.0.0.1:{}/", port);
  const Chromium rendered = run_chromium(chromium, dir, url, {"--dump-dom"});
  ASSERT_EQ(rendered.status, 0) << rendered.log;
  const std::string& dom = rendered.out;
  SCOPED_TRACE(dom);

  // Read several times: the refresh timer runs and each read renders without error.
  std::smatch renders;
  ASSERT_TRUE(std::regex_search(dom, renders, std::regex(R"re(data-renders="(\d+)")re")));
  EXPECT_GE(std::stoi(renders[1]), 3);
  EXPECT_TRUE(std::regex_search(dom, std::regex(R"(<div id="page-errors"[^>]*></div>)"))) << "a script error";
  EXPECT_TRUE(std::regex_search(dom, std::regex(R"(<div id="banner"[^>]*></div>)"))) << "a failed read";
  EXPECT_EQ(rendered.log.find("Uncaught"), std::string::npos) << rendered.log;
  EXPECT_FALSE(std::regex_search(dom, std::regex(">(null|undefined|NaN)[^<]*<"))) << "a figure that did not resolve";

  EXPECT_EQ(text_of(dom, "gateway"), "gw-status");
  EXPECT_EQ(text_of(dom, "ready"), "ready");
  // The ingest section, with what the test sent and what Kafka took.
  EXPECT_NE(dom.find("<h3>telemetry</h3>"), std::string::npos);
  EXPECT_EQ(text_of(dom, "ingest-telemetry-received-total"), std::to_string(kGood + kBadJson));
  EXPECT_EQ(text_of(dom, "ingest-telemetry-accepted-total"), std::to_string(kGood));
  EXPECT_EQ(text_of(dom, "ingest-telemetry-delivered-total"), std::to_string(kGood));
  EXPECT_EQ(text_of(dom, "ingest-telemetry-dead-letters-total"), std::to_string(kBadJson));
  EXPECT_EQ(text_of(dom, "ingest-telemetry-delivered-rate"), "0.0/s");  // all of it delivered before the page opened
  EXPECT_EQ(text_of(dom, "ingest-telemetry-rejects"), fmt::format("bad_json {}", kBadJson));
  EXPECT_NE(dom.find(R"(id="ingest-telemetry-chart")"), std::string::npos);
  EXPECT_NE(dom.find("<polyline"), std::string::npos);
  // The actuator, with its one command and outcome.
  EXPECT_NE(dom.find("<h3>valves</h3>"), std::string::npos);
  EXPECT_EQ(text_of(dom, "actuator-valves-commands-total"), "1");
  EXPECT_EQ(text_of(dom, "actuator-valves-outcomes").rfind("SUCCEEDED 1", 0), 0u)
      << text_of(dom, "actuator-valves-outcomes");
  // The spool, drained.
  EXPECT_EQ(text_of(dom, "spool-records"), "0");
  // The dead letters this test caused, by reason.
  EXPECT_EQ(text_of(dom, "dead-letter-reasons"), fmt::format("bad_json {} (telemetry)", kBadJson));
  // Every recent dead letter status.json lists is in the page's table.
  const std::string recent = json->body.substr(json->body.find(R"("dead_letters":)"));
  for (std::size_t at = recent.find(R"("reason":")"); at != std::string::npos;
       at = recent.find(R"("reason":")", at + 1)) {
    const std::size_t start = at + 10;
    const std::string reason = recent.substr(start, recent.find('"', start) - start);
    EXPECT_NE(dom.find(R"(<td class="fixed reason">)" + reason + "</td>"), std::string::npos) << reason;
  }

  const std::filesystem::path artifacts = std::filesystem::path(ARCHER_BIN_DIR).parent_path() / "artifacts";
  std::filesystem::create_directories(artifacts);
  const std::filesystem::path screenshot = artifacts / "status-page.png";
  std::filesystem::remove(screenshot);
  const Chromium shot =
      run_chromium(chromium, dir, url, {"--screenshot=" + screenshot.string(), "--window-size=1280,1000"});
  ASSERT_EQ(shot.status, 0) << shot.log;
  ASSERT_TRUE(std::filesystem::exists(screenshot)) << shot.log;
  EXPECT_GT(std::filesystem::file_size(screenshot), 10'000u);
  std::printf("status page screenshot: %s\n", screenshot.c_str());
}

}  // namespace
