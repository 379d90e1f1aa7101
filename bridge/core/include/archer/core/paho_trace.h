#pragma once
// Paho C's in-memory trace turned down to errors, once per process, for every program whose MQTT
// clients are Paho's (the bridge's sessions, archer-devsim). Header only: include it where Paho is
// linked.
//
// Why: by default Paho C 1.3.11 formats every protocol event (each packet sent and received) into a
// ring buffer under one global mutex, whether or not anything ever reads it: in archer-bridge about
// 30,000 of the 120,000 instructions a reading cost (docs/performance.md). The buffer is read only
// when MQTT_C_CLIENT_TRACE asks Paho to print it; then Paho's level is left as it is.
#include <MQTTAsync.h>

#include <cstdlib>
#include <mutex>

namespace archer {

inline void quiet_paho_trace() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (std::getenv("MQTT_C_CLIENT_TRACE") == nullptr) MQTTAsync_setTraceLevel(MQTTASYNC_TRACE_ERROR);
  });
}

}  // namespace archer
