#pragma once
// Turns Nagle's algorithm off on this process's MQTT connections. Paho C 1.3.11 leaves it on and has
// no hook to reach its sockets, so a small publish written while the previous small packet (a PUBACK)
// is unacknowledged waits for the peer's delayed ACK: about 40 ms on Linux, on every request and
// every device answer. Nothing else in the process is touched: only TCP sockets whose peer port is
// the broker's get TCP_NODELAY (harmless on any other socket that happens to share that port).
// Any thread; a few system calls per open descriptor, no name resolution.
#include <string_view>

namespace archer {

// The port of an MQTT URI (tcp://, ssl://, mqtt://, mqtts://, ws://, wss://; Paho's defaults when
// the URI names none), or 0 when it cannot tell.
int mqtt_uri_port(std::string_view uri);

// Sets TCP_NODELAY on every TCP socket of the process connected to `port` that lacks it; returns
// how many it changed.
int disable_nagle_to_port(int port);

}  // namespace archer
