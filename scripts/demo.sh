#!/usr/bin/env bash
# Builds kiemidi and runs its main job against the embedded KIE emulator
# (or against the real service when KIE_API_KEY is set; see README).
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh

jobs=$(nproc 2>/dev/null || echo 2)
cmake --preset release >/dev/null
cmake --build --preset release -j "$jobs" --target kiemidi-demo
exec build/release/apps/demo/kiemidi-demo "$@"
