#!/usr/bin/env bash
# Builds kiemidi's Debian packages and proves them as a user would: a release build of the shared
# libraries in its own build directory (build/package), `cpack -G DEB` (libkiemidiMAJOR,
# libkiemidi-dev, kiemidi), `apt-get install ./*.deb` into this machine, then a consumer built
# with find_package(kiemidi) and another built with a plain Makefile through
# `pkg-config --cflags --libs kiemidi`, both run; `kiemidi --version`, the man page (groff -ww) and
# bash completion, and `kiemidi run` against a `kiemidi emulator` on 127.0.0.1. Finally the packages are purged and nothing of them may be
# left under /usr. Needs root (or sudo) for apt-get; the packages end up in build/package/.
# Usage: scripts/package.sh [--keep]   (--keep: leave the packages installed)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
start=$(date +%s)
keep=0
[ "${1:-}" = "--keep" ] && keep=1

bash scripts/install-deps.sh build boost libraries packaging

sudo_cmd=()
[ "$(id -u)" -ne 0 ] && sudo_cmd=(sudo)
export DEBIAN_FRONTEND=noninteractive
build=build/package
jobs=$(nproc 2>/dev/null || echo 2)
work=$(mktemp -d)
log=$work/step.log
emulator_pid=
packages=()
cleanup() {
    if [ -n "$emulator_pid" ]; then
        kill "$emulator_pid" 2>/dev/null || true
        wait "$emulator_pid" 2>/dev/null || true
    fi
    if [ "$keep" -eq 0 ] && [ ${#packages[@]} -gt 0 ]; then
        "${sudo_cmd[@]}" apt-get purge -y -q "${packages[@]}" >/dev/null 2>&1 || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT
# Runs a step quietly; its output is shown only when it fails.
quiet() {
    if ! "$@" >"$log" 2>&1; then
        cat "$log" >&2
        echo "kiemidi package: FAILED: $*" >&2
        exit 1
    fi
}
fail() { echo "kiemidi package: FAILED: $*" >&2; exit 1; }

version=$(sed -n 's/^project(kiemidi VERSION \([0-9.]*\).*/\1/p' CMakeLists.txt)
[ -n "$version" ] || fail "no version in CMakeLists.txt's project()"

launcher=()
if command -v ccache >/dev/null; then
    launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
    export CCACHE_SLOPPINESS=${CCACHE_SLOPPINESS:-pch_defines,time_macros,include_file_mtime,include_file_ctime}
fi
# Debian's optimisation level; the warnings are errors as in CI. A unity build of 4 sources per
# translation unit, as the test and release presets: the Beast, Asio and JSON templates are
# compiled once per batch (the release preset's build: 16 % less time).
echo "kiemidi package: configuring $build (release, shared, version $version)"
quiet cmake -S . -B "$build" -G Ninja "${launcher[@]}" \
    -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_FLAGS_RELEASE="-O2 -DNDEBUG" -DCMAKE_INSTALL_PREFIX=/usr \
    -DCMAKE_UNITY_BUILD=ON -DCMAKE_UNITY_BUILD_BATCH_SIZE=4 \
    -DBUILD_SHARED_LIBS=ON -DBUILD_TESTING=OFF -DKIEMIDI_WARNINGS_AS_ERRORS=ON \
    -DKIEMIDI_BUILD_EXAMPLES=OFF -DKIEMIDI_BUILD_BENCHMARKS=OFF
echo "kiemidi package: building with $jobs jobs"
cmake --build "$build" -j "$jobs"
rm -f "$build"/*.deb
quiet cpack --config "$build/CPackConfig.cmake" -B "$build" -G DEB
debs=("$build"/*.deb)
[ -e "${debs[0]}" ] || fail "cpack made no .deb"
for deb in "${debs[@]}"; do
    packages+=("$(dpkg-deb -f "$deb" Package)")
    echo "kiemidi package: $(basename "$deb"): Depends: $(dpkg-deb -f "$deb" Depends)"
done

# A clean machine: none of them installed before (an earlier --keep run is purged first).
"${sudo_cmd[@]}" apt-get purge -y -q "${packages[@]}" >/dev/null 2>&1 || true
echo "kiemidi package: apt-get install ${debs[*]##*/}"
quiet "${sudo_cmd[@]}" apt-get install -y -q --no-install-recommends "${debs[@]/#/$root/}"
files=$(dpkg -L "${packages[@]}" | sort -u)

echo "kiemidi package: the find_package(kiemidi) consumer"
quiet cmake -S tests/cmake_test -B "$work/cmake-consumer" -G Ninja -DCMAKE_BUILD_TYPE=Release "${launcher[@]}"
quiet cmake --build "$work/cmake-consumer"
ldd "$work/cmake-consumer/kiemidi_consumer" | grep -Eq "libkiemidi.so.${version%%.*} => (/usr)?/lib/" ||
    fail "the find_package consumer does not load the installed libkiemidi.so.${version%%.*}"
quiet "$work/cmake-consumer/kiemidi_consumer"

echo "kiemidi package: kiemidi --version"
kiemidi --version | tee "$work/version.txt"
head -n1 "$work/version.txt" | grep -qx "kiemidi $version" || fail "kiemidi --version does not say $version"
grep -q "^built with Boost [0-9.]* and OpenSSL " "$work/version.txt" || fail "kiemidi --version names no Boost/OpenSSL"
kiemidi-emulator --version | head -n1 | grep -qx "kiemidi-emulator $version" || fail "kiemidi-emulator --version"

echo "kiemidi package: man kiemidi, bash completion"
man_page=/usr/share/man/man1/kiemidi.1
[ -f "$man_page" ] || fail "no $man_page"
groff -ww -man -Tutf8 -z "$man_page" 2>"$work/groff.log" || fail "groff -ww $man_page failed"
[ ! -s "$work/groff.log" ] || { cat "$work/groff.log"; fail "groff -ww warns about $man_page"; }
completions=/usr/share/bash-completion/completions
# shellcheck disable=SC1091
completed=$(bash -c 'source "$1"; COMP_WORDS=(kiemidi ru); COMP_CWORD=1; _kiemidi; echo "${COMPREPLY[*]}";
                     COMP_WORDS=(kiemidi batch --max-c); COMP_CWORD=2; _kiemidi; echo "${COMPREPLY[*]}"' _ "$completions/kiemidi")
[ "$completed" = "$(printf 'run\n--max-credits')" ] || fail "bash completion of kiemidi: got '$completed'"
[ -f "$completions/kiemidi-emulator" ] || fail "no bash completion of kiemidi-emulator"

echo "kiemidi package: kiemidi run against kiemidi emulator"
kiemidi emulator --no-https >"$work/emulator.log" 2>&1 &
emulator_pid=$!
for _ in $(seq 100); do
    grep -q "api key:" "$work/emulator.log" && break
    sleep 0.1
done
base_url=$(sed -n 's/^ *http: *//p' "$work/emulator.log")
api_key=$(sed -n 's/^ *api key: *//p' "$work/emulator.log")
[ -n "$base_url" ] && [ -n "$api_key" ] || { cat "$work/emulator.log"; fail "kiemidi emulator did not start"; }
# One track: one paid separation and one paid MIDI generation.
quiet timeout 120 kiemidi run music-1 track-1 --base-url "$base_url" --api-key "$api_key" -o "$work/run" --name song
head -c4 "$work/run/song.mid" 2>/dev/null | grep -q MThd || fail "kiemidi run wrote no song.mid"
counters=$(curl -sf "$base_url/emulator/counters") || fail "no emulator counters"
for c in '"paid_separation_submissions":1' '"paid_midi_submissions":1' '"duplicate_paid_submissions":0'; do
    [[ $counters == *"$c"* ]] || fail "kiemidi run: expected $c in $counters"
done

echo "kiemidi package: the pkg-config consumer (plain Makefile)"
cp -r tests/pkg_config_test "$work/pkg-config-consumer"
quiet make -C "$work/pkg-config-consumer"
KIE_BASE_URL=$base_url KIE_API_KEY=$api_key quiet "$work/pkg-config-consumer/kiemidi_pkg_config_consumer"
kill "$emulator_pid"
wait "$emulator_pid" 2>/dev/null || true
emulator_pid=

if [ "$keep" -eq 1 ]; then
    echo "kiemidi package: left installed: ${packages[*]}"
else
    echo "kiemidi package: apt-get purge ${packages[*]}"
    quiet "${sudo_cmd[@]}" apt-get purge -y -q "${packages[@]}"
    left=$(dpkg -l "${packages[@]}" 2>/dev/null | grep '^[a-z][a-z] ' | grep -v '^un ' || true)
    [ -z "$left" ] || fail "still known to dpkg after purge: $left"
    # Every file the packages installed is gone (directories shared with other packages may stay).
    while read -r f; do
        [ -n "$f" ] && [ ! -d "$f" ] && [ -e "$f" ] && fail "left behind: $f"
    done <<<"$files"
    for d in /usr/include/kiemidi /usr/lib/*/cmake/kiemidi; do
        [ -e "$d" ] && fail "left behind: $d"
    done
    packages=()
fi
echo "kiemidi package: all checks passed in $(($(date +%s) - start)) s"
