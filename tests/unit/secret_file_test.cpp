// Secrets come from files only: the reader's refusals, and what the config loader does with
// [mqtt] password_file and the [kafka] "..._file" credentials.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>

#include "archer/core/config.h"
#include "archer/core/log.h"
#include "archer/core/secret_file.h"
#include "archer/core/secrets.h"

namespace {

class SecretFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("archer-secret-test-" + std::to_string(::getpid()) + "-" +
                                                     ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override {
    ::unsetenv("CREDENTIALS_DIRECTORY");
    std::filesystem::remove_all(dir_);
  }

  std::filesystem::path write(const std::string& name, const std::string& text, mode_t mode = 0600) {
    const std::filesystem::path file = dir_ / name;
    std::ofstream(file, std::ios::trunc) << text;
    ::chmod(file.c_str(), mode);
    return file;
  }

  std::optional<std::string> read(const std::filesystem::path& file, bool credential = false) {
    error_.clear();
    return archer::read_secret_file(file, credential, error_);
  }

  archer::ConfigResult parse(const std::string& mqtt, const std::string& kafka) {
    const std::string text =
        "[gateway]\nid = \"gw-01\"\n\n[mqtt]\nuri = \"tcp://127.0.0.1:1883\"\n" + mqtt +
        "\n[kafka]\n\"bootstrap.servers\" = \"127.0.0.1:9092\"\n" + kafka +
        "\n[[actuator]]\nname = \"valves\"\ncommands = \"cmd.valves\"\ntransactions = \"tx.valves\"\n"
        "events = \"evt.valves\"\nrequest = \"devices/{device}/commands\"\n"
        "response = \"devices/{device}/responses\"\n";
    return archer::parse_config(text, dir_ / "gw.toml");
  }

  std::string file() const { return (dir_ / "gw.toml").string(); }

  std::filesystem::path dir_;
  std::string error_;
};

TEST_F(SecretFileTest, TheSecretIsTheFirstLineWithoutItsLineEnd) {
  EXPECT_EQ(read(write("a.pass", "s3cr3t\n")), "s3cr3t");
  EXPECT_EQ(read(write("b.pass", "s3cr3t\r\nsecond line\n")), "s3cr3t");
  EXPECT_EQ(read(write("c.pass", "no line end")), "no line end");
  EXPECT_EQ(read(write("d.pass", " spaces kept \n", 0400)), " spaces kept ");
}

TEST_F(SecretFileTest, AFileOthersMayReadIsRefusedWithTheReason) {
  const auto file = write("open.pass", "s3cr3t\n", 0644);
  EXPECT_FALSE(read(file));
  EXPECT_EQ(error_, "'" + file.string() + "' is readable by group or others (mode 0644); chmod 600 it");
  EXPECT_FALSE(read(write("group.pass", "s3cr3t\n", 0640)));
  EXPECT_NE(error_.find("(mode 0640)"), std::string::npos) << error_;
  EXPECT_EQ(error_.find("s3cr3t"), std::string::npos) << "the refusal never quotes the content";
}

TEST_F(SecretFileTest, EmptyAndMissingFilesAreRefused) {
  const auto empty = write("empty.pass", "\nsecond\n");
  EXPECT_FALSE(read(empty));
  EXPECT_EQ(error_, "'" + empty.string() + "' is empty: the secret is its first line");
  EXPECT_FALSE(read(dir_ / "none.pass"));
  EXPECT_EQ(error_, "'" + (dir_ / "none.pass").string() + "' cannot be read: No such file or directory");
  EXPECT_FALSE(read(dir_));
  EXPECT_EQ(error_, "'" + dir_.string() + "' is not a regular file");
}

TEST_F(SecretFileTest, ASystemdCredentialIsReadFromTheCredentialsDirectoryAsSystemdHandsItOver) {
  std::string error;
  EXPECT_FALSE(archer::secret_file_path("credential:kafka.pass", dir_, error));
  EXPECT_EQ(error,
            "'credential:kafka.pass' needs $CREDENTIALS_DIRECTORY, which systemd sets for a unit with "
            "LoadCredential=kafka.pass:/path/to/file");
  ::setenv("CREDENTIALS_DIRECTORY", dir_.c_str(), 1);
  EXPECT_EQ(archer::secret_file_path("credential:kafka.pass", "/elsewhere", error), dir_ / "kafka.pass");
  EXPECT_FALSE(archer::secret_file_path("credential:../kafka.pass", "/elsewhere", error));
  EXPECT_EQ(archer::secret_file_path("kafka.pass", "/etc/archer", error), "/etc/archer/kafka.pass")
      << "a plain path is relative to the config's folder";
  // systemd makes credentials 0400, or 0440 when an ACL grants the service's user read access.
  EXPECT_EQ(read(write("kafka.pass", "s3cr3t\n", 0440), true), "s3cr3t");
  EXPECT_FALSE(read(write("other.pass", "s3cr3t\n", 0444), true));
  EXPECT_NE(error_.find("is readable by others (mode 0444); chmod 400 it"), std::string::npos) << error_;
}

TEST_F(SecretFileTest, SecretPropertiesAreExactlyTheCredentials) {
  for (const char* name : {"sasl.password", "ssl.key.password", "ssl.keystore.password", "ssl.key.pem",
                           "sasl.oauthbearer.client.secret", "sasl.oauthbearer.config", "SASL.PASSWORD"}) {
    EXPECT_TRUE(archer::is_secret_property(name)) << name;
  }
  for (const char* name : {"ssl.key.location", "ssl.keystore.location", "ssl.certificate.pem", "ssl.ca.location",
                           "sasl.password_file", "sasl.username", "ssl.endpoint.identification.algorithm"}) {
    EXPECT_FALSE(archer::is_secret_property(name)) << name;
  }
}

TEST_F(SecretFileTest, KafkaCredentialsComeFromTheirFilesAsTheStemProperty) {
  write("kafka.pass", "s3cr3t-kafka\n");
  write("key.pass", "k3y-pass\n");
  auto result = parse("",
                      "\"sasl.username\" = \"gw\"\n\"sasl.password_file\" = \"kafka.pass\"\n"
                      "\"ssl.key.location\" = \"/etc/archer/gw.key\"\n\"ssl.key.password_file\" = \"key.pass\"\n");
  ASSERT_TRUE(result.config) << result.errors.front();
  const std::vector<std::pair<std::string, std::string>> expected{{"bootstrap.servers", "127.0.0.1:9092"},
                                                                  {"sasl.username", "gw"},
                                                                  {"sasl.password", "s3cr3t-kafka"},
                                                                  {"ssl.key.location", "/etc/archer/gw.key"},
                                                                  {"ssl.key.password", "k3y-pass"}};
  EXPECT_EQ(result.config->kafka.properties, expected);
  EXPECT_EQ(result.config->error_at(archer::kafka_key("sasl.password"), "refused"),
            file() + ":10:24: kafka.\"sasl.password\": refused")
      << "a problem of the property points at the line of its file";
}

TEST_F(SecretFileTest, AnInlineCredentialIsAnErrorWithAHint) {
  auto result = parse("", "\"sasl.password\" = \"hunter2\"\n\"ssl.key.pem\" = \"-----BEGIN PRIVATE KEY-----\"\n");
  ASSERT_FALSE(result.config);
  ASSERT_EQ(result.errors.size(), 2u);
  EXPECT_EQ(result.errors[0], file() +
                                  ":9:19: kafka.\"sasl.password\": a credential is never written in the config: use "
                                  "\"sasl.password_file\" = \"/path\" (a file of mode 0600 holding it)");
  EXPECT_NE(result.errors[1].find("use \"ssl.key.pem_file\" = \"/path\""), std::string::npos) << result.errors[1];
  for (const auto& error : result.errors) EXPECT_EQ(error.find("hunter2"), std::string::npos) << error;
}

TEST_F(SecretFileTest, AnUnsafeOrMissingSecretFileIsAConfigErrorAtItsKey) {
  const auto open = write("open.pass", "s3cr3t\n", 0644);
  auto result = parse("password_file = \"open.pass\"\n", "\"sasl.password_file\" = \"missing.pass\"\n");
  ASSERT_FALSE(result.config);
  ASSERT_EQ(result.errors.size(), 2u);
  EXPECT_EQ(result.errors[0], file() + ":6:17: mqtt.password_file: '" + open.string() +
                                  "' is readable by group or others (mode 0644); chmod 600 it");
  EXPECT_EQ(result.errors[1], file() + ":10:24: kafka.\"sasl.password_file\": '" + (dir_ / "missing.pass").string() +
                                  "' cannot be read: No such file or directory");
}

TEST_F(SecretFileTest, TheMqttPasswordIsReadWithTheConfig) {
  write("mqtt.pass", "s3cr3t-mqtt\n");
  auto result = parse("username = \"gw\"\npassword_file = \"mqtt.pass\"\n", "");
  ASSERT_TRUE(result.config) << result.errors.front();
  EXPECT_EQ(result.config->mqtt.password, "s3cr3t-mqtt");
  EXPECT_EQ(result.config->mqtt.password_file, dir_ / "mqtt.pass");
}

TEST_F(SecretFileTest, ASecretReadIsNeverInALogLine) {
  write("mqtt.pass", "s3cr3t-logged\n");
  ASSERT_TRUE(parse("password_file = \"mqtt.pass\"\n", "").config);
  EXPECT_EQ(archer::without_remembered_secrets("librdkafka said: bad s3cr3t-logged!"),
            "librdkafka said: bad (hidden)!");
  const std::string line = archer::log::format_line(archer::log::Format::text, "", archer::log::Level::warn, "kafka",
                                                    archer::without_remembered_secrets("x s3cr3t-logged"));
  EXPECT_EQ(line.find("s3cr3t-logged"), std::string::npos) << line;
}

}  // namespace
