#!/usr/bin/env bash
# Installs exactly the Debian packages Archer Edge needs to build, test and run.
# Idempotent: when everything is present it changes nothing and touches no network.
set -euo pipefail

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
)

missing=()
for package in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$package")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "setup: installing ${missing[*]}"
sudo_cmd=()
[ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -q
"${sudo_cmd[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"

# The packaged broker starts itself on port 1883; Archer's tests and quickstart run their own
# brokers on free ports, so the system one is left as the administrator configured it.
