#pragma once
// Writes Commands into a command log the way any application would: key = device, the command's
// id in the archer-id header, an optional W3C traceparent. Ids are unique per process and run.
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace RdKafka {
class Producer;
}

namespace archer::testing {

class CommandWriter {
 public:
  CommandWriter(const std::string& bootstrap, std::string topic = "cmd.valves");
  ~CommandWriter();

  // Returns the command id. `deadline_ms` 0: none.
  std::string write(const std::string& device, const std::string& action,
                    const std::vector<std::pair<std::string, std::string>>& args = {}, std::int64_t deadline_ms = 0,
                    const std::string& traceparent = "");
  // Waits until Kafka acknowledged every command written.
  void flush(std::chrono::milliseconds timeout = std::chrono::seconds(30));

 private:
  std::string topic_;
  std::unique_ptr<RdKafka::Producer> producer_;
};

}  // namespace archer::testing
