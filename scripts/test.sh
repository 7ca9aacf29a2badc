#!/usr/bin/env bash
# Builds kiemidi and runs every test: unit + integration (against the emulator on 127.0.0.1),
# then installs the library into a scratch prefix and builds a consumer with find_package(kiemidi),
# then runs the sanitizer builds (scripts/sanitizers.sh) and the fuzz targets (scripts/fuzz.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh

jobs=$(nproc 2>/dev/null || echo 2)
cmake --preset ci
cmake --build --preset ci -j "$jobs"
ctest --preset ci -j "$jobs"

# The installed CMake package must work for a project that only knows find_package(kiemidi).
prefix=$(mktemp -d)
trap 'rm -rf "$prefix"' EXIT
cmake --install build/ci --prefix "$prefix/install" >/dev/null
cmake -S tests/cmake_test -B "$prefix/consumer" -G Ninja -DCMAKE_PREFIX_PATH="$prefix/install" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$prefix/consumer" -j "$jobs"
"$prefix/consumer/kiemidi_consumer"

# Sanitizers: ASan+UBSan over the whole suite, TSan over the multi-threaded tests; then each fuzz
# target for a short fixed time.
bash scripts/sanitizers.sh
bash scripts/fuzz.sh 30
