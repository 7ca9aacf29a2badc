#!/usr/bin/env bash
# Builds kiemidi's API reference (HTML) from the public headers with Doxygen (Debian's `doxygen`;
# `bash scripts/install-deps.sh docs` installs it) and fails on any Doxygen warning (an
# undocumented public declaration, a reference or @param that names nothing, a bad command) and
# on any public declaration left without a comment that Doxygen 1.9 does not warn about (enum
# values, deleted or defaulted members). Needs no C++ build.
# Usage: scripts/api-docs.sh [output-dir]   (relative to the repository's root; default build/api-docs;
#        the pages: <output-dir>/html/index.html, Doxygen's warnings: <output-dir>/warnings.log)
set -euo pipefail
cd "$(dirname "$0")/.."

for tool in doxygen python3; do
    if ! command -v "$tool" >/dev/null; then
        echo "scripts/api-docs.sh: $tool is not installed (bash scripts/install-deps.sh docs)" >&2
        exit 2
    fi
done
out=${1:-build/api-docs}
log="$out/warnings.log"
start=$(date +%s)
# A clean output, so that no page of a declaration removed since the last run stays behind.
rm -rf "$out/html" "$out/xml"
mkdir -p "$out"
# docs/Doxyfile holds the settings (paths relative to the repository's root); only the output
# place comes from here.
if ! { cat docs/Doxyfile; echo "OUTPUT_DIRECTORY = $out"; echo "WARN_LOGFILE = $log"; } |
    doxygen - >"$out/doxygen.out" 2>&1; then
    cat "$out/doxygen.out" >&2
    echo "scripts/api-docs.sh: doxygen failed" >&2
    exit 1
fi

# What Doxygen left unsaid: public and protected members (and enum values) of the reference's
# classes and namespaces with neither a brief nor a detailed description.
python3 - "$out/xml" >>"$log" <<'PY'
import glob, sys
import xml.etree.ElementTree as ET

def said(e):
    return e is not None and "".join(e.itertext()).strip() != ""

for path in sorted(glob.glob(sys.argv[1] + "/*.xml")):
    if path.endswith("/index.xml"):
        continue
    for compound in ET.parse(path).getroot().iter("compounddef"):
        if compound.get("kind") not in ("class", "struct", "union", "namespace") or compound.get("prot") == "private":
            continue
        scope = compound.findtext("compoundname")
        for member in compound.iter("memberdef"):
            if member.get("prot") == "private":
                continue
            items = [member] + (list(member.iter("enumvalue")) if member.get("kind") == "enum" else [])
            for item in items:
                if said(item.find("briefdescription")) or said(item.find("detaileddescription")):
                    continue
                where = member.find("location")
                what = "enum value" if item.tag == "enumvalue" else member.get("kind")
                print(f"include/{where.get('file')}:{where.get('line')}: warning: {what} {scope}::{item.findtext('name')} is not documented")
PY

if [ -s "$log" ]; then
    cat "$log" >&2
    echo "scripts/api-docs.sh: $(grep -c 'warning:' "$log") warning(s) about the API reference (log: $log): every public declaration needs a /// comment" >&2
    exit 1
fi
echo "kiemidi: API reference in $out/html/index.html ($(($(date +%s) - start)) s, no warnings)"
