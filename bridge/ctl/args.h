#pragma once
// Flags of one archer-ctl subcommand: `--name value` (or `--name=value`), `--switch`, and
// positional arguments. Every value is checked against the subcommand's spec while the command line
// is parsed, so a subcommand never meets a bad value later: a flag error (unknown flag, missing or
// bad value, missing required flag or argument) is one line on stderr naming the flag, and exit 2.
// Unknown flags are errors: a typo must not silently change what an operator's command does.
#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace archer::ctl {

// The exit status of every flag error (and of a config that does not load).
inline constexpr int kExitUsage = 2;

enum class FlagType {
  text,      // any value
  count,     // a whole number: 0, 1, 2, ...
  duration,  // "500ms", "10s", "2m" (archer/core/units.h)
  pair,      // NAME=VALUE with a non-empty NAME
};

struct FlagSpec {
  std::string name;  // "--count"
  FlagType type = FlagType::text;
  bool required = false;
  bool repeatable = false;  // --arg a=1 --arg b=2; otherwise giving a flag twice is an error
};

struct CommandSpec {
  std::string command;  // "tail": messages read "archer-ctl tail: ..."
  std::string usage;    // printed for --help (stdout, exit 0) and for no arguments at all (stderr, exit 2)
  std::vector<FlagSpec> flags;
  std::vector<std::string> switches;    // "--follow"
  std::vector<std::string> positional;  // the positional arguments, all required: {"TOPIC"}
};

class Args {
 public:
  // What to print instead of running: the usage (status 0, for stdout) or one error line (status 2).
  struct Stop {
    int status = kExitUsage;
    std::string text;  // ends with '\n'
  };
  static std::optional<Args> parse(const std::vector<std::string>& argv, const CommandSpec& spec, Stop& stop);
  // The same, printing `stop` (stdout or stderr by its status) and setting `status` when it stops.
  static std::optional<Args> parse_or_print(const std::vector<std::string>& argv, const CommandSpec& spec, int& status);

  std::optional<std::string> value(const std::string& flag) const;
  std::vector<std::string> values(const std::string& flag) const;  // a repeatable flag
  // Typed values of flags whose spec gives the type (checked by parse); nullopt when not given.
  std::optional<std::uint64_t> count(const std::string& flag) const;
  std::optional<std::chrono::milliseconds> duration(const std::string& flag) const;
  std::vector<std::pair<std::string, std::string>> pairs(const std::string& flag) const;
  bool has(const std::string& flag) const;
  const std::vector<std::string>& positional() const { return positional_; }

 private:
  std::multimap<std::string, std::string> values_;
  std::set<std::string> switches_;
  std::vector<std::string> positional_;
};

// Prints "archer-ctl COMMAND: MESSAGE" on stderr and returns kExitUsage, for a rule about flags that
// a spec cannot express ("--config or --bootstrap").
int usage_error(const std::string& command, const std::string& message);

}  // namespace archer::ctl
