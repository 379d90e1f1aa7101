#!/usr/bin/env bash
# Installs exactly the Debian packages Archer Edge needs to build, test and run, then fetches the
# Apache Kafka broker the real-broker tests use (scripts/kafka.sh fetch; needs java and mvn).
# Idempotent: when everything is present it changes nothing and touches no network.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

packages=(
  build-essential cmake ninja-build pkg-config
  libpaho-mqttpp-dev libpaho-mqtt-dev
  librdkafka-dev
  libflatbuffers-dev flatbuffers-compiler
  libssl-dev
  libboost-dev
  libtomlplusplus-dev libfmt-dev
  liblmdb-dev
  libgtest-dev libgmock-dev
  mosquitto mosquitto-clients
  kcat
  python3-paho-mqtt python3-flatbuffers
  # the package test (tests/package): dpkg-shlibdeps for cpack, file, systemd-analyze
  dpkg-dev file systemd
  chromium  # headless, for the status page test (tests/integration/status_page_test.cpp)
)

missing=()
for package in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$package")
  fi
done

if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  sudo_cmd=()
  [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  export DEBIAN_FRONTEND=noninteractive
  "${sudo_cmd[@]}" apt-get update -q
  "${sudo_cmd[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
  # The packaged broker starts itself on port 1883; Archer's tests and quickstart run their own
  # brokers on free ports, so the system one is left as the administrator configured it.
fi

# A gateway needs no JVM: without java or mvn the real-broker tests (ctest label kafka) skip,
# saying why, and everything else works.
if ! command -v java >/dev/null || ! command -v mvn >/dev/null; then
  echo "setup: java or mvn is missing: the real Apache Kafka tests (label kafka) will be skipped"
  exit 0
fi
./scripts/kafka.sh fetch >/dev/null
# The older broker that Debian's librdkafka can log in to with SCRAM (docs/kafka.md, "Security").
ARCHER_KAFKA_VERSION=$(tr -d '[:space:]' <scripts/kafka/scram-version) ./scripts/kafka.sh fetch >/dev/null
