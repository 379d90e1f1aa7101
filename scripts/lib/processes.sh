# Process and loopback-port helpers for the scripts (sourced, not run).

# alive PID: true while the process runs.
alive() { [ -n "$1" ] && kill -0 "$1" 2>/dev/null; }

# terminate PID SECONDS LABEL: SIGTERM, up to SECONDS for it to end, then SIGKILL, saying so on
# stderr as "LABEL did not stop within SECONDSs; killing it".
terminate() {
  local pid=$1 grace=$(($2 * 10))
  alive "$pid" || return 0
  kill -TERM "$pid" 2>/dev/null || true
  while alive "$pid" && [ "$grace" -gt 0 ]; do
    sleep 0.1
    grace=$((grace - 1))
  done
  if alive "$pid"; then
    echo "$3 did not stop within $2s; killing it" >&2
    kill -KILL "$pid" 2>/dev/null || true
  fi
}

# port_in_use PORT: true when something accepts connections on 127.0.0.1:PORT.
port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# A port nobody listens on, below Linux's ephemeral range so outgoing connections do not take it.
free_port() {
  local port
  for _ in $(seq 100); do
    port=$((20000 + RANDOM % 12000))
    if ! port_in_use "$port"; then
      echo "$port"
      return 0
    fi
  done
  return 1
}
