#!/usr/bin/env bash
# Installs what is missing, builds with warnings as errors, runs every test; exits non-zero on any
# failure.
#
#   ./scripts/test.sh
#   CMAKE_ARGS=-DARCHER_SANITIZE=ON BUILD_DIR=build-asan ./scripts/test.sh   # ASan + UBSan build
#   ARCHER_FUZZ=1 ./scripts/test.sh                                          # also the fuzz tests
#
# Environment:
#   BUILD_DIR    build folder, relative to the repository root (default: build)
#   CMAKE_ARGS   extra arguments for cmake's configure step (split on spaces)
#   ARCHER_FUZZ  1 to run the tests labelled `fuzz` as well (default: skipped)
#   TEST_JOBS    tests run side by side (default: twice the cores)
# Tests labelled `bench` never run here.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

build_dir=${BUILD_DIR:-build}
[[ "$build_dir" = /* ]] || build_dir=$PWD/$build_dir
read -r -a extra_cmake_args <<<"${CMAKE_ARGS:-}"
jobs=$(nproc)
# Tests mostly wait on brokers and devices: two at a time per core (tests/CMakeLists.txt).
test_jobs=${TEST_JOBS:-$((2 * jobs))}
exclude='bench|fuzz'
if [ "${ARCHER_FUZZ:-0}" = "1" ]; then
  exclude='bench'
fi

step() { printf '\n==> %s\n' "$*"; }
started=$SECONDS
fail() {
  printf '\n==> FAILED: %s (after %ds)\n' "$1" "$((SECONDS - started))" >&2
  exit 1
}

step "setup: checking the Debian packages"
./scripts/setup.sh || fail "setup"

step "configure: $build_dir (RelWithDebInfo, warnings are errors${CMAKE_ARGS:+, $CMAKE_ARGS})"
cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DARCHER_WERROR=ON \
  "${extra_cmake_args[@]}" || fail "configure"

step "build: ninja -j$jobs"
ninja -C "$build_dir" -j"$jobs" || fail "build"

step "test: ctest -j$test_jobs (all labels except ${exclude/|/ and })"
if ! ctest --test-dir "$build_dir" --output-on-failure --timeout 600 -j"$test_jobs" -LE "$exclude"; then
  fail "tests (see the output above; full log: $build_dir/Testing/Temporary/LastTest.log)"
fi

printf '\n==> OK: built and tested in %s in %ds\n' "$build_dir" "$((SECONDS - started))"
