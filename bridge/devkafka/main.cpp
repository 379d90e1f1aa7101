// archer-devkafka: a Kafka-protocol broker on loopback for development and tests, built on librdkafka's
// mock cluster. Prints its bootstrap servers as the first stdout line, then answers line commands on
// stdin (one reply line per command: `ok` or `error: <why>`). Runs until SIGTERM/SIGINT; EOF on stdin
// does not stop it. See README.md.
#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "archer/core/log.h"
#include "commands.h"

namespace {

using archer::devkafka::parse_api_key;
using archer::devkafka::parse_error_code;
using archer::devkafka::parse_int;

constexpr std::string_view kComponent = "devkafka";
constexpr int kMaxBrokers = 64;
constexpr int kMaxPartitions = 10000;

constexpr std::string_view kUsage =
    "usage: archer-devkafka [--brokers N] [--partitions P] [--topics a,b:6] [--bootstrap-file FILE]\n"
    "\n"
    "A Kafka-protocol broker for development and tests (librdkafka's in-memory mock cluster) on\n"
    "loopback. Prints the bootstrap servers as the first stdout line. Runs until SIGTERM/SIGINT.\n"
    "\n"
    "  --brokers N            number of brokers, ids 1..N (default 3)\n"
    "  --partitions P         partitions for --topics entries and `create` without a count (default 3).\n"
    "                         Topics auto-created by clients always get 4 partitions: librdkafka 2.0.2's\n"
    "                         mock has no setter for that default.\n"
    "  --topics LIST          pre-create topics, `name` or `name:partitions`, comma-separated;\n"
    "                         replication factor min(3, brokers)\n"
    "  --bootstrap-file FILE  also write the bootstrap servers to FILE (atomically, once the cluster\n"
    "                         is up; removed again on a clean exit)\n"
    "\n"
    "Commands on stdin, one reply line each (`ok ...` or `error: <why>`):\n"
    "  down <broker|all>                 disconnect a broker and refuse connections (no leader change)\n"
    "  up <broker|all>                   accept connections again\n"
    "  rtt <broker|all> <ms>             add round-trip latency to a broker's responses\n"
    "  errors <api-key> <error> [count]  fail the next `count` (default 1) requests of that API\n"
    "                                    (api key: number or name, e.g. Produce, Fetch, Metadata;\n"
    "                                    error: number or name, e.g. NOT_LEADER_FOR_PARTITION, TRANSPORT)\n"
    "  clear-errors <api-key>            drop pending injected errors for that API\n"
    "  leader <topic> <partition> <broker>  move a partition's leadership (-1: leader-less)\n"
    "  create <topic> [partitions]       create a topic\n"
    "  topic-error <topic> <error>       error returned for the topic in Metadata (NO_ERROR clears)\n"
    "  help                              list the commands\n";

struct Options {
  int brokers = 3;
  int partitions = 3;
  std::vector<std::pair<std::string, int>> topics;  // partitions 0 = use --partitions
  std::string bootstrap_file;
};

[[noreturn]] void usage_error(const std::string& message) {
  fmt::print(stderr, "archer-devkafka: {}\n\n{}", message, kUsage);
  std::exit(2);
}

int parse_count(std::string_view flag, std::string_view text, int min, int max) {
  auto value = parse_int(text);
  if (!value || *value < min || *value > max) {
    usage_error(fmt::format("{} wants a number in {}..{}, got '{}'", flag, min, max, text));
  }
  return static_cast<int>(*value);
}

std::vector<std::string> split(std::string_view text, char separator) {
  std::vector<std::string> parts;
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find(separator, start);
    if (end == std::string_view::npos) end = text.size();
    parts.emplace_back(text.substr(start, end - start));
    start = end + 1;
  }
  return parts;
}

Options parse_options(int argc, char** argv) {
  Options options;
  std::vector<std::string> topic_specs;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    auto value = [&]() -> std::string_view {
      if (i + 1 >= argc) usage_error(fmt::format("{} needs a value", arg));
      return argv[++i];
    };
    if (arg == "--help" || arg == "-h") {
      fmt::print("{}", kUsage);
      std::exit(0);
    } else if (arg == "--brokers") {
      options.brokers = parse_count(arg, value(), 1, kMaxBrokers);
    } else if (arg == "--partitions") {
      options.partitions = parse_count(arg, value(), 1, kMaxPartitions);
    } else if (arg == "--topics") {
      for (auto& spec : split(value(), ',')) {
        if (!spec.empty()) topic_specs.push_back(spec);
      }
    } else if (arg == "--bootstrap-file") {
      options.bootstrap_file = value();
    } else {
      usage_error(fmt::format("unknown argument '{}'", arg));
    }
  }
  for (const auto& spec : topic_specs) {
    const auto colon = spec.find(':');
    std::string name = spec.substr(0, colon);
    if (name.empty()) usage_error(fmt::format("--topics: empty topic name in '{}'", spec));
    int partitions = 0;
    if (colon != std::string::npos) {
      partitions = parse_count("--topics", std::string_view(spec).substr(colon + 1), 1, kMaxPartitions);
    }
    options.topics.emplace_back(std::move(name), partitions);
  }
  return options;
}

void write_bootstrap_file(const std::string& path, const std::string& bootstrap) {
  const std::string tmp = path + ".tmp." + std::to_string(getpid());
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << bootstrap << '\n';
    out.flush();
    if (!out) throw std::runtime_error(fmt::format("cannot write {}", tmp));
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    std::filesystem::remove(tmp, ec);
    throw std::runtime_error(fmt::format("cannot rename to {}: {}", path, ec.message()));
  }
}

std::string err_text(rd_kafka_resp_err_t err) {
  return fmt::format("{} ({})", rd_kafka_err2name(err), rd_kafka_err2str(err));
}

class Broker {
 public:
  Broker(rd_kafka_mock_cluster_t* cluster, const Options& options)
      : cluster_(cluster), options_(options) {}

  // One reply line for one command line.
  std::string execute(std::string_view line) {
    std::vector<std::string> words;
    {
      std::istringstream in{std::string(line)};
      for (std::string word; in >> word;) words.push_back(word);
    }
    if (words.empty()) return "error: empty command";
    const std::string& verb = words[0];
    const size_t nargs = words.size() - 1;
    auto arity = [&](size_t min, size_t max) -> std::optional<std::string> {
      if (nargs < min || nargs > max) return fmt::format("error: wrong number of arguments for '{}' (try help)", verb);
      return std::nullopt;
    };

    if (verb == "help") {
      return "ok commands: down <broker|all>; up <broker|all>; rtt <broker|all> <ms>; "
             "errors <api-key> <error> [count]; clear-errors <api-key>; leader <topic> <partition> <broker>; "
             "create <topic> [partitions]; topic-error <topic> <error>; help";
    }
    if (verb == "down" || verb == "up") {
      if (auto e = arity(1, 1)) return *e;
      auto id = broker_id(words[1], true);
      if (!id) return bad_broker(words[1]);
      const auto err = verb == "down" ? rd_kafka_mock_broker_set_down(cluster_, *id)
                                      : rd_kafka_mock_broker_set_up(cluster_, *id);
      return reply(err, fmt::format("broker {} {}", words[1], verb));
    }
    if (verb == "rtt") {
      if (auto e = arity(2, 2)) return *e;
      auto id = broker_id(words[1], true);
      if (!id) return bad_broker(words[1]);
      auto ms = parse_int(words[2]);
      if (!ms || *ms < 0 || *ms > 3'600'000) return fmt::format("error: bad rtt '{}' (milliseconds)", words[2]);
      return reply(rd_kafka_mock_broker_set_rtt(cluster_, *id, static_cast<int>(*ms)),
                   fmt::format("broker {} rtt {} ms", words[1], *ms));
    }
    if (verb == "errors") {
      if (auto e = arity(2, 3)) return *e;
      auto api = parse_api_key(words[1]);
      if (!api) return fmt::format("error: unknown api key '{}'", words[1]);
      auto code = parse_error_code(words[2]);
      if (!code) return fmt::format("error: unknown error code '{}'", words[2]);
      long long count = 1;
      if (nargs == 3) {
        auto parsed = parse_int(words[3]);
        if (!parsed || *parsed < 1 || *parsed > 100000) return fmt::format("error: bad count '{}'", words[3]);
        count = *parsed;
      }
      std::vector<rd_kafka_resp_err_t> errors(static_cast<size_t>(count), *code);
      rd_kafka_mock_push_request_errors_array(cluster_, *api, errors.size(), errors.data());
      archer::log::info(kComponent, "api key {}: next {} requests fail with {}", *api, count, err_text(*code));
      return "ok";
    }
    if (verb == "clear-errors") {
      if (auto e = arity(1, 1)) return *e;
      auto api = parse_api_key(words[1]);
      if (!api) return fmt::format("error: unknown api key '{}'", words[1]);
      rd_kafka_mock_clear_request_errors(cluster_, *api);
      archer::log::info(kComponent, "api key {}: injected errors cleared", *api);
      return "ok";
    }
    if (verb == "leader") {
      if (auto e = arity(3, 3)) return *e;
      auto partition = parse_int(words[2]);
      if (!partition || *partition < 0 || *partition >= kMaxPartitions) {
        return fmt::format("error: bad partition '{}'", words[2]);
      }
      std::optional<int32_t> id = words[3] == "-1" ? std::optional<int32_t>(-1) : broker_id(words[3], false);
      if (!id) return bad_broker(words[3]);
      return reply(rd_kafka_mock_partition_set_leader(cluster_, words[1].c_str(), static_cast<int32_t>(*partition), *id),
                   fmt::format("{} [{}] leader is broker {}", words[1], *partition, *id));
    }
    if (verb == "create") {
      if (auto e = arity(1, 2)) return *e;
      int partitions = options_.partitions;
      if (nargs == 2) {
        auto parsed = parse_int(words[2]);
        if (!parsed || *parsed < 1 || *parsed > kMaxPartitions) return fmt::format("error: bad partition count '{}'", words[2]);
        partitions = static_cast<int>(*parsed);
      }
      return create_topic(words[1], partitions);
    }
    if (verb == "topic-error") {
      if (auto e = arity(2, 2)) return *e;
      auto code = parse_error_code(words[2]);
      if (!code) return fmt::format("error: unknown error code '{}'", words[2]);
      rd_kafka_mock_topic_set_error(cluster_, words[1].c_str(), *code);
      archer::log::info(kComponent, "topic {}: metadata error {}", words[1], err_text(*code));
      return "ok";
    }
    return fmt::format("error: unknown command '{}' (try help)", verb);
  }

  std::string create_topic(const std::string& name, int partitions) {
    const int replication = std::min(3, options_.brokers);
    return reply(rd_kafka_mock_topic_create(cluster_, name.c_str(), partitions, replication),
                 fmt::format("topic {} created: {} partitions, replication {}", name, partitions, replication));
  }

 private:
  std::optional<int32_t> broker_id(const std::string& text, bool allow_all) const {
    if (allow_all && text == "all") return -1;
    auto id = parse_int(text);
    // The mock cluster numbers its brokers 1..N.
    if (!id || *id < 1 || *id > options_.brokers) return std::nullopt;
    return static_cast<int32_t>(*id);
  }
  std::string bad_broker(const std::string& text) const {
    return fmt::format("error: no broker '{}' (brokers are 1..{})", text, options_.brokers);
  }
  static std::string reply(rd_kafka_resp_err_t err, const std::string& what) {
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) return fmt::format("error: {}", err_text(err));
    archer::log::info(kComponent, "{}", what);
    return "ok";
  }

  rd_kafka_mock_cluster_t* cluster_;
  const Options& options_;
};

void reply_line(const std::string& line) {
  std::fputs(line.c_str(), stdout);
  std::fputc('\n', stdout);
  std::fflush(stdout);
}

int run(const Options& options) {
  // Block the stop signals before librdkafka starts its threads, so that they inherit the mask and
  // the signals are only ever consumed through the signalfd below.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  if (pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr) != 0) {
    archer::log::error(kComponent, "cannot block signals");
    return 1;
  }
  const int signal_fd = signalfd(-1, &stop_signals, SFD_CLOEXEC);
  if (signal_fd < 0) {
    archer::log::error(kComponent, "signalfd: {}", std::strerror(errno));
    return 1;
  }
  std::signal(SIGPIPE, SIG_IGN);  // a reader that went away must not kill the broker

  // The mock cluster lives inside a client handle; this producer is never used for anything else.
  char errstr[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "client.id", "archer-devkafka", errstr, sizeof errstr);
  rd_kafka_conf_set(conf, "log_level", "4", errstr, sizeof errstr);  // no "no bootstrap.servers" notice
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
  if (rk == nullptr) {
    archer::log::error(kComponent, "cannot create the librdkafka handle: {}", errstr);
    return 1;
  }
  rd_kafka_mock_cluster_t* cluster = rd_kafka_mock_cluster_new(rk, options.brokers);
  if (cluster == nullptr) {
    archer::log::error(kComponent, "cannot create the mock cluster");
    rd_kafka_destroy(rk);
    return 1;
  }
  Broker broker(cluster, options);
  int status = 0;
  for (const auto& [name, count] : options.topics) {
    const std::string result = broker.create_topic(name, count > 0 ? count : options.partitions);
    if (result != "ok") {
      archer::log::error(kComponent, "cannot create topic {}: {}", name, result);
      status = 1;
    }
  }

  const std::string bootstrap = rd_kafka_mock_cluster_bootstraps(cluster);
  if (status == 0 && !options.bootstrap_file.empty()) {
    try {
      write_bootstrap_file(options.bootstrap_file, bootstrap);
    } catch (const std::exception& e) {
      archer::log::error(kComponent, "{}", e.what());
      status = 1;
    }
  }
  if (status == 0) {
    reply_line(bootstrap);
    archer::log::info(kComponent, "{} brokers up at {}", options.brokers, bootstrap);

    std::string pending;
    bool stdin_open = true;
    bool running = true;
    while (running) {
      pollfd fds[2] = {{signal_fd, POLLIN, 0}, {stdin_open ? STDIN_FILENO : -1, POLLIN, 0}};
      if (poll(fds, 2, -1) < 0) {
        if (errno == EINTR) continue;
        archer::log::error(kComponent, "poll: {}", std::strerror(errno));
        status = 1;
        break;
      }
      if (fds[0].revents != 0) {
        signalfd_siginfo info{};
        if (read(signal_fd, &info, sizeof info) == static_cast<ssize_t>(sizeof info)) {
          archer::log::info(kComponent, "signal {}: shutting down", strsignal(static_cast<int>(info.ssi_signo)));
          running = false;
          continue;
        }
      }
      if (stdin_open && fds[1].revents != 0) {
        char buffer[4096];
        const ssize_t n = read(STDIN_FILENO, buffer, sizeof buffer);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
          // The controller went away; the broker stays up until it is signalled.
          stdin_open = false;
          continue;
        }
        pending.append(buffer, static_cast<size_t>(n));
        for (size_t newline; (newline = pending.find('\n')) != std::string::npos;) {
          std::string line = pending.substr(0, newline);
          pending.erase(0, newline + 1);
          if (!line.empty() && line.back() == '\r') line.pop_back();
          if (line.find_first_not_of(" \t") == std::string::npos || line[line.find_first_not_of(" \t")] == '#') {
            continue;  // blank lines and comments get no reply
          }
          reply_line(broker.execute(line));
        }
      }
    }
  }

  rd_kafka_mock_cluster_destroy(cluster);
  rd_kafka_destroy(rk);
  close(signal_fd);
  if (status == 0 && !options.bootstrap_file.empty()) {
    std::error_code ec;
    std::filesystem::remove(options.bootstrap_file, ec);
  }
  return status;
}

}  // namespace

int main(int argc, char** argv) {
  const Options options = parse_options(argc, argv);
  return run(options);
}
