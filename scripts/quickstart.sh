#!/usr/bin/env bash
# Archer Edge on one machine: installs what is missing, builds, starts Mosquitto, archer-devkafka and
# archer-bridge on loopback, publishes sample telemetry and shows what reached Kafka. Stops everything
# on Ctrl-C, or after --duration seconds.
#
# Everything it writes lives in .quickstart/ (emptied at each start): the generated configs, the
# logs, the broker's persistence and the bridge's spool.
set -euo pipefail

usage() {
  cat <<'EOF'
usage: ./scripts/quickstart.sh [--duration SECONDS] [--help]

Builds Archer Edge into build/, then runs on loopback, from .quickstart/:
  mosquitto        an MQTT broker on a free port (config/mosquitto/quickstart.conf)
  archer-devkafka  a 3-broker development Kafka cluster (librdkafka's mock cluster)
  archer-bridge    the gateway, with config/quickstart.toml pointed at the two above
publishes a few sample telemetry messages and prints the raw datalog, then keeps running.

  --duration SECONDS  stop everything after SECONDS (default: run until Ctrl-C)
  --help              print this help
EOF
}

duration=""
while [ $# -gt 0 ]; do
  case "$1" in
    --duration)
      [ $# -ge 2 ] || { echo "quickstart: --duration needs a value" >&2; exit 64; }
      duration=$2
      shift 2
      ;;
    --duration=*)
      duration=${1#--duration=}
      shift
      ;;
    -h | --help)
      usage
      exit 0
      ;;
    *)
      echo "quickstart: unknown argument '$1'" >&2
      usage >&2
      exit 64
      ;;
  esac
done
if [ -n "$duration" ] && ! [[ "$duration" =~ ^[1-9][0-9]*$ ]]; then
  echo "quickstart: --duration takes a whole number of seconds, not '$duration'" >&2
  exit 64
fi

cd "$(dirname "${BASH_SOURCE[0]}")/.."
root=$PWD
build_dir=$root/build
bin=$build_dir/bin
run_dir=$root/.quickstart
mosquitto=/usr/sbin/mosquitto
kafka_topics=raw.telemetry:6,dlq.telemetry:3,cmd.valves:6,tx.valves:6,evt.valves:6

say() { printf '==> %s\n' "$*"; }
die() {
  printf 'quickstart: %s\n' "$*" >&2
  exit 1
}

# --- processes ----------------------------------------------------------------------------------
# Each service runs in its own session (setsid), so a Ctrl-C in the terminal reaches this script
# alone, and the script stops them in order: the bridge first (it drains into Kafka), then Kafka,
# then the MQTT broker.
bridge_pid=""
devkafka_pid=""
mosquitto_pid=""
sleep_pid=""

alive() { [ -n "$1" ] && kill -0 "$1" 2>/dev/null; }

# stop_process NAME PID SECONDS: SIGTERM, wait up to SECONDS, then SIGKILL.
stop_process() {
  local name=$1 pid=$2 deadline=$(($3 * 10)) status=0
  [ -n "$pid" ] || return 0
  if alive "$pid"; then
    kill -TERM "$pid" 2>/dev/null || true
    while alive "$pid" && [ "$deadline" -gt 0 ]; do
      sleep 0.1
      deadline=$((deadline - 1))
    done
    if alive "$pid"; then
      echo "quickstart: $name did not stop within $3s; killing it" >&2
      kill -KILL "$pid" 2>/dev/null || true
    fi
  fi
  wait "$pid" 2>/dev/null || status=$?
  if [ "$status" -ne 0 ] && [ "$status" -ne 143 ]; then
    echo "quickstart: $name exited with status $status (log: $run_dir/$name.log)" >&2
  fi
}

cleaned_up=0
cleanup() {
  local status=$?
  [ "$cleaned_up" -eq 0 ] || return 0
  cleaned_up=1
  trap '' INT TERM HUP
  if [ -n "$sleep_pid" ]; then
    kill "$sleep_pid" 2>/dev/null || true
    wait "$sleep_pid" 2>/dev/null || true
  fi
  if [ -n "$bridge_pid$devkafka_pid$mosquitto_pid" ]; then
    say "stopping"
    stop_process archer-bridge "$bridge_pid" 60
    stop_process archer-devkafka "$devkafka_pid" 10
    stop_process mosquitto "$mosquitto_pid" 10
    echo "stopped"
  fi
  exit "$status"
}
trap cleanup EXIT
trap 'exit 0' INT TERM HUP

tail_log() {
  echo "---- last lines of $1 ----" >&2
  tail -n 20 "$1" >&2 || true
  echo "----" >&2
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

# Escapes a string for the replacement side of a sed s### command.
sed_escape() { printf '%s' "$1" | sed -e 's/[\\#&]/\\&/g'; }

# --- install and build --------------------------------------------------------------------------
say "setup: checking the Debian packages"
./scripts/setup.sh

say "build: $build_dir"
if [ ! -f "$build_dir/build.ninja" ]; then
  cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo
fi
ninja -C "$build_dir" -j"$(nproc)" archer-bridge archer-devkafka archer_schemas_generate
for program in archer-bridge archer-devkafka; do
  [ -x "$bin/$program" ] || die "$bin/$program was not built"
done

# --- run folder ---------------------------------------------------------------------------------
mkdir -p "$run_dir"
exec 9>"$run_dir/.lock"
flock -n 9 || die "another quickstart is running from $run_dir"
find "$run_dir" -mindepth 1 -maxdepth 1 ! -name .lock -exec rm -rf {} +
mkdir -p "$run_dir/mosquitto"

# --- Mosquitto ----------------------------------------------------------------------------------
start_mosquitto() {
  local port=$1
  sed -e "s#^listener .*#listener $port 127.0.0.1#" \
    -e "s#^persistence_location .*#persistence_location $(sed_escape "$run_dir/mosquitto/")#" \
    config/mosquitto/quickstart.conf >"$run_dir/mosquitto.conf"
  # Started as root, mosquitto switches to this user; naming ourselves keeps the run folder writable.
  echo "user $(id -un)" >>"$run_dir/mosquitto.conf"
  setsid "$mosquitto" -c "$run_dir/mosquitto.conf" </dev/null >"$run_dir/mosquitto.log" 2>&1 9>&- &
  mosquitto_pid=$!
  for _ in $(seq 100); do
    alive "$mosquitto_pid" || return 1
    port_in_use "$port" && return 0
    sleep 0.1
  done
  return 1
}

say "starting mosquitto"
mqtt_port=""
for attempt in 1 2 3; do
  port=$(free_port) || die "found no free loopback port"
  if start_mosquitto "$port"; then
    mqtt_port=$port
    break
  fi
  # Most likely someone took the port between our check and mosquitto's bind: try another one.
  stop_process mosquitto "$mosquitto_pid" 5
  mosquitto_pid=""
  [ "$attempt" -lt 3 ] || { tail_log "$run_dir/mosquitto.log"; die "mosquitto did not start"; }
done
mqtt_uri="tcp://127.0.0.1:$mqtt_port"

# --- archer-devkafka ----------------------------------------------------------------------------
say "starting archer-devkafka"
bootstrap_file=$run_dir/kafka.bootstrap
setsid "$bin/archer-devkafka" --brokers 3 --topics "$kafka_topics" --bootstrap-file "$bootstrap_file" \
  </dev/null >"$run_dir/archer-devkafka.log" 2>&1 9>&- &
devkafka_pid=$!
bootstrap=""
for _ in $(seq 300); do
  alive "$devkafka_pid" || { tail_log "$run_dir/archer-devkafka.log"; die "archer-devkafka exited"; }
  if [ -s "$bootstrap_file" ]; then
    bootstrap=$(head -n 1 "$bootstrap_file")
    if kcat -L -b "$bootstrap" -m 2 >/dev/null 2>&1; then
      break
    fi
    bootstrap=""
  fi
  sleep 0.1
done
[ -n "$bootstrap" ] || { tail_log "$run_dir/archer-devkafka.log"; die "archer-devkafka did not answer within 30s"; }

# --- archer-bridge ------------------------------------------------------------------------------
# The gateway config is config/quickstart.toml with the real endpoints, a free HTTP port, and its
# relative paths made absolute (they are relative to config/, and the copy lives elsewhere).
say "starting archer-bridge"
http_port=$(free_port) || die "found no free loopback port"
config_dir=$(sed_escape "$root/config/")
sed -e "s#^uri = .*#uri = \"$mqtt_uri\"#" \
  -e "s#^\"bootstrap.servers\" = .*#\"bootstrap.servers\" = \"$(sed_escape "$bootstrap")\"#" \
  -e "s#^listen = .*#listen = \"127.0.0.1:$http_port\"#" \
  -e "s#^\(\(schema\|dir\|password_file\|ca_file\|cert_file\|key_file\) = \"\)\([^/\"][^\"]*\"\)#\1$config_dir\3#" \
  config/quickstart.toml >"$run_dir/gateway.toml"
"$bin/archer-bridge" --config "$run_dir/gateway.toml" --check-config
setsid "$bin/archer-bridge" --config "$run_dir/gateway.toml" </dev/null >"$run_dir/archer-bridge.log" 2>&1 9>&- &
bridge_pid=$!
sleep 1
alive "$bridge_pid" || { tail_log "$run_dir/archer-bridge.log"; die "archer-bridge exited"; }
http_status="not served by this build yet"
for _ in $(seq 20); do
  if port_in_use "$http_port"; then
    http_status="http://127.0.0.1:$http_port/metrics  /healthz  /readyz"
    break
  fi
  sleep 0.1
done

cat <<EOF

Archer Edge is running (run folder $run_dir)
  mosquitto        pid $mosquitto_pid   MQTT   $mqtt_uri
  archer-devkafka  pid $devkafka_pid   Kafka  $bootstrap
                   topics ${kafka_topics//,/ }
  archer-bridge    pid $bridge_pid   config $run_dir/gateway.toml
                   HTTP   $http_status
  logs             $run_dir/mosquitto.log
                   $run_dir/archer-devkafka.log
                   $run_dir/archer-bridge.log

Try, from another terminal:
  mosquitto_sub -p $mqtt_port -V mqttv5 -t 'devices/#' -v
  kcat -C -b $bootstrap -t raw.telemetry -f '%k %h %S bytes\n'
  kcat -C -b $bootstrap -t dlq.telemetry -f '%k %h\n'

EOF

# --- sample telemetry ---------------------------------------------------------------------------
# Three device kinds as JSON (the bridge converts JSON with the schema), and one message whose
# payload names another device than its topic: that one belongs in the dead-letter topic.
samples=(
  'devices/env-001/telemetry|{"device":"env-001","seq":1,"reading_type":"EnvironmentReading","reading":{"device":"env-001","seq":1,"temperature_c":21.5,"humidity_pct":40.0,"co2_ppm":420}}'
  'devices/env-001/telemetry|{"device":"env-001","seq":2,"reading_type":"EnvironmentReading","reading":{"device":"env-001","seq":2,"temperature_c":21.6,"humidity_pct":40.2,"co2_ppm":424}}'
  'devices/valve-001/telemetry|{"device":"valve-001","seq":1,"reading_type":"ValveReading","reading":{"device":"valve-001","seq":1,"position_pct":0.0,"target_pct":0.0,"state":"CLOSED","flow_lpm":0.0}}'
  'devices/meter-001/telemetry|{"device":"meter-001","seq":1,"reading_type":"MeterReading","reading":{"device":"meter-001","seq":1,"energy_wh":1532.25,"power_w":412.0,"voltage_v":230.1}}'
  'devices/env-002/telemetry|{"device":"env-999","seq":1,"reading_type":"EnvironmentReading","reading":{"device":"env-999","seq":1,"temperature_c":19.0,"humidity_pct":55.0,"co2_ppm":610}}'
)
say "publishing ${#samples[@]} sample telemetry messages (JSON, QoS 1, MQTT 5)"
for sample in "${samples[@]}"; do
  topic=${sample%%|*}
  payload=${sample#*|}
  echo "  $topic  $payload"
  mosquitto_pub -h 127.0.0.1 -p "$mqtt_port" -V mqttv5 -q 1 -i quickstart-publisher \
    -D publish content-type application/json -t "$topic" -m "$payload" ||
    echo "quickstart: mosquitto_pub to $topic failed" >&2
done

# What reached Kafka. The steps above this one are the quickstart's job; this one only shows, so it
# never fails the script.
# show_topic TOPIC FORMAT COUNT SECONDS: prints the topic's records, waiting up to SECONDS for COUNT.
show_topic() {
  local topic=$1 format=$2 expected=$3 deadline=$((SECONDS + $4)) out=""
  while :; do
    out=$(timeout 10 kcat -C -b "$bootstrap" -t "$topic" -o beginning -e -q -f "$format" 2>>"$run_dir/kcat.log") || true
    if [ "$(printf '%s' "$out" | grep -c .)" -ge "$expected" ] || [ "$SECONDS" -ge "$deadline" ]; then
      break
    fi
    sleep 0.5
  done
  if [ -n "$out" ]; then
    printf '%s\n' "$out" | sed 's/^/  /'
  else
    echo "  (nothing in $topic yet; see $run_dir/archer-bridge.log)"
  fi
}
echo
say "raw datalog: kcat -C -b $bootstrap -t raw.telemetry -e -f '%k %h %S bytes\\n'"
show_topic raw.telemetry '%k %h %S bytes\n' 4 5
say "dead letters: kcat -C -b $bootstrap -t dlq.telemetry -e -f '%k %h\\n'"
show_topic dlq.telemetry '%k %h\n' 1 2

# --- run until Ctrl-C or --duration -------------------------------------------------------------
echo
if [ -n "$duration" ]; then
  say "running for ${duration}s (Ctrl-C stops earlier)"
else
  say "running; Ctrl-C stops everything"
fi
started=$SECONDS
while [ -z "$duration" ] || [ $((SECONDS - started)) -lt "$duration" ]; do
  for service in mosquitto:$mosquitto_pid archer-devkafka:$devkafka_pid archer-bridge:$bridge_pid; do
    if ! alive "${service#*:}"; then
      tail_log "$run_dir/${service%%:*}.log"
      die "${service%%:*} stopped unexpectedly"
    fi
  done
  sleep 1 &
  sleep_pid=$!
  wait "$sleep_pid" || true
  sleep_pid=""
done
