#include "args.h"

#include <charconv>
#include <cstdio>

#include <fmt/format.h>

#include "archer/core/units.h"

namespace archer::ctl {
namespace {

std::optional<std::uint64_t> parse_count(const std::string& text) {
  std::uint64_t value = 0;
  const char* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (text.empty() || ec != std::errc() || ptr != end) return std::nullopt;
  return value;
}

// Why `value` does not fit `type`; empty when it does.
std::string value_problem(FlagType type, const std::string& value) {
  switch (type) {
    case FlagType::text:
      return {};
    case FlagType::count:
      return parse_count(value) ? std::string() : fmt::format("'{}' is not a whole number", value);
    case FlagType::duration: {
      std::string problem;
      return parse_duration(value, problem) ? std::string() : problem;
    }
    case FlagType::pair: {
      const auto equals = value.find('=');
      return equals == std::string::npos || equals == 0 ? fmt::format("'{}' must be NAME=VALUE", value) : std::string();
    }
  }
  return {};
}

const FlagSpec* find_flag(const CommandSpec& spec, const std::string& name) {
  for (const FlagSpec& flag : spec.flags) {
    if (flag.name == name) return &flag;
  }
  return nullptr;
}

bool is_switch(const CommandSpec& spec, const std::string& name) {
  for (const std::string& known : spec.switches) {
    if (known == name) return true;
  }
  return false;
}

}  // namespace

std::optional<Args> Args::parse(const std::vector<std::string>& argv, const CommandSpec& spec, Stop& stop) {
  auto fail = [&](const std::string& message) {
    stop = Stop{kExitUsage, fmt::format("archer-ctl {}: {}\n", spec.command, message)};
    return std::nullopt;
  };
  if (argv.empty()) {
    stop = Stop{kExitUsage, spec.usage};
    return std::nullopt;
  }
  Args args;
  for (std::size_t i = 0; i < argv.size(); ++i) {
    const std::string& arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      stop = Stop{0, spec.usage};
      return std::nullopt;
    }
    if (arg.rfind("--", 0) != 0) {
      if (args.positional_.size() >= spec.positional.size()) return fail(fmt::format("unexpected argument '{}'", arg));
      args.positional_.push_back(arg);
      continue;
    }
    const auto equals = arg.find('=');
    const std::string name = arg.substr(0, equals);
    if (is_switch(spec, name)) {
      if (equals != std::string::npos) return fail(fmt::format("{} takes no value", name));
      args.switches_.insert(name);
      continue;
    }
    const FlagSpec* flag = find_flag(spec, name);
    if (flag == nullptr) return fail(fmt::format("unknown flag '{}'", name));
    std::string value;
    if (equals != std::string::npos) {
      value = arg.substr(equals + 1);
    } else if (i + 1 < argv.size() && argv[i + 1].rfind("--", 0) != 0) {
      value = argv[++i];
    } else {
      return fail(fmt::format("{} needs a value", name));
    }
    if (!flag->repeatable && args.values_.count(name) != 0) return fail(fmt::format("{} is given twice", name));
    if (std::string problem = value_problem(flag->type, value); !problem.empty()) {
      return fail(fmt::format("{}: {}", name, problem));
    }
    args.values_.emplace(name, std::move(value));
  }
  for (const FlagSpec& flag : spec.flags) {
    if (flag.required && args.values_.count(flag.name) == 0) return fail(fmt::format("{} is required", flag.name));
  }
  if (args.positional_.size() < spec.positional.size()) {
    return fail(fmt::format("{} is required", spec.positional[args.positional_.size()]));
  }
  return args;
}

std::optional<Args> Args::parse_or_print(const std::vector<std::string>& argv, const CommandSpec& spec, int& status) {
  Stop stop;
  std::optional<Args> args = parse(argv, spec, stop);
  if (!args) {
    std::fputs(stop.text.c_str(), stop.status == 0 ? stdout : stderr);
    status = stop.status;
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

std::optional<std::uint64_t> Args::count(const std::string& flag) const {
  const auto text = value(flag);
  return text ? parse_count(*text) : std::nullopt;
}

std::optional<std::chrono::milliseconds> Args::duration(const std::string& flag) const {
  const auto text = value(flag);
  std::string problem;
  return text ? parse_duration(*text, problem) : std::nullopt;
}

std::vector<std::pair<std::string, std::string>> Args::pairs(const std::string& flag) const {
  std::vector<std::pair<std::string, std::string>> out;
  for (const std::string& text : values(flag)) {
    const auto equals = text.find('=');
    if (equals != std::string::npos && equals != 0) out.emplace_back(text.substr(0, equals), text.substr(equals + 1));
  }
  return out;
}

bool Args::has(const std::string& flag) const { return switches_.count(flag) != 0; }

int usage_error(const std::string& command, const std::string& message) {
  std::fprintf(stderr, "archer-ctl %s: %s\n", command.c_str(), message.c_str());
  return kExitUsage;
}

}  // namespace archer::ctl
