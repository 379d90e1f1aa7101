#include "archer/testing/devkafka.h"

#include <cstdlib>
#include <stdexcept>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <librdkafka/rdkafka.h>

#include "archer/testing/wait.h"

#ifndef ARCHER_BIN_DIR
#error "archer::testing needs ARCHER_BIN_DIR (set by archer_test / tests/harness/CMakeLists.txt)"
#endif

namespace archer::testing {
namespace {

std::string devkafka_binary() {
  if (const char* path = std::getenv("ARCHER_DEVKAFKA"); path != nullptr && *path != '\0') return path;
  return std::string(ARCHER_BIN_DIR) + "/archer-devkafka";
}

std::string join(const std::vector<std::string>& parts, char separator) {
  std::string out;
  for (const auto& part : parts) {
    if (!out.empty()) out.push_back(separator);
    out += part;
  }
  return out;
}

// A metadata request through the bootstrap servers that answers with `brokers` brokers.
bool metadata_ok(const std::string& bootstrap, int brokers) {
  char errstr[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  if (rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap.c_str(), errstr, sizeof errstr) != RD_KAFKA_CONF_OK ||
      rd_kafka_conf_set(conf, "log_level", "3", errstr, sizeof errstr) != RD_KAFKA_CONF_OK) {
    rd_kafka_conf_destroy(conf);
    return false;
  }
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
  if (rk == nullptr) return false;
  const rd_kafka_metadata_t* metadata = nullptr;
  const rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 1, nullptr, &metadata, 3000);
  const bool ok = err == RD_KAFKA_RESP_ERR_NO_ERROR && metadata != nullptr && metadata->broker_cnt == brokers;
  if (metadata != nullptr) rd_kafka_metadata_destroy(metadata);
  rd_kafka_destroy(rk);
  return ok;
}

}  // namespace

DevKafka::DevKafka() : DevKafka(DevKafkaOptions{}) {}

DevKafka::DevKafka(DevKafkaOptions options) : options_(std::move(options)) {
  std::vector<std::string> argv{devkafka_binary(), "--brokers", std::to_string(options_.brokers), "--partitions",
                                std::to_string(options_.partitions)};
  if (!options_.topics.empty()) {
    argv.push_back("--topics");
    argv.push_back(join(options_.topics, ','));
  }
  ProcessOptions popts;
  popts.stdin_pipe = true;
  popts.stderr_file = log_file();
  process_ = std::make_unique<Process>(argv, popts);
  auto line = process_->read_line(std::chrono::seconds(10));
  if (!line || line->empty()) {
    process_->terminate();
    throw std::runtime_error("archer-devkafka printed no bootstrap servers; log:\n" + read_file(log_file()));
  }
  bootstrap_ = *line;
  if (!wait_until([&] { return metadata_ok(bootstrap_, options_.brokers); }, std::chrono::seconds(10),
                  std::chrono::milliseconds(50))) {
    process_->terminate();
    throw std::runtime_error("archer-devkafka at " + bootstrap_ + " does not answer metadata requests; log:\n" +
                             read_file(log_file()));
  }
}

DevKafka::~DevKafka() {
  if (process_ && !process_->exit_status()) {
    const int status = stop();
    if (status != 0) {
      ADD_FAILURE() << "archer-devkafka exited with status " << status << "; log:\n" << read_file(log_file());
    }
  }
}

int DevKafka::stop() { return process_->terminate(std::chrono::seconds(10)); }

std::string DevKafka::try_command(std::string_view line) {
  if (!process_->write_line(line)) {
    throw std::runtime_error(fmt::format("archer-devkafka: cannot send '{}' (exited?)", line));
  }
  auto reply = process_->read_line(std::chrono::seconds(5));
  if (!reply) throw std::runtime_error(fmt::format("archer-devkafka: no reply to '{}'", line));
  return *reply;
}

std::string DevKafka::command(std::string_view line) {
  std::string reply = try_command(line);
  if (reply.rfind("error", 0) == 0) {
    throw std::runtime_error(fmt::format("archer-devkafka: '{}' -> {}", line, reply));
  }
  return reply;
}

}  // namespace archer::testing
