#!/usr/bin/env bash
# Installs the Debian (bookworm) packages kiemidi needs, but only those that are missing, so it is
# cheap to run every time. One line per package set; apt's own output is shown only when it fails.
# Usage: scripts/install-deps.sh [set]...   sets: build boost libraries redis monitoring benchmarks fuzz browser proxy midi docs packaging (default: all)
set -euo pipefail

declare -A sets=(
    [build]="g++ cmake ninja-build pkg-config openssl ca-certificates mold"
    [boost]="libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev libboost-test1.81-dev libboost-program-options1.81-dev"
    [libraries]="libssl-dev libsqlite3-dev libhiredis-dev"
    [redis]="redis-server"
    # promtool lints the metrics exposition; a prometheus server scrapes `kiemidi batch --metrics-port`.
    [monitoring]="prometheus"
    [benchmarks]="libbenchmark-dev"
    [fuzz]="clang libclang-rt-14-dev"
    [browser]="chromium zlib1g-dev"
    # The proxy tests start their own tinyproxy on a loopback port.
    [proxy]="tinyproxy"
    # An independent MIDI library reads the written files back in the tests (tempo map, meter, note times).
    [midi]="python3 python3-mido"
    # The API reference (scripts/api-docs.sh): Doxygen, and python3 to read its XML.
    [docs]="doxygen python3"
    # scripts/package.sh: dpkg-shlibdeps computes the Debian packages' Depends, make builds the
    # pkg-config consumer, groff checks the man page, curl reads the emulator's counters.
    [packaging]="dpkg-dev make groff-base curl"
)
order=(build boost libraries redis monitoring benchmarks fuzz browser proxy midi docs packaging)
wanted=("$@")
[ ${#wanted[@]} -eq 0 ] && wanted=("${order[@]}")

sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then
    sudo_cmd=(sudo)
fi
export DEBIAN_FRONTEND=noninteractive
log=$(mktemp)
trap 'rm -f "$log"' EXIT
updated=0

for set in "${wanted[@]}"; do
    if [ -z "${sets[$set]+x}" ]; then
        echo "scripts/install-deps.sh: unknown package set '$set' (${order[*]})" >&2
        exit 2
    fi
    missing=()
    for p in ${sets[$set]}; do
        if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
            missing+=("$p")
        fi
    done
    if [ ${#missing[@]} -eq 0 ]; then
        printf 'kiemidi: apt %-10s already installed\n' "$set"
        continue
    fi
    printf 'kiemidi: apt %-10s installing %s ... ' "$set" "${missing[*]}"
    start=$(date +%s)
    if { [ "$updated" -eq 1 ] || "${sudo_cmd[@]}" apt-get update -q; } >>"$log" 2>&1 &&
        "${sudo_cmd[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}" >>"$log" 2>&1; then
        updated=1
        echo "done ($(($(date +%s) - start)) s)"
        if [ "$set" = proxy ]; then
            # Debian starts a system tinyproxy on port 8888; the tests start their own, so none stays running.
            { "${sudo_cmd[@]}" systemctl disable --now tinyproxy || "${sudo_cmd[@]}" service tinyproxy stop; } >>"$log" 2>&1 || true
        fi
    else
        echo "FAILED"
        cat "$log" >&2
        exit 1
    fi
done
