#pragma once
// TLS to the MQTT broker: the policy every connection follows (MqttSession gives it to Paho) and the
// diagnosis of a connection that failed.
//
// Why a diagnosis of our own: Paho C 1.3 reports every TLS failure as "TCP/TLS connect failure".
// OpenSSL's words reach an ssl_error_cb only for some failures and without the verification
// detail (a failed host name check and a broker's alert after the handshake give nothing at all),
// and Paho C++ 1.2.0's error handler is unsafe to use: async_client::connect() takes its
// connect_options by value and Paho C keeps the address of that temporary as the callback's
// context. So after a failed attempt the session handshakes once more with OpenSSL itself, with the
// same files and checks, and names what went wrong.
//
// Threading: plain functions; diagnose_tls() blocks its caller (the session's connect thread) for at
// most about twice `timeout`.
#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "archer/core/config.h"

namespace archer::transport {

// OpenSSL cipher list of every MQTT TLS connection. Paho C 1.3 ignores its sslVersion option with
// OpenSSL 1.1 and later and offers TLS 1.0 upwards; naming only TLS 1.2 suites (TLS 1.3 suites are
// configured apart and stay on) leaves a broker that speaks TLS 1.1 or older no suite to choose, so
// TLS 1.2 is the minimum. @SECLEVEL=2 undoes Paho's lowering of OpenSSL's security level to 1.
inline constexpr const char* kMqttTlsCiphers = "TLSv1.2+HIGH:!aNULL:!eNULL:!PSK:!SRP:!DSS:@SECLEVEL=2";

// ssl://, mqtts:// and wss:// (TLS underneath).
bool is_tls_uri(std::string_view uri);

struct BrokerAddress {
  std::string host;  // as in the URI, without the brackets of an IPv6 address
  std::string port;  // the URI's, else the scheme's default (8883, 443 for wss://, 1883, 80 for ws://)
};
// The host and port of an MQTT URI ("ssl://broker.example.net:8883", "wss://[::1]/mqtt").
std::optional<BrokerAddress> broker_address(std::string_view uri);

struct TlsDiagnosis {
  enum class Stage {
    unreachable,  // no TCP connection: `cause` is why (e.g. "Connection refused")
    refused,      // TLS failed: `cause` names why, e.g. "certificate verify failed (certificate has expired)"
    passed,       // the handshake and the checks passed: the problem is elsewhere
  };
  Stage stage = Stage::passed;
  std::string cause;
};

// Connects to the broker of `uri` and handshakes as MqttSession's connections do (TLS 1.2 or later,
// kMqttTlsCiphers, the server certificate verified against ca_file or the system's trust store, the
// URI's host checked against it, the client certificate when configured), then waits briefly for an
// alert the broker sends once it has judged our certificate (TLS 1.3 refuses a missing one only
// after the handshake). No MQTT packet is sent.
TlsDiagnosis diagnose_tls(std::string_view uri, const MqttTlsConfig& tls, std::chrono::milliseconds timeout);

// What OpenSSL says of the [mqtt.tls] files, loaded as a connection loads them: a CA file without
// certificates, a certificate or key it cannot read, a key that does not match the certificate, an
// encrypted key (the gateway has no pass phrase to give). `key` is "ca_file", "cert_file" or "key_file".
struct TlsFileProblem {
  std::string key;
  std::string message;
};
std::vector<TlsFileProblem> tls_file_problems(const MqttTlsConfig& tls);

}  // namespace archer::transport
