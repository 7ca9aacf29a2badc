#!/usr/bin/env bash
# Sanitizer stage of CI: an AddressSanitizer + UndefinedBehaviorSanitizer build runs the whole test
# suite; a ThreadSanitizer build runs the tests that drive kiemidi from several io_context threads
# (Boost.Test label `multithreaded`). Any finding aborts the test and fails the stage.
#
# The tsan preset defines BOOST_ASIO_DISABLE_STD_ATOMIC. With std::atomic, Asio drops its reference
# counts (for example the one shared by copies of an any_io_executor that holds a strand) with a
# release decrement followed by std::atomic_thread_fence(acquire). ThreadSanitizer does not model
# fences (GCC says so with -Wtsan), so the last owner's delete was reported as racing with another
# thread's earlier decrement. Without std::atomic Asio uses boost::detail::atomic_count, whose
# acquire-release decrement ThreadSanitizer understands; nothing is suppressed.
# Usage: scripts/sanitizers.sh [asan|tsan]...   (default: both)
set -euo pipefail
cd "$(dirname "$0")/.."

# What the whole test suite needs, as for scripts/test.sh: the ASan build runs every test.
bash scripts/install-deps.sh build boost libraries redis monitoring browser proxy midi packaging

jobs=$(nproc 2>/dev/null || echo 2)
stages=("$@")
[ ${#stages[@]} -eq 0 ] && stages=(asan tsan)

for stage in "${stages[@]}"; do
    case "$stage" in
    asan | tsan) ;;
    *) echo "scripts/sanitizers.sh: unknown stage '$stage' (asan or tsan)" >&2; exit 2 ;;
    esac
    start=$(date +%s)
    cmake --preset "$stage" >/dev/null
    # Only what the tests need: the library, the emulator, the test binaries (and, for ASan, the CLI they run).
    cmake --build --preset "$stage" -j "$jobs"
    # ThreadSanitizer needs a non-randomised address space on newer kernels; setarch provides it when allowed.
    runner=()
    if [ "$stage" = tsan ] && setarch "$(uname -m)" -R true 2>/dev/null; then
        runner=(setarch "$(uname -m)" -R)
    fi
    # One test per core: instrumented, the test cases use their CPU time (unlike scripts/test.sh's).
    "${runner[@]}" ctest --preset "$stage" -j "$jobs"
    echo "kiemidi: $stage stage passed in $(($(date +%s) - start)) s"
done
