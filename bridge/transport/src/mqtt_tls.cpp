#include "archer/transport/mqtt_tls.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>
#include <memory>

#include <fmt/format.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

namespace archer::transport {
namespace {

struct ContextFree {
  void operator()(SSL_CTX* context) const noexcept { SSL_CTX_free(context); }
};
struct SslFree {
  void operator()(SSL* ssl) const noexcept { SSL_free(ssl); }
};
struct CertificateFree {
  void operator()(X509* cert) const noexcept { X509_free(cert); }
};
struct NamesFree {
  void operator()(GENERAL_NAMES* names) const noexcept { GENERAL_NAMES_free(names); }
};
using ContextPtr = std::unique_ptr<SSL_CTX, ContextFree>;
using SslPtr = std::unique_ptr<SSL, SslFree>;
using CertificatePtr = std::unique_ptr<X509, CertificateFree>;
using NamesPtr = std::unique_ptr<GENERAL_NAMES, NamesFree>;

class Socket {
 public:
  Socket() = default;
  explicit Socket(int fd) : fd_(fd) {}
  ~Socket() {
    if (fd_ >= 0) ::close(fd_);
  }
  Socket(Socket&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  Socket& operator=(Socket&& other) noexcept {
    std::swap(fd_, other.fd_);
    return *this;
  }
  int fd() const { return fd_; }
  explicit operator bool() const { return fd_ >= 0; }

 private:
  int fd_ = -1;
};

bool starts_with(std::string_view text, std::string_view prefix) { return text.substr(0, prefix.size()) == prefix; }

// The first error OpenSSL queued on this thread (the cause; later ones are consequences), and the
// queue emptied.
std::string openssl_reason() {
  std::string reason;
  while (const unsigned long code = ERR_get_error()) {
    if (!reason.empty()) continue;
    const char* text = ERR_reason_error_string(code);
    reason = text != nullptr ? text : fmt::format("OpenSSL error {:08x}", code);
  }
  return reason;
}

// The gateway never prompts for a pass phrase (OpenSSL's default reads the terminal).
int no_pass_phrase(char* /*buffer*/, int /*size*/, int /*rwflag*/, void* /*user*/) { return 0; }

bool encrypted_pem(const std::filesystem::path& file) {
  std::ifstream in(file);
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return text.find("-----BEGIN ENCRYPTED PRIVATE KEY-----") != std::string::npos ||
         text.find("Proc-Type: 4,ENCRYPTED") != std::string::npos;
}

// A context with the policy and files of every MQTT TLS connection; problems are collected.
ContextPtr make_context(const MqttTlsConfig& tls, std::vector<TlsFileProblem>& problems) {
  ERR_clear_error();
  ContextPtr context(SSL_CTX_new(TLS_client_method()));
  if (!context) {
    problems.push_back({"", "OpenSSL cannot make a TLS context: " + openssl_reason()});
    return context;
  }
  SSL_CTX_set_min_proto_version(context.get(), TLS1_2_VERSION);
  SSL_CTX_set_cipher_list(context.get(), kMqttTlsCiphers);
  SSL_CTX_set_default_passwd_cb(context.get(), no_pass_phrase);
  SSL_CTX_set_verify(context.get(), SSL_VERIFY_PEER, nullptr);
  if (!tls.ca_file.empty()) {
    if (SSL_CTX_load_verify_locations(context.get(), tls.ca_file.c_str(), nullptr) != 1) {
      problems.push_back({"ca_file", fmt::format("OpenSSL cannot load CA certificates from '{}': {}",
                                                 tls.ca_file.string(), openssl_reason())});
    }
  } else if (SSL_CTX_set_default_verify_paths(context.get()) != 1) {
    problems.push_back({"ca_file", "OpenSSL cannot load the system's trust store: " + openssl_reason()});
  }
  if (!tls.cert_file.empty() && SSL_CTX_use_certificate_chain_file(context.get(), tls.cert_file.c_str()) != 1) {
    problems.push_back({"cert_file", fmt::format("OpenSSL cannot load a certificate from '{}': {}",
                                                 tls.cert_file.string(), openssl_reason())});
    return context;
  }
  if (tls.key_file.empty()) return context;
  if (encrypted_pem(tls.key_file)) {
    problems.push_back(
        {"key_file", fmt::format("'{}' is encrypted, and the gateway has no pass phrase to give: store the key "
                                 "decrypted (openssl pkey -in KEY -out PLAIN), readable by the gateway alone",
                                 tls.key_file.string())});
  } else if (SSL_CTX_use_PrivateKey_file(context.get(), tls.key_file.c_str(), SSL_FILETYPE_PEM) != 1 ||
             (!tls.cert_file.empty() && SSL_CTX_check_private_key(context.get()) != 1)) {
    // Loading the key checks it against the certificate already loaded.
    const std::string reason = openssl_reason();
    if (reason == "key values mismatch" || reason.empty()) {
      problems.push_back({"key_file", fmt::format("the key in '{}' does not belong to the certificate in '{}'",
                                                  tls.key_file.string(), tls.cert_file.string())});
    } else {
      problems.push_back(
          {"key_file", fmt::format("OpenSSL cannot load a private key from '{}': {}", tls.key_file.string(), reason)});
    }
  }
  ERR_clear_error();
  return context;
}

// A TCP connection to the first address that takes one; `error` says why none did.
Socket connect_tcp(const BrokerAddress& address, std::chrono::milliseconds timeout, std::string& error) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (const int rc = getaddrinfo(address.host.c_str(), address.port.c_str(), &hints, &found); rc != 0) {
    error = fmt::format("cannot resolve '{}': {}", address.host, gai_strerror(rc));
    return {};
  }
  std::unique_ptr<addrinfo, decltype(&freeaddrinfo)> addresses(found, freeaddrinfo);
  timeval limit{};
  limit.tv_sec = static_cast<time_t>(timeout.count() / 1000);
  limit.tv_usec = static_cast<suseconds_t>((timeout.count() % 1000) * 1000);
  for (const addrinfo* one = found; one != nullptr; one = one->ai_next) {
    Socket socket(::socket(one->ai_family, one->ai_socktype | SOCK_CLOEXEC, one->ai_protocol));
    if (!socket) continue;
    // Timeouts bound connect() and every read and write of the handshake.
    setsockopt(socket.fd(), SOL_SOCKET, SO_SNDTIMEO, &limit, sizeof limit);
    setsockopt(socket.fd(), SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit);
    if (::connect(socket.fd(), one->ai_addr, one->ai_addrlen) == 0) return socket;
    error = errno == EINPROGRESS ? "timed out" : std::strerror(errno);
  }
  if (error.empty()) error = "no address to connect to";
  return {};
}

std::string ip_text(const ASN1_OCTET_STRING* ip) {
  char text[INET6_ADDRSTRLEN] = {};
  const int family = ip->length == 4 ? AF_INET : ip->length == 16 ? AF_INET6 : -1;
  if (family < 0 || inet_ntop(family, ip->data, text, sizeof text) == nullptr) return "?";
  return text;
}

// "DNS:other.example, IP:10.0.0.7", or the subject's common name when there are no such names.
std::string certificate_names(X509* cert) {
  std::string out;
  NamesPtr names(static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr)));
  for (int i = 0; names && i < sk_GENERAL_NAME_num(names.get()); ++i) {
    const GENERAL_NAME* name = sk_GENERAL_NAME_value(names.get(), i);
    std::string one;
    if (name->type == GEN_DNS) {
      const ASN1_IA5STRING* dns = name->d.dNSName;
      one = "DNS:" + std::string(reinterpret_cast<const char*>(dns->data), static_cast<std::size_t>(dns->length));
    } else if (name->type == GEN_IPADD) {
      one = "IP:" + ip_text(name->d.iPAddress);
    }
    if (!one.empty()) out += (out.empty() ? "" : ", ") + one;
  }
  if (!out.empty()) return out;
  char common_name[256] = {};
  if (X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, common_name, sizeof common_name) > 0) {
    return fmt::format("CN={} (no subjectAltName)", common_name);
  }
  return "no name at all";
}

bool is_ip_address(const std::string& host) {
  unsigned char buffer[16];
  return inet_pton(AF_INET, host.c_str(), buffer) == 1 || inet_pton(AF_INET6, host.c_str(), buffer) == 1;
}

// Paho C's post-handshake check (SSLSocket_connect with `verify`): the URI's host as a DNS name, then
// as an IP address.
bool certificate_matches(X509* cert, const std::string& host) {
  return X509_check_host(cert, host.c_str(), host.size(), 0, nullptr) == 1 ||
         X509_check_ip_asc(cert, host.c_str(), 0) == 1;
}

// OpenSSL's words, with what they usually mean for a gateway when that is not obvious.
std::string explained(std::string reason, const MqttTlsConfig& tls) {
  const auto says = [&](std::string_view words) { return reason.find(words) != std::string::npos; };
  if (says("certificate required")) {
    reason += tls.cert_file.empty()
                  ? " (the broker wants a client certificate: set cert_file and key_file in [mqtt.tls])"
                  : " (the broker did not take the client certificate)";
  } else if (says("alert handshake failure") && tls.cert_file.empty()) {
    reason += " (if the broker requires a client certificate, set cert_file and key_file in [mqtt.tls])";
  } else if (says("unknown ca") || says("bad certificate") || says("certificate unknown")) {
    reason += " (the broker does not accept the client certificate)";
  } else if (says("protocol version") || says("unsupported protocol") || says("no protocols available")) {
    reason += " (the broker offers no TLS version this gateway accepts: 1.2 or later)";
  }
  return reason;
}

// What the verification errors that mean "not from a CA we trust" mean here.
std::string untrusted_hint(long verify, const MqttTlsConfig& tls) {
  switch (verify) {
    case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
      return tls.ca_file.empty()
                 ? "; the broker's certificate is not from a CA of the system's trust store: set ca_file"
                 : fmt::format("; the broker's certificate is not from the CA in '{}'", tls.ca_file.string());
    default:
      return "";
  }
}

// Why an SSL call failed, when it did not say it through the error queue.
std::string io_failure(int ssl_error, int saved_errno, std::string_view when) {
  if (ssl_error == SSL_ERROR_ZERO_RETURN) return fmt::format("the broker closed the connection {}", when);
  if (saved_errno == EAGAIN || saved_errno == EWOULDBLOCK) return fmt::format("no answer from the broker {}", when);
  if (saved_errno != 0) return fmt::format("{} {}", std::strerror(saved_errno), when);
  return fmt::format("the broker closed the connection {}", when);
}

}  // namespace

bool is_tls_uri(std::string_view uri) {
  return starts_with(uri, "ssl://") || starts_with(uri, "mqtts://") || starts_with(uri, "wss://");
}

std::optional<BrokerAddress> broker_address(std::string_view uri) {
  const std::size_t scheme_end = uri.find("://");
  if (scheme_end == std::string_view::npos) return std::nullopt;
  const std::string_view scheme = uri.substr(0, scheme_end);
  std::string_view rest = uri.substr(scheme_end + 3);
  rest = rest.substr(0, rest.find('/'));
  BrokerAddress out;
  std::string_view port;
  if (starts_with(rest, "[")) {
    const std::size_t close = rest.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    out.host = std::string(rest.substr(1, close - 1));
    if (close + 1 < rest.size()) {
      if (rest[close + 1] != ':') return std::nullopt;
      port = rest.substr(close + 2);
    }
  } else {
    const std::size_t colon = rest.rfind(':');
    out.host = std::string(rest.substr(0, colon));
    if (colon != std::string_view::npos) port = rest.substr(colon + 1);
  }
  if (out.host.empty()) return std::nullopt;
  if (!port.empty()) {
    out.port = std::string(port);
  } else if (scheme == "wss") {
    out.port = "443";
  } else if (scheme == "ws") {
    out.port = "80";
  } else {
    out.port = is_tls_uri(uri) ? "8883" : "1883";
  }
  return out;
}

TlsDiagnosis diagnose_tls(std::string_view uri, const MqttTlsConfig& tls, std::chrono::milliseconds timeout) {
  using Stage = TlsDiagnosis::Stage;
  const std::optional<BrokerAddress> address = broker_address(uri);
  if (!address) return {Stage::passed, ""};
  std::vector<TlsFileProblem> problems;
  ContextPtr context = make_context(tls, problems);
  if (!problems.empty()) {
    const TlsFileProblem& first = problems.front();
    return {Stage::refused, first.key.empty() ? first.message : fmt::format("{}: {}", first.key, first.message)};
  }
  std::string error;
  Socket socket = connect_tcp(*address, timeout, error);
  if (!socket) return {Stage::unreachable, error};

  // Paho C ignores SIGPIPE for the whole process, so a broker that hangs up mid-handshake is an
  // error here, not a signal.
  ERR_clear_error();
  SslPtr ssl(SSL_new(context.get()));
  if (!ssl || SSL_set_fd(ssl.get(), socket.fd()) != 1) return {Stage::refused, "OpenSSL: " + openssl_reason()};
  // SNI: the URI's host, as Paho sends it (SSL_set_tlsext_host_name, without the macro's C cast).
  SSL_ctrl(ssl.get(), SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
           const_cast<char*>(address->host.c_str()));
  errno = 0;
  if (const int rc = SSL_connect(ssl.get()); rc != 1) {
    const int ssl_error = SSL_get_error(ssl.get(), rc);
    const int saved_errno = errno;
    if (const long verify = SSL_get_verify_result(ssl.get()); verify != X509_V_OK) {
      openssl_reason();
      return {Stage::refused, fmt::format("certificate verify failed ({}{})", X509_verify_cert_error_string(verify),
                                          untrusted_hint(verify, tls))};
    }
    std::string reason = openssl_reason();
    if (reason.empty()) reason = io_failure(ssl_error, saved_errno, "during the handshake");
    return {Stage::refused, explained(std::move(reason), tls)};
  }
  const CertificatePtr cert(SSL_get1_peer_certificate(ssl.get()));
  if (!cert) return {Stage::refused, "the broker sent no certificate"};
  if (!certificate_matches(cert.get(), address->host)) {
    return {Stage::refused, fmt::format("certificate verify failed ({}: the server certificate is for {}, not {})",
                                        is_ip_address(address->host) ? "IP address mismatch" : "hostname mismatch",
                                        certificate_names(cert.get()), address->host)};
  }
  // The broker may still refuse us: with TLS 1.3 it judges the client certificate after the
  // handshake and says so in an alert, which arrives at once. Nothing else is due before our
  // CONNECT, so a read that times out means the broker took the connection.
  const std::chrono::milliseconds alert_wait = std::min(timeout, std::chrono::milliseconds(1000));
  timeval limit{};
  limit.tv_sec = static_cast<time_t>(alert_wait.count() / 1000);
  limit.tv_usec = static_cast<suseconds_t>((alert_wait.count() % 1000) * 1000);
  setsockopt(socket.fd(), SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit);
  char byte = 0;
  errno = 0;
  if (const int rc = SSL_read(ssl.get(), &byte, 1); rc <= 0) {
    const int ssl_error = SSL_get_error(ssl.get(), rc);
    const int saved_errno = errno;
    if (ssl_error == SSL_ERROR_SSL) return {Stage::refused, explained(openssl_reason(), tls)};
    if (ssl_error == SSL_ERROR_ZERO_RETURN ||
        (ssl_error == SSL_ERROR_SYSCALL && saved_errno != EAGAIN && saved_errno != EWOULDBLOCK)) {
      return {Stage::refused, io_failure(ssl_error, saved_errno, "right after the handshake")};
    }
  }
  openssl_reason();
  SSL_shutdown(ssl.get());
  return {Stage::passed, ""};
}

std::vector<TlsFileProblem> tls_file_problems(const MqttTlsConfig& tls) {
  std::vector<TlsFileProblem> problems;
  make_context(tls, problems);
  return problems;
}

}  // namespace archer::transport
