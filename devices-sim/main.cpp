// archer-devsim: a simulated device fleet and load generator (see devices-sim/README.md).
#include <csignal>
#include <cstdio>

#include "archer/core/log.h"
#include "archer/core/version.h"
#include "archer/devsim/fleet.h"
#include "archer/devsim/options.h"

namespace {
std::atomic<bool> g_stop{false};
extern "C" void on_signal(int) { g_stop.store(true); }
}  // namespace

int main(int argc, char** argv) {
  archer::devsim::Options options;
  std::string error;
  switch (archer::devsim::parse_args(argc, argv, options, error)) {
    case archer::devsim::ParseResult::help:
      std::fputs(archer::devsim::usage().c_str(), stdout);
      return 0;
    case archer::devsim::ParseResult::version:
      std::printf("archer-devsim %s\n", archer::kVersion);
      return 0;
    case archer::devsim::ParseResult::error:
      std::fprintf(stderr, "archer-devsim: %s\n(see archer-devsim --help)\n", error.c_str());
      return 2;
    case archer::devsim::ParseResult::bad_config:
      std::fprintf(stderr, "%s\n", error.c_str());
      return 2;
    case archer::devsim::ParseResult::run:
      break;
  }
  archer::log::Level level{};
  if (archer::log::parse_level(options.log_level, level)) archer::log::set_level(level);
  archer::log::Format format{};
  if (archer::log::parse_format(options.log_format, format)) archer::log::set_format(format);
  struct sigaction action {};
  action.sa_handler = on_signal;
  sigemptyset(&action.sa_mask);
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
  std::signal(SIGPIPE, SIG_IGN);
  archer::devsim::Fleet fleet(std::move(options));
  return fleet.run(g_stop);
}
