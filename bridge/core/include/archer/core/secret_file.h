#pragma once
// The one reader of secret files: the MQTT password (`[mqtt] password_file`) and the [kafka]
// credentials (`"sasl.password_file"`, `"ssl.key.password_file"`, ...). Secrets never sit in the
// config itself; they are read once, when the config is loaded, so that --check-config reports a
// missing or unsafe file as file:line:col: key: message.
//
// A value is a path (relative to the config file's folder), or `credential:NAME` for a systemd
// credential: the file NAME in $CREDENTIALS_DIRECTORY (LoadCredential=NAME:/etc/archer/NAME in
// the unit; see systemd/README.md).
//
// Every secret read is also remembered (archer/core/secrets.h, remember_secret), so that no log
// line carries it whatever quotes it.
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

namespace archer {

// Where the secret named by `value` is: `credential:NAME` in $CREDENTIALS_DIRECTORY, else `value`
// as a path, relative to `base`. nullopt and `error` when a credential is named but
// $CREDENTIALS_DIRECTORY is not set (or NAME is not a plain file name).
std::optional<std::filesystem::path> secret_file_path(std::string_view value, const std::filesystem::path& base,
                                                      std::string& error);

// True when `value` names a systemd credential (`credential:NAME`).
bool is_credential_reference(std::string_view value);

// The secret in `file`: its first line without the line end. nullopt and `error` (which names the
// file, never its content) when it is missing or unreadable, empty, or readable by group or others
// ("is readable by group or others (mode 0644); chmod 600 it"). A systemd credential
// (`credential` true) may be group-readable: systemd gives the service's user read access through
// an ACL, whose mask shows as the group bits (0440); its folder is private to the service.
std::optional<std::string> read_secret_file(const std::filesystem::path& file, bool credential, std::string& error);

}  // namespace archer
