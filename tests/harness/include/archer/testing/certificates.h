#pragma once
// A throwaway certificate authority for TLS tests, made with the `openssl` command line inside the
// test (Debian's openssl, 3.0): EC P-256 keys (RSA on request), PEM files, in a directory the caller owns.
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

namespace archer::testing {

// What to issue, e.g. CertificateRequest("broker").with_dns("localhost").with_ip("127.0.0.1").
struct CertificateRequest {
  explicit CertificateRequest(std::string name) : common_name(std::move(name)) {}
  CertificateRequest& with_dns(std::string name) {
    dns_names.push_back(std::move(name));
    return *this;
  }
  CertificateRequest& with_ip(std::string ip) {
    ip_addresses.push_back(std::move(ip));
    return *this;
  }
  CertificateRequest& already_expired() {
    expired = true;
    return *this;
  }
  CertificateRequest& with_rsa_key() {
    rsa = true;
    return *this;
  }
  CertificateRequest& with_key_password(std::string password) {
    key_password = std::move(password);
    return *this;
  }

  std::string common_name;
  std::vector<std::string> dns_names;     // subjectAltName DNS entries
  std::vector<std::string> ip_addresses;  // subjectAltName IP entries
  bool expired = false;                   // valid from 2020-01-01 to 2020-12-31 only
  std::string key_password;               // non-empty: the key is encrypted PKCS#8 (AES-256) with it
  bool rsa = false;                       // an RSA 2048 key instead of EC P-256 (for RSA key exchange)
};

struct Certificate {
  std::filesystem::path cert;  // PEM certificate
  std::filesystem::path key;   // PEM private key (PKCS#8)
};

class TestCa {
 public:
  // Creates the CA's key and self-signed certificate under `dir` (which must exist), named by `name`
  // (files NAME-ca.pem, NAME-ca.key): two CAs in one directory are two different trust roots.
  TestCa(std::filesystem::path dir, std::string name);

  const std::filesystem::path& cert() const { return ca_.cert; }
  const std::filesystem::path& key() const { return ca_.key; }

  // A certificate signed by this CA, usable by a server and a client (extendedKeyUsage both), valid
  // for two days unless `expired`. Files are named after the common name. Throws std::runtime_error
  // with openssl's output when a command fails.
  Certificate issue(const CertificateRequest& request);

 private:
  std::filesystem::path dir_;
  std::string name_;
  Certificate ca_;
};

}  // namespace archer::testing
