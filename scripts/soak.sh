#!/usr/bin/env bash
# The fault suite at full size: runs each scenario of tests/faults (the `faults` ctest label, which CI
# runs scaled down) one by one with the issue's rates and durations, prints each scenario's FIGURES
# line and a summary, and exits non-zero if any scenario fails.
#
#   ./scripts/soak.sh                      # every scenario (about 20 minutes)
#   ./scripts/soak.sh --only kafka_away    # one scenario (repeatable: --only a --only b)
#   ./scripts/soak.sh --list               # scenario names
#
# Options:
#   --only NAME        run only this scenario (may be given more than once)
#   --build-dir DIR    the build folder (default: build; relative to the repository root)
#   --no-build         do not build faults_test (and the programs it runs) first
#   --results DIR      where each scenario's full output goes (default: <build>/soak-<date>)
#   --list             print the scenario names and exit
#   --help             this text
#
# Sizes (environment; the defaults are the full-size runs, CI's are in tests/faults):
#   ARCHER_SOAK_RATE            messages/s from archer-devsim          (2000)
#   ARCHER_SOAK_DEVICES         simulated devices                      (200)
#   ARCHER_SOAK_SECONDS         load duration of most scenarios        (120; kill9 90, restarts 60)
#   ARCHER_KAFKA_AWAY_SECONDS   Kafka outage of kafka_away             (60; spool_full_* use 30)
#   ARCHER_SOAK_KILLS           kill -9 rounds                         (5)
#   ARCHER_RSS_BOUND_MIB        RSS bound of kafka_away / kafka_slow   (300)
# Every scenario's output (the bridge's log excerpts on failure) is kept under --results.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

usage() { sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d' | sed 's/^# \{0,1\}//'; }

# name | gtest filter | per-scenario environment (full size)
scenarios=(
  "kafka_away|Faults.KafkaAway|ARCHER_KAFKA_AWAY_SECONDS=${ARCHER_KAFKA_AWAY_SECONDS:-60} ARCHER_SOAK_SECONDS=$(( ${ARCHER_KAFKA_AWAY_SECONDS:-60} + 20 ))"
  "kafka_slow|Faults.KafkaSlow|ARCHER_SOAK_SECONDS=${ARCHER_SOAK_SECONDS:-120}"
  "mosquitto_restart|Faults.MosquittoRestart|ARCHER_SOAK_SECONDS=${ARCHER_SOAK_SECONDS:-60}"
  "sigterm|Faults.Sigterm|ARCHER_SOAK_SECONDS=${ARCHER_SOAK_SECONDS:-60}"
  "kill9|Faults.Kill9|ARCHER_SOAK_SECONDS=${ARCHER_SOAK_SECONDS:-90} ARCHER_SOAK_KILLS=${ARCHER_SOAK_KILLS:-5}"
  "spool_full_backpressure|Faults.SpoolFullBackpressure|ARCHER_SOAK_SECONDS=${ARCHER_SOAK_SECONDS:-60} ARCHER_KAFKA_AWAY_SECONDS=30"
  "spool_full_drop_oldest|Faults.SpoolFullDropOldest|ARCHER_SOAK_SECONDS=${ARCHER_SOAK_SECONDS:-60} ARCHER_KAFKA_AWAY_SECONDS=30"
  "fatal_producer_error|Faults.FatalProducerError|ARCHER_SOAK_SECONDS=${ARCHER_SOAK_SECONDS:-60} ARCHER_FATAL_AFTER=20000"
  "actuator_kafka_down|ActuatorFaults.ActuatorKafkaDown|ARCHER_ACTUATOR_AWAY_SECONDS=30"
)

only=()
build_dir=build
build=1
results=""
while [ $# -gt 0 ]; do
  case "$1" in
    --only) [ $# -ge 2 ] || { echo "--only needs a scenario name" >&2; exit 2; }; only+=("$2"); shift 2 ;;
    --only=*) only+=("${1#--only=}"); shift ;;
    --build-dir) [ $# -ge 2 ] || { echo "--build-dir needs a folder" >&2; exit 2; }; build_dir=$2; shift 2 ;;
    --no-build) build=0; shift ;;
    --results) [ $# -ge 2 ] || { echo "--results needs a folder" >&2; exit 2; }; results=$2; shift 2 ;;
    --list) for s in "${scenarios[@]}"; do echo "${s%%|*}"; done; exit 0 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
  esac
done

known=" "
for s in "${scenarios[@]}"; do known+="${s%%|*} "; done
for name in "${only[@]+"${only[@]}"}"; do
  [[ "$known" == *" $name "* ]] || { echo "unknown scenario: $name (known:$known)" >&2; exit 2; }
done

[[ "$build_dir" = /* ]] || build_dir=$PWD/$build_dir
if [ "$build" = 1 ]; then
  if [ ! -f "$build_dir/build.ninja" ]; then
    cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DARCHER_WERROR=ON
  fi
  ninja -C "$build_dir" faults_test
fi
binary=$build_dir/tests/faults/faults_test
[ -x "$binary" ] || { echo "no $binary: build it (without --no-build) first" >&2; exit 2; }
results=${results:-$build_dir/soak-$(date +%Y%m%d-%H%M%S)}
mkdir -p "$results"

export ARCHER_SOAK_RATE=${ARCHER_SOAK_RATE:-2000}
export ARCHER_SOAK_DEVICES=${ARCHER_SOAK_DEVICES:-200}
[ -z "${ARCHER_RSS_BOUND_MIB:-}" ] || export ARCHER_RSS_BOUND_MIB

printf 'soak: %s, %s msgs/s, %s devices, %s CPUs; output in %s\n' "$(uname -n)" "$ARCHER_SOAK_RATE" \
  "$ARCHER_SOAK_DEVICES" "$(nproc)" "$results"

failed=()
summary=()
for s in "${scenarios[@]}"; do
  IFS='|' read -r name filter env_list <<<"$s"
  if [ ${#only[@]} -gt 0 ] && [[ " ${only[*]} " != *" $name "* ]]; then continue; fi
  log=$results/$name.log
  printf '\n==> %s (%s; %s)\n' "$name" "$filter" "$env_list"
  started=$SECONDS
  status=0
  # shellcheck disable=SC2086 # env_list is NAME=value words
  env $env_list timeout --kill-after=30 3600 "$binary" --gtest_filter="$filter" --gtest_color=no >"$log" 2>&1 || status=$?
  figures=$(grep -E '^FIGURES ' "$log" || true)
  if [ "$status" -eq 0 ] && grep -qE '^\[  SKIPPED \]' "$log"; then verdict=SKIPPED
  elif [ "$status" -eq 0 ]; then verdict=PASSED
  else verdict="FAILED (exit $status)"; failed+=("$name")
  fi
  printf '%s\n' "${figures:-(no FIGURES line)}"
  if [ "$status" -ne 0 ]; then
    grep -E 'Failure|Expected|Which is|actual|error:' "$log" | head -n 20 | sed 's/^/    /' || true
  fi
  printf '%s: %s in %ds (log: %s)\n' "$name" "$verdict" "$((SECONDS - started))" "$log"
  summary+=("$(printf '%-26s %-18s %5ds' "$name" "$verdict" "$((SECONDS - started))")")
done

printf '\n==> summary\n'
printf '%s\n' "${summary[@]}"
grep -h -E '^FIGURES ' "$results"/*.log 2>/dev/null >"$results/figures.txt" || true
printf 'figures: %s\n' "$results/figures.txt"
if [ ${#failed[@]} -gt 0 ]; then
  printf 'FAILED: %s\n' "${failed[*]}" >&2
  exit 1
fi
