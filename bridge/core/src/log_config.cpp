#include "archer/core/log_config.h"

#include <mutex>

namespace archer {
namespace {

std::mutex g_mutex;
LogFlags g_flags;  // guarded by g_mutex

}  // namespace

void apply_log_config(const LogConfig& config, const LogFlags& flags) {
  {
    std::lock_guard lock(g_mutex);
    g_flags = flags;
  }
  apply_log_config(config);
}

void apply_log_config(const LogConfig& config) {
  std::lock_guard lock(g_mutex);
  log::set_level(g_flags.level.value_or(config.level));
  log::set_format(g_flags.format.value_or(config.format));
}

}  // namespace archer
