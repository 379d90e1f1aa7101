#include "archer/core/secrets.h"

#include <algorithm>
#include <array>
#include <cctype>

namespace archer {
namespace {

constexpr std::string_view kHidden = "(hidden)";

}  // namespace

bool is_secret_property(std::string_view name) {
  std::string lower(name);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  constexpr std::array<std::string_view, 4> kMarks{"password", "secret", "key", "oauthbearer.config"};
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

}  // namespace archer
