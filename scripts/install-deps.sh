#!/usr/bin/env bash
# Installs the Debian (bookworm) packages kiemidi needs to build, test and run its demo,
# but only those that are missing, so it is cheap to run every time.
set -euo pipefail

packages=(
    g++ cmake ninja-build pkg-config openssl ca-certificates
    libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev libboost-test1.81-dev
    libboost-program-options1.81-dev
    libssl-dev libsqlite3-dev libbenchmark-dev
    libhiredis-dev redis-server
)

missing=()
for p in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$p")
    fi
done

if [ ${#missing[@]} -eq 0 ]; then
    exit 0
fi

echo "kiemidi: installing missing packages: ${missing[*]}"
sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then
    sudo_cmd=(sudo)
fi
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -q
"${sudo_cmd[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
