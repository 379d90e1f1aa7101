// archer-ctl topics against a real Apache Kafka node (shared by this program's tests, each with its
// own topic names) and against archer-devkafka, which cannot answer it. Exact output is checked.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "archer/testing/testing.h"
#include "archer/transport/kafka_admin.h"

namespace {

using namespace std::chrono_literals;
using namespace archer::testing;

struct CtlRun {
  int status = -1;
  std::string out;
  std::string err;
};

class Topics : public ::testing::Test {
 protected:
  // A gateway config with one [[ingest]] and one [[actuator]] section, topics named after `prefix`.
  std::filesystem::path write_config(const std::string& bootstrap, const std::string& prefix,
                                     const std::string& ingest_extra = "") {
    const auto file = dir_ / (prefix + ".toml");
    std::ofstream(file) << "[gateway]\nid = \"" << prefix << "\"\n\n"
                        << "[mqtt]\nuri = \"tcp://127.0.0.1:1883\"\n\n"
                        << "[kafka]\n\"bootstrap.servers\" = \"" << bootstrap << "\"\n\n"
                        << "[[ingest]]\nname = \"telemetry\"\nmqtt = \"devices/{device}/telemetry\"\n"
                        << "schema = \""
                        << (std::filesystem::path(ARCHER_BIN_DIR).parent_path() / "schemas/telemetry.bfbs").string()
                        << "\"\ntopic = \"raw." << prefix << "\"\ndead_letter = \"dlq." << prefix << "\"\n"
                        << ingest_extra << "\n"
                        << "[[actuator]]\nname = \"valves\"\ncommands = \"cmd." << prefix << "\"\ntransactions = \"tx."
                        << prefix << "\"\nevents = \"evt." << prefix << "\"\ndead_letter = \"dlq.valves." << prefix
                        << "\"\n";
    return file;
  }

  CtlRun ctl(std::vector<std::string> args) {
    args.insert(args.begin(), {std::string(ARCHER_BIN_DIR) + "/archer-ctl", "topics"});
    const auto err_file = dir_ / "ctl.err";
    std::filesystem::remove(err_file);
    Process process(args, ProcessOptions{}.with_stderr_file(err_file));
    CtlRun run;
    run.out = process.read_all(60s);
    run.status = process.wait_exit(10s).value_or(-1);
    run.err = read_file(err_file);
    return run;
  }

  TempDir dir_{"archer-topics-test"};
};

#define SKIP_WITHOUT_APACHE()                                \
  do {                                                       \
    std::string why_;                                        \
    if (!ApacheKafka::available(why_)) GTEST_SKIP() << why_; \
  } while (false)

TEST_F(Topics, CreateOnAnEmptyClusterThenEveryTopicIsOk) {
  SKIP_WITHOUT_APACHE();
  KafkaCluster& kafka = shared_kafka(KafkaKind::apache);
  const auto config =
      write_config(kafka.bootstrap(), "gwa", "retention = \"forever\"\ndead_letter_retention = \"72h\"\n");

  const CtlRun before = ctl({"--config", config.string()});
  EXPECT_EQ(before.out,
            "raw-datalog      raw.gwa         missing\n"
            "dead-letters     dlq.gwa         missing\n"
            "command-log      cmd.gwa         missing\n"
            "transaction-log  tx.gwa          missing\n"
            "event-log        evt.gwa         missing\n"
            "replay-log       evt.gwa.replay  missing\n"
            "dead-letters     dlq.valves.gwa  missing\n"
            "snapshot         snapshot.gwa    missing\n");
  EXPECT_EQ(before.status, 1) << before.err;

  const CtlRun created = ctl({"--config", config.string(), "--create"});
  EXPECT_EQ(created.out,
            "raw-datalog      raw.gwa         created\n"
            "dead-letters     dlq.gwa         created\n"
            "command-log      cmd.gwa         created\n"
            "transaction-log  tx.gwa          created\n"
            "event-log        evt.gwa         created\n"
            "replay-log       evt.gwa.replay  created\n"
            "dead-letters     dlq.valves.gwa  created\n"
            "snapshot         snapshot.gwa    created\n");
  EXPECT_EQ(created.status, 0) << created.err;

  const CtlRun after = ctl({"--config", config.string()});
  EXPECT_EQ(after.out,
            "raw-datalog      raw.gwa         ok\n"
            "dead-letters     dlq.gwa         ok\n"
            "command-log      cmd.gwa         ok\n"
            "transaction-log  tx.gwa          ok\n"
            "event-log        evt.gwa         ok\n"
            "replay-log       evt.gwa.replay  ok\n"
            "dead-letters     dlq.valves.gwa  ok\n"
            "snapshot         snapshot.gwa    ok\n");
  EXPECT_EQ(after.status, 0) << after.err;

  // What --create made: 6 partitions (1 for the snapshot), replication 1 on a one-broker cluster.
  std::string error;
  auto admin =
      archer::transport::KafkaAdmin::create(archer::KafkaConfig{{{"bootstrap.servers", kafka.bootstrap()}}}, error);
  ASSERT_NE(admin, nullptr) << error;
  archer::transport::ClusterMetadata metadata;
  ASSERT_EQ(admin->metadata({"raw.gwa", "snapshot.gwa"}, metadata, 10s), "");
  EXPECT_EQ(metadata.topics["raw.gwa"].partitions.size(), 6u);
  EXPECT_EQ(metadata.topics["snapshot.gwa"].partitions.size(), 1u);
  EXPECT_EQ(metadata.topics["raw.gwa"].replication(), 1);
}

TEST_F(Topics, ATopicWithAShortRetentionIsReportedWrong) {
  SKIP_WITHOUT_APACHE();
  KafkaCluster& kafka = shared_kafka(KafkaKind::apache);
  kafka.create_topic("raw.gwb", 3, 1, {{"retention.ms", "60000"}});
  kafka.create_topic("snapshot.gwb", 1, 1);  // not compacted
  const auto config = write_config(kafka.bootstrap(), "gwb");

  const CtlRun created = ctl({"--config", config.string(), "--create", "--partitions", "2", "--replication", "1"});
  EXPECT_EQ(created.out,
            "raw-datalog      raw.gwb         wrong: retention.ms is 60000, expected -1 (kept forever)\n"
            "dead-letters     dlq.gwb         created\n"
            "command-log      cmd.gwb         created\n"
            "transaction-log  tx.gwb          created\n"
            "event-log        evt.gwb         created\n"
            "replay-log       evt.gwb.replay  created\n"
            "dead-letters     dlq.valves.gwb  created\n"
            "snapshot         snapshot.gwb    wrong: cleanup.policy is delete, expected compact (compacted)\n");
  EXPECT_EQ(created.status, 1) << created.err;

  const CtlRun checked = ctl({"--config", config.string()});
  EXPECT_EQ(checked.out.substr(0, checked.out.find('\n')),
            "raw-datalog      raw.gwb         wrong: retention.ms is 60000, expected -1 (kept forever)");
  EXPECT_EQ(checked.status, 1);
}

TEST_F(Topics, AConfiguredRetentionIsWhatIsChecked) {
  SKIP_WITHOUT_APACHE();
  KafkaCluster& kafka = shared_kafka(KafkaKind::apache);
  kafka.create_topic("raw.gwc", 1, 1, {{"retention.ms", "-1"}});
  const auto config = write_config(kafka.bootstrap(), "gwc", "retention = \"1h\"\n");
  const CtlRun run = ctl({"--config", config.string()});
  EXPECT_EQ(run.out.substr(0, run.out.find('\n')),
            "raw-datalog      raw.gwc         wrong: retention.ms is -1, expected 3600000 (kept 1h)");
  EXPECT_EQ(run.status, 1);
}

TEST_F(Topics, DevKafkaSaysInOneLineThatItCannotAnswer) {
  KafkaCluster& kafka = shared_kafka(KafkaKind::devkafka);
  const auto config = write_config(kafka.bootstrap(), "gwd");
  const CtlRun run = ctl({"--config", config.string(), "--create"});
  EXPECT_EQ(run.out, "");
  EXPECT_EQ(run.err, "archer-ctl topics: the cluster at " + kafka.bootstrap() +
                         " names no controller among its brokers, so it answers no CreateTopics or DescribeConfigs: "
                         "archer-devkafka (librdkafka's mock cluster) is such a cluster; topics can be neither "
                         "checked nor created there\n");
  EXPECT_EQ(run.status, 1);
}

TEST_F(Topics, FlagErrorsExit2) {
  const auto config = write_config("127.0.0.1:1", "gwe");
  const CtlRun zero = ctl({"--config", config.string(), "--partitions", "0"});
  EXPECT_EQ(zero.err, "archer-ctl topics: --partitions takes a whole number from 1 to 10000, not '0'\n");
  EXPECT_EQ(zero.status, 2);
  const CtlRun positional = ctl({"--config", config.string(), "extra"});
  EXPECT_EQ(positional.err, "archer-ctl topics: unexpected argument 'extra'\n");
  EXPECT_EQ(positional.status, 2);
}

}  // namespace
