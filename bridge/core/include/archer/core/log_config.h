#pragma once
// The log level and format a program runs with: [log] of its config, under what its command line
// chose (--log-level, --log-format), which wins, at start and on every reload.
#include <optional>

#include "archer/core/config.h"
#include "archer/core/log.h"

namespace archer {

struct LogFlags {
  std::optional<log::Level> level;
  std::optional<log::Format> format;
};

// Applies `config` under `flags`, and keeps `flags` for the reloads: main() calls it once at start,
// before any other thread runs.
void apply_log_config(const LogConfig& config, const LogFlags& flags);
// Applies `config` under the flags given at start: the reload on SIGHUP calls it with the new
// config's [log].
void apply_log_config(const LogConfig& config);

}  // namespace archer
