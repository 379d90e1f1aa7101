#!/usr/bin/env bash
# The benchmarks (ctest label `bench`, never run by scripts/test.sh or CI): installs what they need,
# builds Release in build-release/, runs the label with its output, then turns ingest_bench's ladder
# into tables and a plot (build-release/bench/ladder.md, ladder.svg) for docs/performance.md.
#
#   ./scripts/bench.sh                 # every benchmark (the full ladder takes about an hour)
#   ./scripts/bench.sh IngestBench     # only the tests whose name matches (ctest -R, case-sensitive)
#   ARCHER_BENCH_ROUNDS=1 ARCHER_BENCH_RATES=2000,max ./scripts/bench.sh IngestBench   # a short look
#   ./scripts/bench.sh actuation_bench # commands/s and round trips to 1,000 valves over a ladder of rates
#   ./scripts/bench.sh IngestBench.Soak  # 10 minutes from 10,000 devices: archer-bridge's memory over time
#
# ingest_bench runs its ladder on archer-devkafka and on one Apache Kafka node; the real-broker half
# needs java and the jars of `scripts/kafka.sh fetch` (fetched here when java and mvn are there) and
# is skipped otherwise. Its knobs (ARCHER_BENCH_RATES, _QOS, _ARMS, _BROKERS, _ROUNDS, _SECONDS,
# _DEVICES) are described at the top of tests/bench/ingest_bench.cpp.
#
# Environment:
#   BUILD_DIR              build folder, relative to the repository root (default: build-release)
#   JOBS                   build jobs (default: nproc)
#   ARCHER_BENCH_SECONDS   seconds of feed per step (ingest_bench, 10) or of commands (actuation_bench, 10);
#                          actuation_bench's other knobs (ARCHER_BENCH_COMMAND_RATES, _ROUNDS, _BROKERS, ...) are
#                          listed at the top of tests/bench/actuation_bench.cpp
# Figures depend on what else the machine runs: compare runs made on the same, otherwise idle, box.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

build_dir=${BUILD_DIR:-build-release}
[[ "$build_dir" = /* ]] || build_dir=$PWD/$build_dir
jobs=${JOBS:-$(nproc)}
filter=${1:-}

step() { printf '\n==> %s\n' "$*"; }

step "setup: the benchmark's own packages (the script arm's Python Kafka client, libmosquitto for the mosq arm, gnuplot)"
missing=()
for package in python3-confluent-kafka python3-paho-mqtt gnuplot-nox libmosquitto-dev; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo_cmd=()
  [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

step "configure: $build_dir (Release)"
cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null

step "build: the benchmarks and the programs they run (ninja -j$jobs)"
ninja -C "$build_dir" -j"$jobs" spool_bench ingest_bench hot_path_bench actuation_bench naive_bridge mosquitto_bridge \
  archer-bridge archer-devsim archer-devkafka

if command -v java >/dev/null && command -v mvn >/dev/null; then
  step "Apache Kafka for the real-broker arm: scripts/kafka.sh fetch"
  scripts/kafka.sh fetch
fi

step "machine: $(nproc) cores, $(uptime)"
log=$build_dir/bench-$(date +%Y%m%d-%H%M%S).log
ctest_args=(--test-dir "$build_dir" -L bench -V --timeout 1800)
[ -n "$filter" ] && ctest_args+=(-R "$filter")
step "run: ctest ${ctest_args[*]} (full output: $log)"
status=0
ctest "${ctest_args[@]}" 2>&1 | tee "$log" || status=$?

step "figures (load after: $(uptime | sed 's/.*load average/load average/'))"
grep -E '^[0-9]+: (BENCH|ACTUATION|SOAK_SUMMARY|spool_bench|baseline|spool|  |ratios|load)' "$log" | sed -E 's/^[0-9]+: //' || true
if grep -qE "LADDER broker=|SOAK_SUMMARY|ACTUATION broker=|BENCH hot_path arm=" "$log"; then
  step "the tables: $build_dir/bench/ladder.md"
  /usr/bin/python3 scripts/bench/ladder_report.py "$log" "$build_dir/bench"
fi
if grep -q "LADDER broker=" "$log"; then
  step "the plot: $build_dir/bench/ladder.svg"
  gnuplot -e "dir='$build_dir/bench'; out='$build_dir/bench/ladder.svg'" scripts/bench/ladder.gp
fi
if [ "$status" -ne 0 ]; then
  printf '\n==> FAILED (see %s)\n' "$log" >&2
  exit "$status"
fi
