#!/usr/bin/env bash
# The benchmarks (ctest label `bench`, never run by scripts/test.sh or CI): builds Release in
# build-release/, runs the label with its output, then prints the figure lines and the machine's load.
#
#   ./scripts/bench.sh                 # spool_bench and ingest_bench
#   ./scripts/bench.sh IngestBench     # only the tests whose name matches (ctest -R, case-sensitive)
#   ./scripts/bench.sh ApacheKafka     # only ingest_bench's arm on a real Apache Kafka node
#   ./scripts/bench.sh actuation_bench # commands/s and round trips to 1,000 valves over a ladder of rates
#
# ingest_bench runs each case on archer-devkafka and again on one Apache Kafka node (cases
# fixed_apache and high_apache, the same ratio to the mosquitto_sub baseline); the real-broker arm
# needs java and the jars of `scripts/kafka.sh fetch` (it is fetched here when java and mvn are
# there) and is skipped otherwise.
#
# Environment:
#   BUILD_DIR              build folder, relative to the repository root (default: build-release)
#   JOBS                   build jobs (default: nproc)
#   ARCHER_BENCH_RATE      ingest_bench's fixed rate, readings/s       (5000)
#   ARCHER_BENCH_HIGH_RATE ingest_bench's high-rate case, readings/s   (15000)
#   ARCHER_BENCH_SECONDS   how long each ingest case publishes          (20)
#                          (actuation_bench: how long each step writes commands, 10; its other knobs,
#                          ARCHER_BENCH_COMMAND_RATES, ARCHER_BENCH_ROUNDS, ARCHER_BENCH_BROKERS, ..., are
#                          listed at the top of tests/bench/actuation_bench.cpp)
# Figures depend on what else the machine runs: compare runs made on the same, otherwise idle, box.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

build_dir=${BUILD_DIR:-build-release}
[[ "$build_dir" = /* ]] || build_dir=$PWD/$build_dir
jobs=${JOBS:-$(nproc)}
filter=${1:-}

step() { printf '\n==> %s\n' "$*"; }

step "configure: $build_dir (Release)"
cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null

step "build: the benchmarks and the programs they run (ninja -j$jobs)"
ninja -C "$build_dir" -j"$jobs" spool_bench ingest_bench actuation_bench archer-bridge archer-devsim archer-devkafka

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
grep -E '^[0-9]+: (BENCH|ACTUATION|spool_bench|baseline|spool|  |ratios|load)' "$log" | sed -E 's/^[0-9]+: //' || true
if [ "$status" -ne 0 ]; then
  printf '\n==> FAILED (see %s)\n' "$log" >&2
  exit "$status"
fi
