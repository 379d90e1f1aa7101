// archer-ctl: the operator's command line. One subcommand per file; this file only dispatches.
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include "archer/core/version.h"
#include "args.h"
#include "commands.h"

namespace {

void print_usage(std::FILE* out) {
  std::fputs(
      "usage: archer-ctl COMMAND [ARGS]\n"
      "\n"
      "  command         write a command into an actuator's command log (--wait: print its outcome)\n"
      "  tx              an actuator's exchanges with a device, or for a command, as a timeline\n"
      "  replay          answer a command log again from the transaction log into <events>.replay\n"
      "  tail TOPIC      print records as JSON with their headers (schema from the config or --schema)\n"
      "  redrive DLQ     send dead letters through validation again (after a schema fix)\n"
      "  topics          list, check (or --create) the Kafka topics a config uses, with their settings\n"
      "  --version       print the version\n"
      "\n"
      "Run a command without arguments, or with --help, for its flags. A flag error exits 2.\n",
      out);
}

}  // namespace

// Every flag error of archer-ctl, an unknown subcommand included, exits 2 (archer::ctl::kExitUsage).
int main(int argc, char** argv) {
  if (argc < 2) {
    print_usage(stderr);
    return archer::ctl::kExitUsage;
  }
  const std::string_view command = argv[1];
  const std::vector<std::string> rest(argv + 2, argv + argc);
  if (command == "tail") return archer::ctl::tail(rest);
  if (command == "redrive") return archer::ctl::redrive(rest);
  if (command == "command") return archer::ctl::command(rest);
  if (command == "tx") return archer::ctl::tx(rest);
  if (command == "replay") return archer::ctl::replay(rest);
  if (command == "topics") return archer::ctl::topics(rest);
  if (command == "--version") {
    std::printf("archer-ctl %s\n", archer::kVersion);
    return 0;
  }
  if (command == "--help" || command == "-h" || command == "help") {
    print_usage(stdout);
    return 0;
  }
  std::fprintf(stderr, "archer-ctl: unknown command '%s' (archer-ctl --help lists them)\n", argv[1]);
  return archer::ctl::kExitUsage;
}
