#pragma once
// archer-ctl's subcommands. Each takes the arguments after its name and returns the exit code.
#include <string>
#include <vector>

namespace archer::ctl {

int redrive(const std::vector<std::string>& argv);
int command(const std::vector<std::string>& argv);
int tx(const std::vector<std::string>& argv);
int replay(const std::vector<std::string>& argv);
int tail(const std::vector<std::string>& argv);
int topics(const std::vector<std::string>& argv);

}  // namespace archer::ctl
