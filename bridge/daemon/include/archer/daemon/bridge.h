#pragma once
// The running gateway: wires the MQTT session, the Kafka producer and every configured component
// together, and owns the process's event loop (signals, periodic stats).
//
// Lifecycle: run() starts everything and returns when a stop signal has been handled:
// stop intake (MQTT disconnect, session kept) -> drain the ingest queue -> flush Kafka with a
// deadline -> return.
#include <memory>

#include "archer/core/config.h"

namespace archer::daemon {

// Runs the gateway until SIGTERM/SIGINT. Returns the process exit code.
int run_bridge(const Config& config);

// --replay: every [[actuator]] section's command log answered from its transaction log into
// <events>.replay; no MQTT connection is made. Returns the exit code.
int run_replay(const Config& config, bool from_beginning);

}  // namespace archer::daemon
