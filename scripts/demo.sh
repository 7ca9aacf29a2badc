#!/usr/bin/env bash
# Builds kiemidi and runs its main job: a batch of 50 tracks through stem separation and MIDI
# generation on the embedded KIE emulator (callbacks to the built-in listener), writing a .mid and
# a .json per track and a crash-safe journal, then the journal's summary table.
# With KIE_API_KEY (and KIE_BASE_URL) set, `kiemidi batch` talks to the real service instead: see README.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh build boost libraries

jobs=$(nproc 2>/dev/null || echo 2)
log=$(mktemp)
trap 'rm -f "$log"' EXIT
launcher=()
if command -v ccache >/dev/null; then
    launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
    # What ccache needs to cache files compiled with a precompiled header (its manual, "Precompiled headers").
    export CCACHE_SLOPPINESS=${CCACHE_SLOPPINESS:-pch_defines,time_macros,include_file_mtime,include_file_ctime}
fi
echo "kiemidi: configuring (preset release${launcher:+, ccache})"
if ! cmake --preset release "${launcher[@]}" >"$log" 2>&1; then
    cat "$log" >&2
    exit 1
fi
echo "kiemidi: building the CLI and the demo with $jobs jobs"
cmake --build --preset release -j "$jobs" --target kiemidi_cli kiemidi-demo

work=build/demo
rm -rf "$work"
mkdir -p "$work"
{
    echo "task_id,audio_id,name"
    for i in $(seq 1 50); do echo "music-$(( (i + 1) / 2 )),track-$i,song-$i"; done
} > "$work/tracks.csv"

echo "kiemidi: running a batch of 50 tracks on the embedded KIE emulator"
status=0
build/release/apps/cli/kiemidi batch "$work/tracks.csv" -o "$work/out" --concurrency 16 "$@" || status=$?
echo
build/release/apps/cli/kiemidi status "$work/out/kiemidi-journal.sqlite" || true
echo
echo "Files:"
echo "  MIDI and JSON per track: $work/out/ ($(ls "$work/out" | grep -c '\.mid$') .mid files)"
echo "  journal (SQLite):        $work/out/kiemidi-journal.sqlite"
echo "  track list:              $work/tracks.csv"
exit "$status"
