#include <gtest/gtest.h>

#include "archer/core/secrets.h"

namespace {

TEST(Secrets, PropertiesNamedForACredentialAreSecret) {
  for (const char* name : {"sasl.password", "ssl.key.password", "ssl.key.pem", "ssl.keystore.password",
                           "sasl.oauthbearer.client.secret", "sasl.oauthbearer.config", "SASL.PASSWORD"}) {
    EXPECT_TRUE(archer::is_secret_property(name)) << name;
  }
  for (const char* name : {"bootstrap.servers", "sasl.username", "sasl.mechanisms", "security.protocol", "linger.ms",
                           "ssl.ca.location", "ssl.key.location", "sasl.password_file"}) {
    EXPECT_FALSE(archer::is_secret_property(name)) << name;
  }
}

TEST(Secrets, ShownValueHidesASecretOnly) {
  EXPECT_EQ(archer::shown_value("sasl.password", "hunter2"), "(hidden)");
  EXPECT_EQ(archer::shown_value("linger.ms", "5"), "5");
}

TEST(Secrets, WithoutSecretsRemovesEveryOccurrenceOfASecretValue) {
  const std::vector<std::pair<std::string, std::string>> kafka{{"bootstrap.servers", "k1:9092"},
                                                               {"sasl.username", "gw"},
                                                               {"sasl.password", "hunter2"},
                                                               {"ssl.key.password", ""}};
  EXPECT_EQ(archer::without_secrets("bad 'hunter2' at k1:9092 for gw, hunter2hunter2", kafka),
            "bad '(hidden)' at k1:9092 for gw, (hidden)(hidden)");
  EXPECT_EQ(archer::without_secret("no secret here", ""), "no secret here") << "an empty value hides nothing";
  EXPECT_EQ(archer::without_secret("aaa", "a"), "(hidden)(hidden)(hidden)") << "the replacement is not searched again";
}

}  // namespace
