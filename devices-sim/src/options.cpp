#include "archer/devsim/options.h"

#include <charconv>
#include <cmath>
#include <limits>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "archer/core/toml_reader.h"
#include "archer/core/units.h"

namespace archer::devsim {
namespace {

constexpr std::string_view kKindNames[kKindCount] = {"env", "valve", "meter"};
constexpr std::string_view kFaultNames[kFaultCount] = {"none",         "random_bytes", "truncated", "wrong_schema",
                                                       "wrong_device", "oversize",     "bad_json"};

bool parse_int(std::string_view text, long long& out) {
  const auto* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, out);
  return ec == std::errc() && ptr == end && !text.empty();
}

bool parse_double(std::string_view text, double& out) {
  const auto* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, out);
  return ec == std::errc() && ptr == end && !text.empty() && std::isfinite(out);
}

// "20" (seconds), "1.5" (seconds) or a unit: "500ms", "5s", "2m", "1h".
bool parse_time(std::string_view text, std::chrono::milliseconds& out, std::string& error) {
  double seconds = 0;
  if (parse_double(text, seconds)) {
    if (seconds < 0) {
      error = "must not be negative";
      return false;
    }
    out = std::chrono::milliseconds(std::llround(seconds * 1000));
    return true;
  }
  auto parsed = parse_duration(text, error);
  if (!parsed) return false;
  out = *parsed;
  return true;
}

bool parse_ratio(std::string_view text, double& out, std::string& error) {
  if (!parse_double(text, out) || out < 0 || out > 1) {
    error = fmt::format("expected a ratio between 0 and 1, found '{}'", text);
    return false;
  }
  return true;
}

bool parse_bool(std::string_view text, bool& out, std::string& error) {
  if (text == "true" || text == "1" || text == "yes") {
    out = true;
  } else if (text == "false" || text == "0" || text == "no") {
    out = false;
  } else {
    error = fmt::format("expected true or false, found '{}'", text);
    return false;
  }
  return true;
}

template <class Int>
bool parse_count(std::string_view text, Int& out, long long min, long long max, std::string& error) {
  long long value = 0;
  if (!parse_int(text, value) || value < min || value > max) {
    error = fmt::format("expected an integer from {} to {}, found '{}'", min, max, text);
    return false;
  }
  out = static_cast<Int>(value);
  return true;
}

bool parse_kinds(std::string_view text, std::vector<std::pair<Kind, double>>& out, std::string& error) {
  std::vector<std::pair<Kind, double>> kinds;
  while (!text.empty()) {
    const auto comma = text.find(',');
    std::string_view item = text.substr(0, comma);
    text = comma == std::string_view::npos ? std::string_view() : text.substr(comma + 1);
    double weight = 1;
    if (const auto colon = item.find(':'); colon != std::string_view::npos) {
      if (!parse_double(item.substr(colon + 1), weight) || weight < 0) {
        error = fmt::format("bad weight in '{}' (expected kind or kind:weight)", item);
        return false;
      }
      item = item.substr(0, colon);
    }
    auto kind = parse_kind(item);
    if (!kind) {
      error = fmt::format("unknown device kind '{}' (env, valve, meter)", item);
      return false;
    }
    kinds.emplace_back(*kind, weight);
  }
  double total = 0;
  for (const auto& [kind, weight] : kinds) total += weight;
  if (kinds.empty() || total <= 0) {
    error = "expected at least one kind with a positive weight";
    return false;
  }
  out = std::move(kinds);
  return true;
}

std::string normalize(std::string_view name) {
  std::string out(name);
  for (char& c : out) {
    if (c == '_') c = '-';
  }
  return out;
}

}  // namespace

std::string_view kind_name(Kind kind) { return kKindNames[static_cast<int>(kind)]; }

std::optional<Kind> parse_kind(std::string_view text) {
  if (text == "env" || text == "environment") return Kind::environment;
  if (text == "valve") return Kind::valve;
  if (text == "meter") return Kind::meter;
  return std::nullopt;
}

std::string_view fault_name(Fault fault) { return kFaultNames[static_cast<int>(fault)]; }

namespace {

enum class Applied { ok, bad_value, unknown };

// Sets one option by its normalized name ("fault-oversize"); `why` says what is wrong with a bad value.
Applied apply(Options& o, const std::string& name, std::string_view value, std::string& why) {
  bool ok = true;
  auto fail = [&](std::string message) {
    why = std::move(message);
    ok = false;
  };
  if (name == "uri") {
    o.uri = value;
  } else if (name == "mqtt-version") {
    if (value == "5")
      o.mqtt_version = 5;
    else if (value == "3" || value == "3.1.1" || value == "311" || value == "4")
      o.mqtt_version = 3;
    else
      fail(fmt::format("expected 5 or 3 (3.1.1), found '{}'", value));
  } else if (name == "qos") {
    ok = parse_count(value, o.qos, 0, 2, why);
  } else if (name == "connections") {
    ok = parse_count(value, o.connections, 0, 100000, why);
  } else if (name == "client-id-prefix") {
    o.client_id_prefix = value;
  } else if (name == "max-inflight") {
    ok = parse_count(value, o.max_inflight, 1, 65535, why);
  } else if (name == "username") {
    o.username = std::string(value);
  } else if (name == "password") {
    o.password = std::string(value);
  } else if (name == "devices") {
    ok = parse_count(value, o.devices, 1, 1000000, why);
  } else if (name == "kinds") {
    ok = parse_kinds(value, o.kinds, why);
  } else if (name == "rate") {
    if (!parse_double(value, o.rate) || o.rate < 0)
      fail(fmt::format("expected messages per second >= 0, found '{}'", value));
  } else if (name == "interval") {
    std::chrono::milliseconds ms{};
    ok = parse_time(value, ms, why);
    if (ok && ms.count() <= 0) fail("must be positive");
    if (ok) o.interval = ms;
  } else if (name == "jitter") {
    ok = parse_ratio(value, o.jitter, why);
  } else if (name == "duration") {
    ok = parse_time(value, o.duration, why);
  } else if (name == "clock-skew") {
    ok = parse_time(value, o.clock_skew, why);
  } else if (name == "valve-speed") {
    if (!parse_double(value, o.valve_speed) || o.valve_speed <= 0)
      fail(fmt::format("expected percent per second > 0, found '{}'", value));
  } else if (name == "seed") {
    ok = parse_count(value, o.seed, 0, std::numeric_limits<long long>::max(), why);
  } else if (name == "telemetry-topic") {
    o.telemetry_topic = value;
  } else if (name == "status-topic") {
    o.status_topic = value;
  } else if (name == "format") {
    if (value == "flatbuffers" || value == "binary")
      o.json_ratio = 0;
    else if (value == "json")
      o.json_ratio = 1;
    else if (value == "mixed")
      o.json_ratio = 0.5;
    else
      fail(fmt::format("expected flatbuffers, json or mixed, found '{}'", value));
  } else if (name == "json-ratio") {
    ok = parse_ratio(value, o.json_ratio, why);
  } else if (name == "traceparent") {
    ok = parse_bool(value, o.traceparent, why);
  } else if (name == "command-topic") {
    o.command_topic = value;
  } else if (name == "response-topic") {
    o.response_topic = value;
  } else if (name == "response-latency") {
    // "50ms" (fixed) or "10ms..200ms" (uniform)
    const auto dots = value.find("..");
    std::chrono::milliseconds low{}, high{};
    if (dots == std::string_view::npos) {
      ok = parse_time(value, low, why);
      high = low;
    } else {
      ok = parse_time(value.substr(0, dots), low, why) && parse_time(value.substr(dots + 2), high, why);
      if (ok && high < low) fail("the maximum is below the minimum");
    }
    if (ok) {
      o.latency_min = low;
      o.latency_max = high;
    }
  } else if (name == "reject-ratio") {
    ok = parse_ratio(value, o.reject_ratio, why);
  } else if (name == "no-answer-ratio") {
    ok = parse_ratio(value, o.no_answer_ratio, why);
  } else if (name == "late-ratio") {
    ok = parse_ratio(value, o.late_ratio, why);
  } else if (name == "late-delay") {
    ok = parse_time(value, o.late_delay, why);
  } else if (name == "twice-ratio") {
    ok = parse_ratio(value, o.twice_ratio, why);
  } else if (name == "remember") {
    ok = parse_count(value, o.remember, 1, 100000000, why);
  } else if (name.starts_with("fault-")) {
    std::string fault = name.substr(6);
    for (char& c : fault) {
      if (c == '-') c = '_';
    }
    bool known = false;
    for (int i = 1; i < kFaultCount; ++i) {
      if (fault == kFaultNames[i]) {
        known = true;
        ok = parse_ratio(value, o.fault_ratio[i], why);
      }
    }
    if (!known) return Applied::unknown;
  } else if (name == "oversize-bytes") {
    auto size = parse_size(value, why);
    if (size)
      o.oversize_bytes = *size;
    else
      ok = false;
  } else if (name == "disconnect-every") {
    ok = parse_time(value, o.disconnect_every, why);
  } else if (name == "disconnect-mode") {
    if (value == "clean")
      o.disconnect_mode = DisconnectMode::clean;
    else if (value == "unclean")
      o.disconnect_mode = DisconnectMode::unclean;
    else
      fail(fmt::format("expected clean or unclean, found '{}'", value));
  } else if (name == "reconnect-after") {
    ok = parse_time(value, o.reconnect_after, why);
  } else if (name == "report") {
    o.report_file = value;
  } else if (name == "progress") {
    if (value == "auto")
      o.progress = Progress::automatic;
    else if (value == "always")
      o.progress = Progress::always;
    else if (value == "never")
      o.progress = Progress::never;
    else
      fail(fmt::format("expected auto, always or never, found '{}'", value));
  } else if (name == "log-level") {
    if (value == "debug" || value == "info" || value == "warn" || value == "error")
      o.log_level = value;
    else
      fail(fmt::format("expected debug, info, warn or error, found '{}'", value));
  } else if (name == "log-format") {
    if (value == "text" || value == "logfmt" || value == "json")
      o.log_format = value;
    else
      fail(fmt::format("expected text, logfmt or json, found '{}'", value));
  } else {
    return Applied::unknown;
  }
  return ok ? Applied::ok : Applied::bad_value;
}

bool is_option(const std::string& name) {
  Options scratch;
  std::string why;
  return apply(scratch, name, "", why) != Applied::unknown;
}

}  // namespace

bool apply_option(Options& o, std::string_view raw_name, std::string_view value, std::string& error) {
  std::string why;
  switch (apply(o, normalize(raw_name), value, why)) {
    case Applied::ok:
      return true;
    case Applied::bad_value:
      error = fmt::format("{}: {}", raw_name, why);
      return false;
    case Applied::unknown:
      break;
  }
  error = fmt::format("unknown option '{}'", raw_name);
  return false;
}

std::string Options::validate() const {
  double faults = 0;
  for (int i = 1; i < kFaultCount; ++i) faults += fault_ratio[i];
  if (faults > 1.0 + 1e-9) return fmt::format("the fault ratios add up to {} (at most 1)", faults);
  if (reject_ratio + no_answer_ratio > 1.0 + 1e-9) return "reject_ratio + no_answer_ratio must be at most 1";
  if (connections > devices) return "more connections than devices";
  if (oversize_bytes == 0) return "oversize_bytes must be positive";
  for (const std::string* topic : {&telemetry_topic, &status_topic, &command_topic, &response_topic}) {
    if (topic->find("{device}") == std::string::npos) return fmt::format("topic '{}' must contain {{device}}", *topic);
  }
  if (traceparent && mqtt_version != 5) return "traceparent needs MQTT 5 (user properties)";
  return {};
}

std::vector<std::string> load_toml(Options& options, const std::string& file) {
  std::string error;
  std::optional<std::string> text = read_config_text(file, error);
  std::optional<toml::table> root = text ? parse_toml(*text, file, error) : std::nullopt;
  if (!root) return {error};
  ConfigErrors errors(file);
  {
    TableReader reader(*root, "", errors);
    // In file order, so that of two keys setting the same thing (format, json_ratio) the later wins.
    for (const auto& [key, node] : in_file_order(*root)) {
      const std::string name = normalize(key->str());
      if (name == "config") {
        reader.node(key->str());
        reader.error(key->str(), "not allowed in a config file");
        continue;
      }
      if (!is_option(name)) continue;  // left unasked: the reader reports it as an unknown key
      reader.node(key->str());
      std::optional<std::string> value = scalar_text(*node);
      if (!value) {
        reader.error(key->str(), fmt::format("expected a string, number or boolean, found {} (keys are top level)",
                                             type_name(*node)));
        continue;
      }
      std::string why;
      if (apply(options, name, *value, why) != Applied::ok) reader.error(key->str(), why);
    }
  }
  return errors.sorted();
}

ParseResult parse_args(int argc, const char* const* argv, Options& options, std::string& error) {
  struct Flag {
    std::string name;
    std::string value;
  };
  std::vector<Flag> flags;
  std::string config_file;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg == "-h" || arg == "--help") return ParseResult::help;
    if (arg == "--version") return ParseResult::version;
    if (!arg.starts_with("--") || arg.size() == 2) {
      error = fmt::format("unexpected argument '{}'", arg);
      return ParseResult::error;
    }
    arg.remove_prefix(2);
    Flag flag;
    if (const auto eq = arg.find('='); eq != std::string_view::npos) {
      flag.name = arg.substr(0, eq);
      flag.value = arg.substr(eq + 1);
    } else {
      flag.name = arg;
      if (flag.name == "traceparent") {
        flag.value = "true";
      } else if (i + 1 < argc) {
        flag.value = argv[++i];
      } else {
        error = fmt::format("--{} needs a value", flag.name);
        return ParseResult::error;
      }
    }
    if (flag.name == "config")
      config_file = flag.value;
    else
      flags.push_back(std::move(flag));
  }
  if (!config_file.empty()) {
    if (std::vector<std::string> problems = load_toml(options, config_file); !problems.empty()) {
      error = fmt::format("{}", fmt::join(problems, "\n"));
      return ParseResult::bad_config;
    }
  }
  for (const Flag& flag : flags) {
    std::string why;
    if (!apply_option(options, flag.name, flag.value, why)) {
      error = "--" + why;
      return ParseResult::error;
    }
  }
  if (auto problem = options.validate(); !problem.empty()) {
    error = problem;
    return ParseResult::error;
  }
  return ParseResult::run;
}

std::string usage() {
  return R"(Usage: archer-devsim [--config FILE] [options]

A simulated device fleet: environment sensors, valves and energy meters that publish telemetry
over MQTT, answer commands and can misbehave on purpose; also a load generator.
Every option is also a key of the TOML file (`--fault-oversize` = `fault_oversize`); flags win.

Broker and connections
  --uri URI                  broker (tcp://127.0.0.1:1883)
  --mqtt-version 5|3         MQTT 5 (default) or 3.1.1
  --qos 0|1|2                telemetry QoS (1)
  --connections K            multiplex the devices over K connections (default: one client per device,
                             client id = device id)
  --client-id-prefix P       client ids of multiplexed connections: P1..PK (devsim-)
  --max-inflight N           unacknowledged publishes per connection (64)
  --username U, --password P
Fleet
  --devices N                number of devices (10): env-0001, valve-0001, meter-0001, ...
  --kinds LIST               kinds and weights: env,valve,meter or env:3,valve:1 (equal thirds)
  --interval D               per-device telemetry period (1s); ignored with --rate
  --rate R                   total messages/s across the fleet, open-loop schedule
  --jitter F                 +- fraction of the period (0.1)
  --duration D               stop after D (20, 20s, 5m); default: until SIGINT/SIGTERM
  --clock-skew D             each device clock is off by up to +-D (0)
  --valve-speed P            valve travel in percent per second (20)
  --seed N                   random seed (default: random)
Telemetry
  --telemetry-topic T        (devices/{device}/telemetry)
  --status-topic T           retained online/offline presence (devices/{device}/status)
  --format F                 flatbuffers (default), json or mixed (half each)
  --json-ratio F             share of JSON messages, 0..1
  --traceparent              a W3C traceparent user property on every telemetry message (MQTT 5)
Commands
  --command-topic T          request topic (devices/{device}/commands)
  --response-topic T         answers when the request has no ResponseTopic, e.g. 3.1.1 (devices/{device}/responses)
  --response-latency L       50ms (fixed) or 10ms..200ms (uniform); default 0
  --reject-ratio F           share of commands rejected
  --no-answer-ratio F        share of commands acted on but never answered (a repeat is answered)
  --late-ratio F             share answered --late-delay later (10s)
  --twice-ratio F            share answered twice
  --remember N               interaction ids remembered per device for idempotence (10000)
Faults
  --fault-random-bytes F, --fault-truncated F, --fault-wrong-schema F, --fault-wrong-device F,
  --fault-oversize F, --fault-bad-json F
                             share of telemetry messages with that defect (exact over the run)
  --oversize-bytes S         size of an oversize payload (300KiB)
  --disconnect-every D       every device (connection) disconnects every D and reconnects
  --disconnect-mode M        clean (DISCONNECT) or unclean (the broker publishes the will) (clean)
  --reconnect-after D        pause before reconnecting (1s)
Report
  --report FILE              JSON summary written at the end
  --progress auto|always|never  one-line progress on stderr every second (auto: when a terminal)
  --log-level L              debug, info, warn, error (info)
  --log-format F             text, logfmt or json: the format of log lines on stderr (text)
  --config FILE              TOML file with any of the keys above
  --version, --help
)";
}

}  // namespace archer::devsim
