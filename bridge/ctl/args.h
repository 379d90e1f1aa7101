#pragma once
// Flags of one archer-ctl subcommand: `--name value`, `--switch`, and positional arguments.
// Unknown flags are errors: a typo must not silently change what an operator's command does.
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace archer::ctl {

class Args {
 public:
  // `with_value` and `switches` list the flags this subcommand knows. Returns nullopt and prints the
  // problem on stderr when the command line does not fit.
  static std::optional<Args> parse(const std::vector<std::string>& argv, const std::set<std::string>& with_value,
                                   const std::set<std::string>& switches);

  std::optional<std::string> value(const std::string& flag) const;
  std::vector<std::string> values(const std::string& flag) const;  // a flag given several times
  bool has(const std::string& flag) const;
  const std::vector<std::string>& positional() const { return positional_; }

 private:
  std::multimap<std::string, std::string> values_;
  std::set<std::string> switches_;
  std::vector<std::string> positional_;
};

}  // namespace archer::ctl
