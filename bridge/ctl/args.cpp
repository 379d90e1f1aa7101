#include "args.h"

#include <cstdio>

namespace archer::ctl {

std::optional<Args> Args::parse(const std::vector<std::string>& argv, const std::set<std::string>& with_value,
                                const std::set<std::string>& switches) {
  Args args;
  for (std::size_t i = 0; i < argv.size(); ++i) {
    const std::string& arg = argv[i];
    if (arg.rfind("--", 0) != 0) {
      args.positional_.push_back(arg);
    } else if (with_value.count(arg) != 0) {
      if (i + 1 >= argv.size()) {
        std::fprintf(stderr, "archer-ctl: %s needs a value\n", arg.c_str());
        return std::nullopt;
      }
      args.values_.emplace(arg, argv[++i]);
    } else if (switches.count(arg) != 0) {
      args.switches_.insert(arg);
    } else {
      std::fprintf(stderr, "archer-ctl: unknown flag '%s'\n", arg.c_str());
      return std::nullopt;
    }
  }
  return args;
}

std::optional<std::string> Args::value(const std::string& flag) const {
  auto it = values_.find(flag);
  if (it == values_.end()) return std::nullopt;
  return it->second;
}

std::vector<std::string> Args::values(const std::string& flag) const {
  std::vector<std::string> out;
  for (auto [it, end] = values_.equal_range(flag); it != end; ++it) out.push_back(it->second);
  return out;
}

bool Args::has(const std::string& flag) const { return switches_.count(flag) != 0; }

}  // namespace archer::ctl
