// archer-bridge: the gateway daemon. This file only parses flags and wires the parts together.
#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "archer/core/config.h"
#include "archer/core/log.h"
#include "archer/core/log_config.h"
#include "archer/core/version.h"
#include "archer/daemon/bridge.h"
#include "archer/daemon/startup_check.h"

namespace {

constexpr int kExitOk = 0;
constexpr int kExitBadConfig = 2;
constexpr int kExitUsage = 64;

void print_usage(std::FILE* out) {
  std::fputs(
      "usage: archer-bridge --config FILE [--check-config] [--replay [--from-beginning]]\n"
      "                     [--log-level debug|info|warn|error] [--log-format text|logfmt|json]\n"
      "       archer-bridge --check-config FILE\n"
      "       archer-bridge --version\n"
      "\n"
      "  --config FILE      the gateway's TOML configuration\n"
      "  --check-config     validate FILE and build what a start builds from it (schemas, librdkafka\n"
      "                     settings, TLS and password files), connecting nowhere; exit 0 valid,\n"
      "                     2 invalid (each problem on stderr as file:line:col: key: message)\n"
      "  --replay           answer each actuator's command log from its transaction log into\n"
      "                     <events>.replay, then exit; sends nothing to any device\n"
      "  --from-beginning   with --replay: from the start of the command log (default: where the\n"
      "                     last replay stopped)\n"
      "  --log-level LEVEL  debug, info, warn or error; wins over [log] level (default info)\n"
      "  --log-format FMT   text, logfmt or json: one line per event on stderr; wins over [log] format\n"
      "                     (default text)\n"
      "  --version          print the version and exit\n"
      "\n"
      "Signals: SIGTERM/SIGINT drain and exit 0; SIGHUP reloads mappings.\n",
      out);
}

struct Options {
  std::string config;
  bool check_config = false;
  bool replay = false;
  bool from_beginning = false;
  archer::LogFlags log;
};

}  // namespace

int main(int argc, char** argv) {
  Options options;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    auto value = [&]() -> const char* {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "archer-bridge: %s needs a value\n", argv[i]);
        std::exit(kExitUsage);
      }
      return argv[++i];
    };
    if (arg == "--config") options.config = value();
    else if (arg == "--check-config") {
      // Also accepted as `--check-config FILE`.
      options.check_config = true;
      if (i + 1 < argc && argv[i + 1][0] != '-') options.config = argv[++i];
    }
    else if (arg == "--replay") options.replay = true;
    else if (arg == "--from-beginning") options.from_beginning = true;
    else if (arg == "--log-level") {
      archer::log::Level level{};
      const char* text = value();
      if (!archer::log::parse_level(text, level)) {
        std::fprintf(stderr, "archer-bridge: unknown log level '%s'\n", text);
        return kExitUsage;
      }
      options.log.level = level;
    } else if (arg == "--log-format") {
      archer::log::Format format{};
      const char* text = value();
      if (!archer::log::parse_format(text, format)) {
        std::fprintf(stderr, "archer-bridge: unknown log format '%s'\n", text);
        return kExitUsage;
      }
      options.log.format = format;
    } else if (arg == "--version") {
      std::printf("archer-bridge %s\n", archer::kVersion);
      return kExitOk;
    } else if (arg == "--help" || arg == "-h") {
      print_usage(stdout);
      return kExitOk;
    } else {
      std::fprintf(stderr, "archer-bridge: unknown argument '%s'\n", argv[i]);
      print_usage(stderr);
      return kExitUsage;
    }
  }
  if (options.config.empty()) {
    std::fputs("archer-bridge: --config FILE is required\n", stderr);
    print_usage(stderr);
    return kExitUsage;
  }

  // The flags hold until the config says more: lines written while it loads follow them too.
  archer::apply_log_config(archer::LogConfig{}, options.log);

  // A start builds nothing the check has not built first: both exit 2 on the same problems.
  archer::ConfigResult loaded = archer::load_config(options.config);
  const std::vector<std::string> problems =
      loaded.config ? archer::daemon::check_startup(*loaded.config) : std::move(loaded.errors);
  if (!problems.empty()) {
    for (const std::string& problem : problems) std::fprintf(stderr, "%s\n", problem.c_str());
    std::fprintf(stderr, "archer-bridge: %s: %zu problem%s\n", options.config.c_str(), problems.size(),
                 problems.size() == 1 ? "" : "s");
    return kExitBadConfig;
  }
  archer::apply_log_config(loaded.config->log, options.log);
  if (options.check_config) {
    std::printf("%s: ok (%zu ingest, %zu actuator sections)\n", options.config.c_str(), loaded.config->ingest.size(),
                loaded.config->actuators.size());
    return kExitOk;
  }

  if (options.replay) return archer::daemon::run_replay(*loaded.config, options.from_beginning);
  if (options.from_beginning) {
    std::fputs("archer-bridge: --from-beginning goes with --replay\n", stderr);
    return kExitUsage;
  }
  return archer::daemon::run_bridge(*loaded.config);
}
