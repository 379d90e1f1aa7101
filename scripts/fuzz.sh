#!/usr/bin/env bash
# Runs every libFuzzer target (tests/fuzz) for a while, one after another, under ASan + UBSan, and
# prints for each: executions, executions per second, coverage (libFuzzer's final cov: and ft:),
# corpus size and whether it found anything. Exits non-zero when any target found something.
#
#   ./scripts/fuzz.sh                                  # every target, FUZZ_SECONDS each
#   FUZZ_SECONDS=60 ./scripts/fuzz.sh config_loader    # some targets only, one minute each
#   ./scripts/fuzz.sh --list                           # the targets' names
#
# Installs clang if it is missing (Debian's clang, idempotently, as scripts/setup.sh does), configures
# a clang build folder with -DARCHER_SANITIZE=ON and builds only the fuzzers and their seeds.
# What a target finds is kept as crash-*, leak-*, timeout-* or oom-* in $BUILD_DIR/fuzz/<target>/;
# replay one with `$BUILD_DIR/bin/<target>_fuzzer FILE`. New inputs go to a scratch corpus in the
# build tree ($BUILD_DIR/tests/fuzz/corpus/<target>); a finding's input, once fixed, belongs in the
# committed corpus (tests/fuzz/corpus/<target>/) as a regression seed.
#
# Environment:
#   FUZZ_SECONDS  how long each target runs (default: 600)
#   BUILD_DIR     build folder, relative to the repository root (default: build-fuzz)
#   FUZZ_ARGS     extra libFuzzer flags (split on spaces), e.g. -jobs=2 -workers=2
#   FUZZ_STATS    a file the summary lines are appended to as well (default: $BUILD_DIR/fuzz/stats.txt)
#   FUZZ_BUILD    0 to run the fuzzers already built in $BUILD_DIR without configuring or building
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

targets=(validator spool_record json_convert topic_template config_loader device_response transaction http_request)

if [ "${1:-}" = "--list" ]; then
  printf '%s\n' "${targets[@]}"
  exit 0
fi
if [ $# -gt 0 ]; then
  for wanted in "$@"; do
    printf '%s\n' "${targets[@]}" | grep -qx "$wanted" || { echo "fuzz.sh: no target '$wanted' (--list)" >&2; exit 2; }
  done
  targets=("$@")
fi

seconds=${FUZZ_SECONDS:-600}
build_dir=${BUILD_DIR:-build-fuzz}
[[ "$build_dir" = /* ]] || build_dir=$PWD/$build_dir
read -r -a fuzz_args <<<"${FUZZ_ARGS:-}"
stats_file=${FUZZ_STATS:-$build_dir/fuzz/stats.txt}

if [ "${FUZZ_BUILD:-1}" != "0" ]; then
  # Debian's clang, and the libFuzzer and sanitizer runtimes of its version (only recommended by it).
  install() {
    echo "fuzz.sh: installing $*"
    local sudo_cmd=()
    [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
    DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get update -q
    DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -q --no-install-recommends "$@"
  }
  installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
  installed clang || install clang
  runtime="libclang-rt-$(clang++ -dumpversion | cut -d. -f1)-dev"
  installed "$runtime" || install "$runtime"
  ./scripts/setup.sh

  launcher=()
  if command -v ccache >/dev/null; then
    launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache)
  fi
  cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DARCHER_WERROR=ON -DARCHER_SANITIZE=ON \
    -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ "${launcher[@]}" >/dev/null
  ninja -C "$build_dir" -j"$(nproc)" "${targets[@]/%/_fuzzer}"
  # What the binaries were built from, for the summary (FUZZ_BUILD=0 runs read it too).
  mkdir -p "$build_dir/fuzz"
  echo "$(git rev-parse --short HEAD)$(git diff --quiet HEAD -- . || echo +changes)" >"$build_dir/fuzz/built-from"
fi
built_from=$(cat "$build_dir/fuzz/built-from" 2>/dev/null || echo unknown)

mkdir -p "$(dirname "$stats_file")"
found=0
for target in "${targets[@]}"; do
  out=$build_dir/fuzz/$target
  scratch=$build_dir/tests/fuzz/corpus/$target
  mkdir -p "$out" "$scratch"
  rm -f "$out"/crash-* "$out"/leak-* "$out"/timeout-* "$out"/oom-*
  corpora=("$scratch")
  for dir in "$build_dir/tests/fuzz/corpus/$target-generated" "tests/fuzz/corpus/$target"; do
    [ -d "$dir" ] && corpora+=("$dir")
  done
  echo "==> $target: ${seconds}s, built from $built_from (log: $out/log.txt)"
  status=0
  UBSAN_OPTIONS=print_stacktrace=1 "$build_dir/bin/${target}_fuzzer" -max_total_time="$seconds" -timeout=10 \
    -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$out/" "${fuzz_args[@]}" "${corpora[@]}" \
    >"$out/log.txt" 2>&1 || status=$?
  executions=$(sed -n 's/^stat::number_of_executed_units: *//p' "$out/log.txt" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$out/log.txt" | tail -1)
  last=$(grep -E '^#[0-9]+' "$out/log.txt" | grep -E 'cov: ' | tail -1 || true)
  cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
  ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
  corpus=$(sed -n 's/.* corp: \([0-9]*\/[0-9A-Za-z]*\).*/\1/p' <<<"$last")
  findings=$(find "$out" -maxdepth 1 \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' -o -name 'oom-*' \) | wc -l)
  verdict="nothing found"
  if [ "$findings" -gt 0 ] || [ "$status" -ne 0 ]; then
    verdict="FOUND $findings (exit $status): $(find "$out" -maxdepth 1 -name '*-*' ! -name log.txt -printf '%f ' )"
    found=1
  fi
  line="$target: built from $built_from, ${seconds}s, executions ${executions:-?}, exec/s ${rate:-?}, cov ${cov:-?}, ft ${ft:-?}, corpus ${corpus:-?}: $verdict"
  echo "$line"
  echo "$(date -u +%FT%TZ) $line" >>"$stats_file"
done
exit $found
