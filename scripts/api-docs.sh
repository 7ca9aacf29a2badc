#!/usr/bin/env bash
# Builds kiemidi's API reference (HTML) from the public headers with Doxygen (Debian's `doxygen`,
# `scripts/install-deps.sh docs`) and fails on any Doxygen warning: an undocumented public
# declaration, a reference or @param that names nothing. Needs no C++ build.
# Usage: scripts/api-docs.sh [output-dir]   (default build/api-docs; the pages are <output-dir>/html/index.html)
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v doxygen >/dev/null; then
    echo "scripts/api-docs.sh: doxygen is not installed (bash scripts/install-deps.sh docs)" >&2
    exit 2
fi
out=${1:-build/api-docs}
log="$out/warnings.log"
# A clean directory, so that no page of a declaration removed since the last run stays behind.
rm -rf "$out/html"
mkdir -p "$out"
start=$(date +%s)
# docs/Doxyfile holds the settings; only the output place comes from here.
{ cat docs/Doxyfile; echo "OUTPUT_DIRECTORY = $out"; echo "WARN_LOGFILE = $log"; } | doxygen - >"$out/doxygen.out" 2>&1 || {
    cat "$out/doxygen.out" >&2
    echo "scripts/api-docs.sh: doxygen failed" >&2
    exit 1
}
if [ -s "$log" ]; then
    cat "$log" >&2
    echo "scripts/api-docs.sh: $(grep -c 'warning:' "$log") Doxygen warning(s) (full log: $log); every public declaration needs a /// comment" >&2
    exit 1
fi
echo "kiemidi: API reference in $out/html/index.html ($(($(date +%s) - start)) s, no warnings)"
