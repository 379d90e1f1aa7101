#include "archer/core/secrets.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <mutex>
#include <shared_mutex>

namespace archer {
namespace {

constexpr std::string_view kHidden = "(hidden)";

struct Remembered {
  std::shared_mutex mutex;
  std::vector<std::string> secrets;
};

Remembered& remembered() {
  static Remembered* instance = new Remembered();  // never destroyed: logging may run during exit
  return *instance;
}

}  // namespace

bool is_secret_property(std::string_view name) {
  std::string lower(name);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (lower.size() > 5 && lower.ends_with("_file")) return false;
  if (lower == "ssl.key.pem" || lower == "sasl.oauthbearer.config") return true;
  constexpr std::array<std::string_view, 2> kMarks{"password", "secret"};
  return std::any_of(kMarks.begin(), kMarks.end(),
                     [&](std::string_view mark) { return lower.find(mark) != std::string::npos; });
}

std::string shown_value(std::string_view name, std::string_view value) {
  return is_secret_property(name) ? std::string(kHidden) : std::string(value);
}

std::string without_secret(std::string text, std::string_view secret) {
  if (secret.empty()) return text;
  for (std::size_t at = text.find(secret); at != std::string::npos; at = text.find(secret, at + kHidden.size())) {
    text.replace(at, secret.size(), kHidden);
  }
  return text;
}

std::string without_secrets(std::string text, const std::vector<std::pair<std::string, std::string>>& properties) {
  for (const auto& [name, value] : properties) {
    if (is_secret_property(name)) text = without_secret(std::move(text), value);
  }
  return text;
}

void remember_secret(std::string secret) {
  if (secret.empty()) return;
  Remembered& all = remembered();
  std::unique_lock lock(all.mutex);
  if (std::find(all.secrets.begin(), all.secrets.end(), secret) != all.secrets.end()) return;
  all.secrets.push_back(std::move(secret));
  // The longest first: a secret that contains another is hidden whole.
  std::sort(all.secrets.begin(), all.secrets.end(), [](const auto& a, const auto& b) { return a.size() > b.size(); });
}

std::string without_remembered_secrets(std::string text) {
  Remembered& all = remembered();
  std::shared_lock lock(all.mutex);
  for (const std::string& secret : all.secrets) text = without_secret(std::move(text), secret);
  return text;
}

}  // namespace archer
