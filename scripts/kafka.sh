#!/usr/bin/env bash
# A real Apache Kafka broker on this machine, for the real-broker tests and the quickstart.
#
#   scripts/kafka.sh fetch                          copy Kafka's jars into the cache (once; offline after)
#   scripts/kafka.sh start [--dir DIR] [--port N]   one combined KRaft node on 127.0.0.1, left running
#   scripts/kafka.sh stop [--dir DIR]               SIGTERM, then wait for it to exit
#   scripts/kafka.sh status [--dir DIR]             running and answering? (exit 0) or not (exit 1)
#   scripts/kafka.sh home                           print the fetched installation's folder
#
# The version is $ARCHER_KAFKA_VERSION when set, else scripts/kafka/version (the default broker);
# scripts/kafka/scram-version names a second one, for the SCRAM login test only (see docs/kafka.md):
#   ARCHER_KAFKA_VERSION=$(cat scripts/kafka/scram-version) scripts/kafka.sh fetch
# The jars live in ${XDG_CACHE_HOME:-$HOME/.cache}/archer/kafka-<version>/libs, complete once the
# marker file `fetched` exists beside them. DIR (default: .kafka/ at the repository root) holds the broker's
# config, data, pid file and logs; a second start on the same DIR keeps the data.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$here")
version=${ARCHER_KAFKA_VERSION:-$(tr -d '[:space:]' <"$here/kafka/version")}
[[ "$version" =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || {
  printf 'kafka.sh: ARCHER_KAFKA_VERSION or scripts/kafka/version: "%s" is not a version like 4.1.2\n' "$version" >&2
  exit 2
}
user_home=${HOME:-$(getent passwd "$(id -u)" | cut -d: -f6)}
home=${XDG_CACHE_HOME:-$user_home/.cache}/archer/kafka-$version
libs=$home/libs
marker=$home/fetched
heap=512m
start_timeout=90

usage() {
  sed -n '2,16s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"
}

die() {
  printf 'kafka.sh: %s\n' "$*" >&2
  exit 1
}

usage_error() {
  printf 'kafka.sh: %s (see scripts/kafka.sh --help)\n' "$*" >&2
  exit 2
}

# --- fetch --------------------------------------------------------------------------------------
fetch() {
  [ -f "$marker" ] && { echo "$home"; return 0; }
  command -v java >/dev/null || die "java is not installed (Debian: openjdk-17-jre-headless)"
  command -v mvn >/dev/null || die "mvn is not installed (Debian: maven)"
  mkdir -p "$home"
  # Two fetches at once (setup and a test run, say) take turns; the second finds the marker.
  exec 8>"$home.lock"
  flock 8
  if [ ! -f "$marker" ]; then
    echo "kafka.sh: fetching Apache Kafka $version into $home" >&2
    rm -rf "$libs" "$libs.partial"
    if ! mvn -B -q -f "$here/kafka/pom.xml" -Dkafka.version="$version" dependency:copy-dependencies \
      -DincludeScope=runtime -DoutputDirectory="$libs.partial" >"$home/fetch.log" 2>&1; then
      tail -n 20 "$home/fetch.log" >&2
      die "mvn could not fetch Kafka $version (log: $home/fetch.log)"
    fi
    ls "$libs.partial"/kafka_2.13-"$version".jar >/dev/null || die "the fetch has no kafka_2.13-$version.jar"
    mv "$libs.partial" "$libs"
    # Written last: its presence means the folder is complete.
    ls "$libs" >"$marker.partial"
    mv "$marker.partial" "$marker"
  fi
  exec 8>&-
  echo "$home"
}

need_fetched() {
  [ -f "$marker" ] || die "Kafka $version is not fetched: run scripts/kafka.sh fetch"
  command -v java >/dev/null || die "java is not installed"
}

# --- run ----------------------------------------------------------------------------------------
# shellcheck source=scripts/lib/processes.sh
source "$here/lib/processes.sh"

running_pid() {
  local pid
  [ -f "$dir/kafka.pid" ] || return 1
  pid=$(cat "$dir/kafka.pid")
  alive "$pid" || return 1
  echo "$pid"
}

# A KRaft cluster id: 16 random bytes in URL-safe base64 without padding, as StorageTool random-uuid
# prints them (saves a JVM start).
cluster_id() { head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n'; }

write_config() {
  local port=$1 controller_port=$2
  cat >"$dir/server.properties" <<EOF
# Written by scripts/kafka.sh: one combined KRaft node (broker and controller) on loopback.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$controller_port
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$controller_port
advertised.listeners=PLAINTEXT://127.0.0.1:$port
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
log.dirs=$dir/data
num.partitions=1
default.replication.factor=1
auto.create.topics.enable=true
offsets.topic.replication.factor=1
offsets.topic.num.partitions=3
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=3
group.initial.rebalance.delay.ms=0
EOF
  cat >"$dir/log4j2.properties" <<EOF
# Warnings and errors only, to kafka.log beside this file.
status = warn
appender.file.type = File
appender.file.name = file
appender.file.fileName = $dir/kafka.log
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = warn
rootLogger.appenderRef.file.ref = file
EOF
}

# A small heap and the serial collector: a test broker on a shared 2-core machine.
java_args() {
  java_cmd=(java "-Xmx$heap" -XX:+UseSerialGC -Djava.awt.headless=true
    "-Dlog4j2.configurationFile=$dir/log4j2.properties" -cp "$libs/*")
}

# True when a metadata request to 127.0.0.1:PORT answers and lists this node.
answers() { kcat -L -b "127.0.0.1:$1" -m 2 2>/dev/null | grep -q "broker 1 at 127.0.0.1:$1"; }

# start_on PORT: starts the broker on PORT and waits until it answers; 1 when it exited, 2 on timeout.
start_on() {
  local port=$1 controller_port pid
  controller_port=$(free_port) || die "found no free loopback port"
  [ "$controller_port" != "$port" ] || controller_port=$(free_port) || die "found no free loopback port"
  write_config "$port" "$controller_port"
  java_args
  if [ ! -f "$dir/data/meta.properties" ]; then
    "${java_cmd[@]}" kafka.tools.StorageTool format -t "$(cluster_id)" -c "$dir/server.properties" \
      >"$dir/format.log" 2>&1 || { cat "$dir/format.log" >&2; die "formatting the storage in $dir/data failed"; }
  fi
  : >"$dir/kafka.out"
  # Its own session: a Ctrl-C in the terminal that ran `start` does not reach the broker.
  setsid "${java_cmd[@]}" kafka.Kafka "$dir/server.properties" </dev/null >>"$dir/kafka.out" 2>&1 &
  pid=$!
  echo "$pid" >"$dir/kafka.pid"
  local deadline=$((SECONDS + start_timeout))
  while [ $SECONDS -lt $deadline ]; do
    alive "$pid" || return 1
    if answers "$port"; then
      echo "127.0.0.1:$port" >"$dir/bootstrap"
      return 0
    fi
    sleep 0.2
  done
  return 2
}

start() {
  local port=$1 attempts=1 status
  need_fetched
  command -v kcat >/dev/null || die "kcat is not installed (scripts/setup.sh installs it)"
  mkdir -p "$dir"
  if pid=$(running_pid); then
    die "a broker already runs from $dir (pid $pid, $(cat "$dir/bootstrap" 2>/dev/null)); stop it first"
  fi
  [ -n "$port" ] || attempts=3
  for attempt in $(seq "$attempts"); do
    local try_port=$port
    if [ -z "$try_port" ]; then
      try_port=$(free_port) || die "found no free loopback port"
    elif port_in_use "$try_port"; then
      die "port $try_port is in use"
    fi
    status=0
    start_on "$try_port" || status=$?
    if [ "$status" -eq 0 ]; then
      echo "bootstrap.servers=127.0.0.1:$try_port"
      return 0
    fi
    if [ "$status" -eq 2 ]; then
      stop_broker 30 >/dev/null 2>&1 || true
      tail -n 20 "$dir/kafka.out" "$dir/kafka.log" >&2 || true
      die "the broker did not answer metadata requests within ${start_timeout}s (logs in $dir)"
    fi
    rm -f "$dir/kafka.pid"
    # Most likely another process took a port between our check and the broker's bind.
    [ "$attempt" -lt "$attempts" ] || {
      tail -n 20 "$dir/kafka.out" "$dir/kafka.log" >&2 || true
      die "the broker exited during startup (logs in $dir)"
    }
  done
}

# stop_broker SECONDS: SIGTERM, wait up to SECONDS, then SIGKILL.
stop_broker() {
  local pid
  pid=$(running_pid) || { rm -f "$dir/kafka.pid"; echo "kafka.sh: no broker runs from $dir"; return 0; }
  terminate "$pid" "$1" "kafka.sh: the broker (pid $pid)"
  while alive "$pid"; do sleep 0.1; done
  rm -f "$dir/kafka.pid"
  echo "kafka.sh: stopped the broker (pid $pid)"
}

status() {
  local pid bootstrap
  if ! pid=$(running_pid); then
    echo "not running ($dir)"
    return 1
  fi
  bootstrap=$(cat "$dir/bootstrap" 2>/dev/null || true)
  if [ -n "$bootstrap" ] && answers "${bootstrap##*:}"; then
    echo "running: pid $pid, bootstrap.servers=$bootstrap, Kafka $version ($dir)"
    return 0
  fi
  echo "pid $pid runs but does not answer metadata requests${bootstrap:+ at $bootstrap} ($dir)"
  return 1
}

# --- arguments ----------------------------------------------------------------------------------
[ $# -ge 1 ] || usage_error "missing command"
command=$1
shift
dir=$root/.kafka
port=""
while [ $# -gt 0 ]; do
  case "$1" in
    --dir)
      [ $# -ge 2 ] || usage_error "--dir needs a value"
      dir=$2
      shift 2
      ;;
    --port)
      [ $# -ge 2 ] || usage_error "--port needs a value"
      [ "$command" = start ] || usage_error "--port goes with start"
      [[ "$2" =~ ^[1-9][0-9]{0,4}$ ]] && [ "$2" -le 65535 ] || usage_error "--port takes a port number, not '$2'"
      port=$2
      shift 2
      ;;
    -h | --help)
      usage
      exit 0
      ;;
    *) usage_error "unknown argument '$1'" ;;
  esac
done
mkdir -p "$(dirname "$dir")"
dir=$(cd "$(dirname "$dir")" && pwd)/$(basename "$dir")

case "$command" in
  fetch) fetch ;;
  home)
    [ -f "$marker" ] || die "Kafka $version is not fetched: run scripts/kafka.sh fetch"
    echo "$home"
    ;;
  start) start "$port" ;;
  stop) stop_broker 60 ;;
  status) status ;;
  -h | --help | help) usage ;;
  *) usage_error "unknown command '$command'" ;;
esac
