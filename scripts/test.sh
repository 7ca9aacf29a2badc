#!/usr/bin/env bash
# README's test command: builds kiemidi (preset `test`: the CI flags, without the examples and
# benchmarks) and runs the unit and integration tests (against the emulator on 127.0.0.1, one ctest
# test per Boost.Test suite, spread over the cores), then installs the library into a scratch prefix
# and builds and runs a consumer that knows kiemidi only through find_package(kiemidi).
# Uses ccache when it is installed. The sanitizer builds and the fuzz targets have their own
# commands (scripts/sanitizers.sh, scripts/fuzz.sh); CI (.ci/run) runs those too.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)

bash scripts/install-deps.sh build boost libraries redis monitoring browser proxy midi packaging

jobs=$(nproc 2>/dev/null || echo 2)
log=$(mktemp)
prefix=$(mktemp -d)
trap 'rm -rf "$log" "$prefix"' EXIT
# Runs a step quietly; its output is shown only when it fails.
quiet() {
    if ! "$@" >"$log" 2>&1; then
        cat "$log" >&2
        echo "kiemidi: FAILED: $*" >&2
        exit 1
    fi
}

launcher=()
if command -v ccache >/dev/null; then
    launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
    # What ccache needs to cache files compiled with a precompiled header (its manual, "Precompiled headers").
    export CCACHE_SLOPPINESS=${CCACHE_SLOPPINESS:-pch_defines,time_macros,include_file_mtime,include_file_ctime}
fi
echo "kiemidi: configuring (preset test${launcher:+, ccache})"
quiet cmake --preset test "${launcher[@]}"
echo "kiemidi: building with $jobs jobs"
cmake --build --preset test -j "$jobs"

# The integration tests spend most of their time waiting (timers, child processes, sockets; about
# 40 CPU-seconds in 7 minutes of test time), and ctest runs each case as its own process, so three
# per core keep the cores busy without slowing any of them down.
test_jobs=$((jobs * 3))
echo "kiemidi: running the tests ($test_jobs at a time)"
ctest --preset test -j "$test_jobs"

# The installed CMake package must work for a project that only knows find_package(kiemidi).
echo "kiemidi: building a consumer of the installed package"
quiet cmake --install build/test --prefix "$prefix/install"
quiet cmake -S tests/cmake_test -B "$prefix/consumer" -G Ninja -DCMAKE_PREFIX_PATH="$prefix/install" \
    -DCMAKE_BUILD_TYPE=Release "${launcher[@]}"
quiet cmake --build "$prefix/consumer" -j "$jobs"
quiet "$prefix/consumer/kiemidi_consumer"

echo "kiemidi: all tests passed in $(($(date +%s) - start)) s"
