#!/usr/bin/env bash
# Archer Edge on one machine: installs what is missing, builds, starts Mosquitto, archer-devkafka (or,
# with --kafka apache, a real Apache Kafka node from scripts/kafka.sh), archer-bridge and a simulated
# fleet (archer-devsim) on loopback, shows telemetry reaching Kafka and
# a command's round trip to a simulated valve. Stops everything on Ctrl-C, or after --duration seconds.
#
# Everything it writes lives in .quickstart/ (emptied at each start): the generated configs, the
# logs, the broker's persistence and the bridge's spool.
set -euo pipefail

usage() {
  cat <<'EOF'
usage: ./scripts/quickstart.sh [--duration SECONDS] [--kafka devkafka|apache] [--help]

Builds Archer Edge into build/, then runs on loopback, from .quickstart/:
  mosquitto        an MQTT broker on a free port (config/mosquitto/quickstart.conf)
  archer-devkafka  a 3-broker development Kafka cluster (librdkafka's mock cluster), or with
                   --kafka apache a real Apache Kafka node (scripts/kafka.sh; needs java), its
                   topics created by archer-ctl topics --create
  archer-bridge    the gateway, with config/quickstart.toml pointed at the two above; its
                   status page is printed as "status page: http://127.0.0.1:PORT/"
  archer-devsim    12 simulated devices (env, valve, meter) publishing telemetry every second
shows telemetry in the raw datalog (one record decoded), a dead letter, and a command sent to
valve-0001 with its outcome and transaction timeline, then keeps running.

  --duration SECONDS  stop everything after SECONDS (default: run until Ctrl-C)
  --kafka KIND        devkafka (the default) or apache
  --help              print this help
EOF
}

duration=""
kafka_kind=devkafka
while [ $# -gt 0 ]; do
  case "$1" in
    --kafka)
      [ $# -ge 2 ] || { echo "quickstart: --kafka needs a value" >&2; exit 64; }
      kafka_kind=$2
      shift 2
      ;;
    --kafka=*)
      kafka_kind=${1#--kafka=}
      shift
      ;;
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
if [ "$kafka_kind" != devkafka ] && [ "$kafka_kind" != apache ]; then
  echo "quickstart: --kafka takes devkafka or apache, not '$kafka_kind'" >&2
  exit 64
fi
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
# alone, and the script stops them in order: the simulated devices first (they publish `offline`),
# then the bridge (it drains into Kafka), then Kafka, then the MQTT broker.
devsim_pid=""
bridge_pid=""
devkafka_pid=""
apache_pid=""
mosquitto_pid=""
sleep_pid=""

# stop_process NAME PID SECONDS: SIGTERM, wait up to SECONDS, then SIGKILL.
stop_process() {
  local name=$1 pid=$2 status=0
  [ -n "$pid" ] || return 0
  terminate "$pid" "$3" "quickstart: $name"
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
  if [ -n "$devsim_pid$bridge_pid$devkafka_pid$apache_pid$mosquitto_pid" ]; then
    say "stopping"
    stop_process archer-devsim "$devsim_pid" 10
    stop_process archer-bridge "$bridge_pid" 60
    stop_process archer-devkafka "$devkafka_pid" 10
    # Not our child: scripts/kafka.sh started it in a session of its own.
    [ -z "$apache_pid" ] || ./scripts/kafka.sh stop --dir "$run_dir/kafka" >/dev/null 9>&- ||
      echo "quickstart: stopping Apache Kafka failed (log: $run_dir/kafka/kafka.log)" >&2
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

# shellcheck source=scripts/lib/processes.sh
source "$root/scripts/lib/processes.sh"

# Escapes a string for the replacement side of a sed s### command.
sed_escape() { printf '%s' "$1" | sed -e 's/[\\#&]/\\&/g'; }

# --- install and build --------------------------------------------------------------------------
say "setup: checking the Debian packages"
./scripts/setup.sh

say "build: $build_dir"
if [ ! -f "$build_dir/build.ninja" ]; then
  cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo
fi
ninja -C "$build_dir" -j"$(nproc)" archer-bridge archer-devkafka archer-devsim archer-ctl archer_schemas_generate
if [ "$kafka_kind" = apache ]; then
  command -v java >/dev/null || die "--kafka apache needs java (Debian: openjdk-17-jre-headless)"
  ./scripts/kafka.sh fetch >/dev/null
fi
for program in archer-bridge archer-devkafka archer-devsim archer-ctl; do
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

# --- Kafka: archer-devkafka, or Apache Kafka ----------------------------------------------------
kafka_log=$run_dir/archer-devkafka.log
if [ "$kafka_kind" = apache ]; then
  say "starting Apache Kafka (scripts/kafka.sh start --dir $run_dir/kafka)"
  kafka_log=$run_dir/kafka/kafka.log
  kafka_out=$(./scripts/kafka.sh start --dir "$run_dir/kafka" 9>&-) || die "Apache Kafka did not start"
  apache_pid=$(cat "$run_dir/kafka/kafka.pid")
  bootstrap=${kafka_out#bootstrap.servers=}
  kafka_name="Apache Kafka ${ARCHER_KAFKA_VERSION:-$(cat scripts/kafka/version)}"
  topics_shown="as archer-ctl topics --create made them (see its output above)"
else
  say "starting archer-devkafka"
  kafka_name=archer-devkafka
  topics_shown=${kafka_topics//,/ }
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
fi
kafka_pid=${devkafka_pid:-$apache_pid}

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
if [ "$kafka_kind" = apache ]; then
  # A real cluster has the topics the config needs made with the settings of their kind.
  say "creating the topics: archer-ctl topics --config $run_dir/gateway.toml --create"
  "$bin/archer-ctl" topics --config "$run_dir/gateway.toml" --create | sed 's/^/  /' ||
    die "archer-ctl topics --create failed"
fi
setsid "$bin/archer-bridge" --config "$run_dir/gateway.toml" </dev/null >"$run_dir/archer-bridge.log" 2>&1 9>&- &
bridge_pid=$!
sleep 1
alive "$bridge_pid" || { tail_log "$run_dir/archer-bridge.log"; die "archer-bridge exited"; }
# http_status_line PATH: the status line of GET PATH on the bridge's HTTP port (bash's /dev/tcp, no
# client needed), or nothing when it does not answer.
http_status_line() {
  (
    exec 3<>"/dev/tcp/127.0.0.1/$http_port" || exit 1
    printf 'GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' "$1" >&3
    IFS= read -r -t 5 line <&3 && printf '%s' "${line%$'\r'}"
  ) 2>/dev/null || true
}
status_page="http://127.0.0.1:$http_port/"
http_status="not answering yet (see $run_dir/archer-bridge.log)"
for _ in $(seq 50); do
  if [ "$(http_status_line /)" = "HTTP/1.0 200 OK" ]; then
    http_status="${status_page}status.json  /metrics  /healthz  /readyz"
    break
  fi
  sleep 0.1
done

# --- archer-devsim -----------------------------------------------------------------------------
# A small fleet: env-0001.., valve-0001.., meter-0001.., one MQTT client per device (client id =
# device id), each with a retained `online` status and a last will of `offline` on
# devices/<id>/status. Half the telemetry is FlatBuffers, half JSON. The valves answer commands on
# devices/<id>/commands.
say "starting archer-devsim"
devsim_args=(--uri "$mqtt_uri" --devices 12 --kinds "env,valve,meter" --format mixed --interval 1s
  --progress never --report "$run_dir/devsim-report.json")
setsid "$bin/archer-devsim" "${devsim_args[@]}" </dev/null >"$run_dir/archer-devsim.log" 2>&1 9>&- &
devsim_pid=$!
sleep 1
alive "$devsim_pid" || { tail_log "$run_dir/archer-devsim.log"; die "archer-devsim exited"; }

config=$run_dir/gateway.toml
ctl=$bin/archer-ctl
cat <<EOF

Archer Edge is running (run folder $run_dir)
  mosquitto        pid $mosquitto_pid   MQTT   $mqtt_uri
  $(printf "%-15s" "$kafka_name")  pid $kafka_pid   Kafka  $bootstrap
                   topics $topics_shown
  archer-bridge    pid $bridge_pid   config $config
                   HTTP   $http_status
  status page: $status_page
  archer-devsim    pid $devsim_pid   12 devices: env-0001..0004 valve-0001..0004 meter-0001..0004
  logs             $run_dir/mosquitto.log
                   $kafka_log
                   $run_dir/archer-bridge.log
                   $run_dir/archer-devsim.log

Try, from another terminal:
  mosquitto_sub -p $mqtt_port -V mqttv5 -t 'devices/+/status' -v
  build/bin/archer-ctl tail raw.telemetry --config $config --follow
  build/bin/archer-ctl command --config $config --actuator valves --device valve-0002 --action set --arg percent=75 --wait 10s
  build/bin/archer-ctl tx --config $config --actuator valves --device valve-0002
  kcat -C -b $bootstrap -t dlq.telemetry -f '%k %h\n'

EOF

# --- show: telemetry, a dead letter, a command's round trip -------------------------------------
# The steps above are the quickstart's job; the ones below only show, so none of them fails the
# script: each says clearly when it did not work.
failed_shows=0
show_failed() {
  printf '  !! %s\n' "$*"
  failed_shows=$((failed_shows + 1))
}

# count_records TOPIC: the number of records in TOPIC (empty when kcat could not read it).
count_records() {
  local out
  out=$(timeout --foreground 10 kcat -C -b "$bootstrap" -t "$1" -o beginning -e -q -f '.\n' 2>>"$run_dir/kcat.log") || return 0
  printf '%s' "$out" | grep -c . || true
}

# A message whose payload names another device than its topic: it belongs in the dead-letter topic.
dead_letter_topic='devices/env-0002/telemetry'
dead_letter_payload='{"device":"env-9999","seq":1,"reading_type":"EnvironmentReading","reading":{"device":"env-9999","seq":1,"temperature_c":19.0,"humidity_pct":55.0,"co2_ppm":610}}'
say "publishing one message whose payload names another device than its topic"
echo "  $dead_letter_topic  $dead_letter_payload"
mosquitto_pub -h 127.0.0.1 -p "$mqtt_port" -V mqttv5 -q 1 -i quickstart-publisher \
  -D publish content-type application/json -t "$dead_letter_topic" -m "$dead_letter_payload" ||
  show_failed "mosquitto_pub to $dead_letter_topic failed"

echo
say "telemetry: letting the fleet publish for a few seconds"
sleep 5
telemetry_count=""
for _ in $(seq 10); do
  telemetry_count=$(count_records raw.telemetry)
  [ "${telemetry_count:-0}" -gt 0 ] && break
  sleep 1
done
if [ "${telemetry_count:-0}" -gt 0 ]; then
  echo "  $telemetry_count records in raw.telemetry"
else
  show_failed "no records in raw.telemetry (see $run_dir/archer-bridge.log and $run_dir/archer-devsim.log)"
fi

say "one record, decoded: archer-ctl tail raw.telemetry --config $config --count 1"
if record=$(timeout --foreground 20 "$ctl" tail raw.telemetry --config "$config" --count 1 2>"$run_dir/ctl.log") && [ -n "$record" ]; then
  printf '%s\n' "$record" | sed 's/^/  /'
else
  show_failed "archer-ctl tail printed no record ($run_dir/ctl.log)"
fi

say "dead letters: kcat -C -b $bootstrap -t dlq.telemetry -e -f '%k %h\\n'"
dlq=""
for _ in $(seq 10); do
  dlq=$(timeout --foreground 10 kcat -C -b "$bootstrap" -t dlq.telemetry -o beginning -e -q -f '%k %h\n' 2>>"$run_dir/kcat.log") || true
  [ -n "$dlq" ] && break
  sleep 0.5
done
if [ -n "$dlq" ]; then
  printf '%s\n' "$dlq" | sed 's/^/  /'
else
  show_failed "nothing in dlq.telemetry (see $run_dir/archer-bridge.log)"
fi

echo
presence=$(timeout --foreground 5 mosquitto_sub -h 127.0.0.1 -p "$mqtt_port" -V mqttv5 -t devices/valve-0001/status -C 1 -W 3 2>/dev/null) || true
say "presence: devices/valve-0001/status = ${presence:-(nothing retained)}"
say "command: archer-ctl command --config $config --actuator valves --device valve-0001 --action open --arg percent=40 --wait 10s"
command_status=0
command_out=$(timeout --foreground 30 "$ctl" command --config "$config" --actuator valves --device valve-0001 --action open \
  --arg percent=40 --wait 10s 2>>"$run_dir/ctl.log") || command_status=$?
command_id=$(printf '%s\n' "$command_out" | sed -n 1p)
outcome=$(printf '%s\n' "$command_out" | sed -n 2p)
[ -z "$outcome" ] || echo "  $outcome"
if [ -n "$outcome" ]; then
  # The first "status" is the outcome's; the device's answer has its own, later in the line.
  outcome_status=$(printf '%s' "$outcome" | grep -o '"status":"[A-Z_]*"' | head -n 1 | cut -d'"' -f4)
  latency_ms=$(printf '%s' "$outcome" | grep -o '"latency_ms":[0-9]*' | head -n 1 | cut -d: -f2)
  echo "  command $command_id: ${outcome_status:-?} in ${latency_ms:-?} ms"
  [ "$command_status" -eq 0 ] || show_failed "the command did not succeed (status ${outcome_status:-unknown})"
elif [ -n "$command_id" ]; then
  show_failed "command $command_id: no outcome within 10s (archer-ctl exit $command_status; see $run_dir/archer-bridge.log)"
else
  show_failed "the command was not written (archer-ctl exit $command_status; see $run_dir/ctl.log)"
fi
if [ -n "$command_id" ]; then
  say "its exchange: archer-ctl tx --config $config --actuator valves --command $command_id"
  if timeline=$(timeout --foreground 20 "$ctl" tx --config "$config" --actuator valves --command "$command_id" 2>>"$run_dir/ctl.log") &&
    [ -n "$timeline" ]; then
    printf '%s\n' "$timeline" | sed 's/^/  /'
  else
    show_failed "no transaction records for $command_id ($run_dir/ctl.log)"
  fi
fi
say "status page: GET $status_page"
status_line=$(http_status_line /)
if [ "$status_line" = "HTTP/1.0 200 OK" ]; then
  echo "  $status_line"
else
  show_failed "the status page does not answer at $status_page (${status_line:-no answer}; see $run_dir/archer-bridge.log)"
fi
if [ "$failed_shows" -gt 0 ]; then
  echo
  echo "quickstart: $failed_shows of the steps above did not work; the services keep running, logs in $run_dir" >&2
fi

# --- run until Ctrl-C or --duration -------------------------------------------------------------
echo
say "status page: $status_page (live while this runs)"
if [ -n "$duration" ]; then
  say "running for ${duration}s (Ctrl-C stops earlier)"
else
  say "running; Ctrl-C stops everything"
fi
started=$SECONDS
while [ -z "$duration" ] || [ $((SECONDS - started)) -lt "$duration" ]; do
  if ! alive "$kafka_pid"; then
    tail_log "$kafka_log"
    die "$kafka_name stopped unexpectedly"
  fi
  for service in mosquitto:$mosquitto_pid archer-bridge:$bridge_pid archer-devsim:$devsim_pid; do
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
