#pragma once
// Config values that must never be shown: not in a log line, an error message, --check-config
// output, /metrics, the status page or archer-ctl output. Secrets are never in the config file
// itself: the MQTT password and every [kafka] credential are read from files
// (archer/core/secret_file.h), and an inline credential is a config error.
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace archer {

// True for a librdkafka property whose value is a credential, which must come from a file: its name
// contains "password" or "secret" (sasl.password, ssl.key.password, ssl.keystore.password,
// sasl.oauthbearer.client.secret), or it is ssl.key.pem (a private key) or sasl.oauthbearer.config
// (a principal and its claims). Case-insensitive. Paths are not credentials: ssl.key.location,
// ssl.keystore.location and ssl.certificate.pem are not secret; neither is a `..._file` key.
bool is_secret_property(std::string_view name);

// `value` as it may be shown: "(hidden)" when `name` is a secret property.
std::string shown_value(std::string_view name, std::string_view value);

// `text` with every occurrence of `secret` replaced by "(hidden)": for a library's message that may
// quote the value it refused. An empty `secret` leaves `text` as it is.
std::string without_secret(std::string text, std::string_view secret);
// The same for the value of every secret property among `properties` (a [kafka] table).
std::string without_secrets(std::string text, const std::vector<std::pair<std::string, std::string>>& properties);

// Secrets this process has read (archer/core/secret_file.h remembers each one): every log line is
// written without them (archer/core/log.h), whatever library message or error quotes one.
// Thread-safe; the list only grows (a reload reads secrets again; old ones stay hidden).
void remember_secret(std::string secret);
std::string without_remembered_secrets(std::string text);

}  // namespace archer
