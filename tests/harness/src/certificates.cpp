#include "archer/testing/certificates.h"

#include <fstream>
#include <stdexcept>

#include <fmt/format.h>

#include "archer/testing/process.h"

namespace archer::testing {
namespace {

// Runs one openssl command to completion; its output goes into the exception when it fails.
void openssl(std::vector<std::string> args, const std::filesystem::path& log) {
  args.insert(args.begin(), "openssl");
  Process process(args, ProcessOptions{}.with_stderr_file(log));
  const std::string out = process.read_all(std::chrono::seconds(30));
  const auto status = process.wait_exit(std::chrono::seconds(30));
  if (!status || *status != 0) {
    throw std::runtime_error(fmt::format("{} failed: {}{}", fmt::join(args, " "), out, read_file(log)));
  }
}

void write(const std::filesystem::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::trunc);
  out << text;
  if (!out) throw std::runtime_error("cannot write " + path.string());
}

std::string subject_alt_names(const CertificateRequest& request) {
  std::vector<std::string> names;
  for (const auto& dns : request.dns_names) names.push_back("DNS:" + dns);
  for (const auto& ip : request.ip_addresses) names.push_back("IP:" + ip);
  return fmt::format("{}", fmt::join(names, ","));
}

}  // namespace

TestCa::TestCa(std::filesystem::path dir, std::string name) : dir_(std::move(dir)), name_(std::move(name)) {
  ca_ = {dir_ / (name_ + "-ca.pem"), dir_ / (name_ + "-ca.key")};
  openssl({"req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout",
           ca_.key.string(), "-out", ca_.cert.string(), "-days", "30", "-subj", "/CN=" + name_ + " test CA", "-addext",
           "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"},
          dir_ / (name_ + "-openssl.log"));
  // `openssl ca` (not `x509 -req`) because only it takes explicit start and end dates, for the
  // expired certificate; it keeps a small database beside the CA.
  const auto db = dir_ / (name_ + "-ca.db");
  std::filesystem::create_directories(db);
  write(db / "index.txt", "");
  write(db / "serial", "1000\n");
  write(dir_ / (name_ + "-ca.cnf"), fmt::format(R"([ca]
default_ca = test_ca
[test_ca]
database = {db}/index.txt
new_certs_dir = {db}
serial = {db}/serial
certificate = {cert}
private_key = {key}
default_md = sha256
policy = any_name
unique_subject = no
copy_extensions = none
[any_name]
commonName = supplied
)",
                                                fmt::arg("db", db.string()), fmt::arg("cert", ca_.cert.string()),
                                                fmt::arg("key", ca_.key.string())));
}

Certificate TestCa::issue(const CertificateRequest& request) {
  const std::string base = name_ + "-" + request.common_name;
  const Certificate out{dir_ / (base + ".pem"), dir_ / (base + ".key")};
  const auto csr = dir_ / (base + ".csr");
  const auto ext = dir_ / (base + ".ext");
  const auto log = dir_ / (base + "-openssl.log");
  const auto plain_key = request.key_password.empty() ? out.key : dir_ / (base + ".plain.key");
  std::vector<std::string> key_type{"-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"};
  if (request.rsa) key_type = {"-newkey", "rsa:2048"};
  std::vector<std::string> make{"req", "-new"};
  make.insert(make.end(), key_type.begin(), key_type.end());
  make.insert(make.end(),
              {"-nodes", "-keyout", plain_key.string(), "-out", csr.string(), "-subj", "/CN=" + request.common_name});
  openssl(make, log);
  std::string extensions =
      "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n"
      "extendedKeyUsage=serverAuth,clientAuth\n";
  if (const std::string names = subject_alt_names(request); !names.empty()) {
    extensions += "subjectAltName=" + names + "\n";
  }
  write(ext, extensions);
  std::vector<std::string> sign{"ca",       "-batch",     "-config", (dir_ / (name_ + "-ca.cnf")).string(),
                                "-in",      csr.string(), "-out",    out.cert.string(),
                                "-extfile", ext.string(), "-notext"};
  if (request.expired) {
    sign.insert(sign.end(), {"-startdate", "20200101000000Z", "-enddate", "20201231000000Z"});
  } else {
    sign.insert(sign.end(), {"-days", "2"});
  }
  openssl(sign, log);
  if (!request.key_password.empty()) {
    openssl({"pkcs8", "-topk8", "-v2", "aes-256-cbc", "-in", plain_key.string(), "-out", out.key.string(), "-passout",
             "pass:" + request.key_password},
            log);
    std::filesystem::remove(plain_key);
  }
  return out;
}

}  // namespace archer::testing
