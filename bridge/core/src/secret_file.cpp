#include "archer/core/secret_file.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>

#include <fmt/format.h>

#include "archer/core/secrets.h"

namespace archer {
namespace {

constexpr std::string_view kCredentialPrefix = "credential:";

}  // namespace

bool is_credential_reference(std::string_view value) { return value.rfind(kCredentialPrefix, 0) == 0; }

std::optional<std::filesystem::path> secret_file_path(std::string_view value, const std::filesystem::path& base,
                                                      std::string& error) {
  if (!is_credential_reference(value)) {
    std::filesystem::path path(value);
    return path.is_absolute() ? path : base / path;
  }
  const std::string_view name = value.substr(kCredentialPrefix.size());
  if (name.empty() || name.find('/') != std::string_view::npos || name == "." || name == "..") {
    error = fmt::format("'{}': a credential is named by a plain file name, e.g. \"credential:kafka.pass\"", value);
    return std::nullopt;
  }
  const char* directory = std::getenv("CREDENTIALS_DIRECTORY");
  if (directory == nullptr || *directory == '\0') {
    error = fmt::format(
        "'{}' needs $CREDENTIALS_DIRECTORY, which systemd sets for a unit with LoadCredential={}:/path/to/file", value,
        name);
    return std::nullopt;
  }
  return std::filesystem::path(directory) / name;
}

std::optional<std::string> read_secret_file(const std::filesystem::path& file, bool credential, std::string& error) {
  struct stat status {};
  if (::stat(file.c_str(), &status) != 0) {
    error = fmt::format("'{}' cannot be read: {}", file.string(), std::strerror(errno));
    return std::nullopt;
  }
  if (!S_ISREG(status.st_mode)) {
    error = fmt::format("'{}' is not a regular file", file.string());
    return std::nullopt;
  }
  // A credential's group bits are the mask of the ACL systemd grants the service's user (0440).
  if ((status.st_mode & (credential ? 007 : 077)) != 0) {
    error = fmt::format("'{}' is readable by {} (mode {:04o}); chmod {} it", file.string(),
                        credential ? "others" : "group or others", status.st_mode & 07777, credential ? 400 : 600);
    return std::nullopt;
  }
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    error = fmt::format("'{}' cannot be read: {}", file.string(), std::strerror(errno));
    return std::nullopt;
  }
  std::string secret;
  std::getline(in, secret);
  if (!secret.empty() && secret.back() == '\r') secret.pop_back();
  if (secret.empty()) {
    error = fmt::format("'{}' is empty: the secret is its first line", file.string());
    return std::nullopt;
  }
  remember_secret(secret);
  return secret;
}

}  // namespace archer
