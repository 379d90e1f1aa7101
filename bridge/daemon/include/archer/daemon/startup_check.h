#pragma once
// Everything archer-bridge builds from its config when it starts, built once without connecting to
// anything: every [[ingest]] schema loaded and verified, with its Validator (bind fields against the
// schema, the JSON parser); the librdkafka configurations of the producers and the readers (their
// defaults with [kafka] on top) and a client made from each, so librdkafka runs its own checks; the
// MQTT TLS files read; the [http] address parsed. Secret files are read (and judged) by the config
// loader itself (archer/core/secret_file.h).
//
// `archer-bridge --check-config` runs it, and so does every start (and every SIGHUP reload) before
// anything else, so a check and a start cannot disagree about a config.
//
// Not checked, because they need the network or the spool's lock (which a running bridge holds while
// an operator checks its next config): brokers reachable, topics present, the spool directory usable.
#include <string>
#include <vector>

#include "archer/core/config.h"

namespace archer::daemon {

// Every problem, as "file:line:col: key: message", in file order; empty when startup can go ahead.
std::vector<std::string> check_startup(const Config& config);

}  // namespace archer::daemon
