#pragma once
// Config values that must never be shown: not in a log line, an error message or --check-config
// output. The MQTT password is never in the config (only its file's path); the [kafka] table is
// handed to librdkafka verbatim and may hold credentials.
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace archer {

// True for a librdkafka property whose value is a credential: its name contains "password",
// "secret" or "key" (sasl.password, ssl.key.password, ssl.key.pem, sasl.oauthbearer.client.secret),
// or it is sasl.oauthbearer.config (which carries a principal and its claims). Case-insensitive.
// A few names that hold only paths match too (ssl.key.location): hiding those costs nothing.
bool is_secret_property(std::string_view name);

// `value` as it may be shown: "(hidden)" when `name` is a secret property.
std::string shown_value(std::string_view name, std::string_view value);

// `text` with every occurrence of `secret` replaced by "(hidden)": for a library's message that may
// quote the value it refused. An empty `secret` leaves `text` as it is.
std::string without_secret(std::string text, std::string_view secret);
// The same for the value of every secret property among `properties` (a [kafka] table).
std::string without_secrets(std::string text, const std::vector<std::pair<std::string, std::string>>& properties);

}  // namespace archer
