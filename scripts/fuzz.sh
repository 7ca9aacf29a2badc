#!/usr/bin/env bash
# Fuzzing stage: builds the libFuzzer targets in fuzz/ with clang (preset `fuzz`) and runs each one
# from its seed corpus, by default for 30 s (CI), as many targets at once as there are cores. A
# crash, leak, sanitizer finding or broken property fails the stage; the input is kept in
# build/fuzz/findings/. Only the fuzz targets and the library sources they reach are built.
# Usage: scripts/fuzz.sh [seconds per target]      KIEMIDI_FUZZ_RUNS=1000000 scripts/fuzz.sh (fixed executions)
#        KIEMIDI_FUZZ_TARGETS="midi_record callback_listener" scripts/fuzz.sh   (a subset)
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh build boost libraries fuzz

seconds=${1:-30}
jobs=$(nproc 2>/dev/null || echo 2)
targets=${KIEMIDI_FUZZ_TARGETS:-"separation_callback midi_callback submit_response separation_record midi_record credits_response music_task_record kie_response_classifier callback_listener"}

cmake --preset fuzz >/dev/null
cmake --build --preset fuzz -j "$jobs" --target kiemidi_fuzzers

findings=build/fuzz/findings
mkdir -p "$findings"
scratch_root=$(mktemp -d)
# A failing target ends the stage: the others still running are stopped with it.
# (`|| true`: with no target running, kill has nothing to stop, and set -e also holds in the trap.)
trap 'kill $(jobs -p) 2>/dev/null || true; wait; rm -rf "$scratch_root"' EXIT

# Runs one target; its exit status is the fuzzer's.
fuzz_one() {
    local t=$1
    # New inputs go to a scratch corpus; the committed seeds stay as they are.
    local scratch="$scratch_root/$t"
    mkdir -p "$scratch"
    local limit=(-max_total_time="$seconds")
    [ -n "${KIEMIDI_FUZZ_RUNS:-}" ] && limit=(-runs="$KIEMIDI_FUZZ_RUNS")
    local dict=()
    [ -f "fuzz/$t.dict" ] && dict=(-dict="fuzz/$t.dict")
    ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1} UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1} \
        "build/fuzz/fuzz/fuzz_$t" "${limit[@]}" "${dict[@]}" -max_len=16384 -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=1 -artifact_prefix="$findings/$t-" "$scratch" "fuzz/corpus/$t" >"$findings/$t.log" 2>&1
}

# Reports a finished target; fails the stage on a finding.
report() {
    local t=$1 status=$2 log="$findings/$1.log"
    echo "kiemidi: fuzzed $t"
    grep -E '^(stat::number_of_executed_units|stat::peak_rss_mb|Done [0-9]+ runs)' "$log" || true
    if [ "$status" -ne 0 ]; then
        tail -n 60 "$log" >&2
        echo "kiemidi: fuzz target $t failed (exit $status); input in $findings/" >&2
        exit 1
    fi
}

# At most $jobs targets at a time; each is reported in start order once it ends.
running=()
pids=()
for t in $targets; do
    if [ ${#pids[@]} -ge "$jobs" ]; then
        status=0
        wait "${pids[0]}" || status=$?
        report "${running[0]}" "$status"
        running=("${running[@]:1}")
        pids=("${pids[@]:1}")
    fi
    echo "kiemidi: fuzzing $t"
    fuzz_one "$t" &
    running+=("$t")
    pids+=($!)
done
for i in "${!pids[@]}"; do
    status=0
    wait "${pids[$i]}" || status=$?
    report "${running[$i]}" "$status"
done
