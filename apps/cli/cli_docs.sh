#!/usr/bin/env bash
# cli_docs.sh KIEMIDI OUTDIR: writes OUTDIR/kiemidi.1 (the man page) and OUTDIR/kiemidi.bash
# (bash completion of kiemidi and kiemidi-emulator) from the program's own --help texts, which
# Boost.ProgramOptions prints from the option tables in main.cpp and emulator_cli.cpp: the man page
# and the completion cannot disagree with --help. Run at build time (apps/cli/CMakeLists.txt).
set -euo pipefail
exe=$1
out=$2
mkdir -p "$out"

overview=$("$exe" --help)
version=$("$exe" --version | sed -n '1s/^kiemidi //p')
# The commands, as the overview lists them (two spaces, a lower-case word).
commands=$(printf '%s\n' "$overview" | awk '/^commands:/ { on = 1; next } on && /^$/ { on = 0; done = 1 } done { next } on && /^  [a-z]/ { print $1 }' | awk '!seen[$0]++')
[ -n "$commands" ] || { echo "cli_docs.sh: no commands in '$exe --help'" >&2; exit 1; }

# A help text without its exit-codes part (the man page has that once, in EXIT STATUS) and
# without trailing blank lines.
# awk reads to the end rather than exiting early: an early exit would kill the writer with SIGPIPE
# (and fail the pipeline under pipefail) once a help text outgrows the pipe buffer.
without_exit_codes() { awk '/^exit codes:/ { done = 1 } done { next } /^$/ { blank++; next } { while (blank) { print ""; blank-- } print }'; }
exit_codes() { awk '/^exit codes:/ { on = 1 } on { print }'; }
# Text as no-fill roff: backslashes escaped, a leading dot or quote made literal, hyphens of
# flags kept as hyphen-minus (\-) so that they can be searched for and copied.
roff() { sed -e 's/\\/\\e/g' -e 's/-/\\-/g' -e "s/^\\([.']\\)/\\\\\\&\\1/"; }
# The long options of a help text: Boost prints each at the start of its line, "  --flag" or
# "  -o [ --output ]".
options_of() { sed -n -e 's/^  -[a-zA-Z] \[ \(--[a-z0-9-]*\) \].*/\1/p' -e 's/^  \(--[a-z0-9-]*\).*/\1/p' | sort -u | tr '\n' ' '; }

{
    echo ".TH KIEMIDI 1 \"\" \"kiemidi $version\" \"User Commands\""
    echo ".SH NAME"
    echo "kiemidi \\- songs to MIDI through KIE.AI's stem separation and MIDI generation"
    echo ".SH SYNOPSIS"
    echo ".B kiemidi"
    echo ".I COMMAND"
    echo ".RI [ options ]"
    echo ".br"
    echo ".B kiemidi"
    echo ".I COMMAND"
    echo ".B \\-\\-help"
    echo ".br"
    echo ".B kiemidi \\-\\-help"
    echo ".br"
    echo ".B kiemidi \\-\\-version"
    echo ".SH DESCRIPTION"
    echo ".nf"
    printf '%s\n' "$overview" | without_exit_codes | sed -e '1{/^usage:/d}' | roff
    echo ".fi"
    echo ".SH COMMANDS"
    for cmd in $commands; do
        echo ".SS $cmd"
        echo ".nf"
        "$exe" "$cmd" --help | without_exit_codes | roff
        echo ".fi"
    done
    echo ".SH EXIT STATUS"
    echo ".nf"
    printf '%s\n' "$overview" | exit_codes | roff
    echo ".fi"
    echo ".SH ENVIRONMENT"
    echo ".TP"
    echo ".B KIE_API_KEY"
    echo "KIE's API key, when \\fB\\-\\-api\\-key\\fR is not given (prefer the variable: a command line is visible to other users)."
    echo ".TP"
    echo ".B KIE_BASE_URL"
    echo "KIE's base URL, when \\fB\\-\\-base\\-url\\fR is not given. With neither the URL nor the key, an emulator embedded in the process is used."
    echo ".SH FILES"
    echo ".TP"
    echo ".I DIR/NAME.mid, DIR/NAME.json, DIR/NAME.svg"
    echo "A result: the Standard MIDI File, the notes with their provenance, the piano roll."
    echo ".TP"
    echo ".I DIR/kiemidi\\-journal.sqlite"
    echo "A batch's journal (\\fB\\-\\-journal\\fR), from which a rerun resumes and \\fBkiemidi status\\fR reads."
    echo ".TP"
    echo ".I JOURNAL.callback\\-secret"
    echo "The callback listener's path secret, kept so that a rerun receives an earlier run's callbacks."
    echo ".TP"
    echo ".I DIR/index.html"
    echo "The report of \\fBkiemidi report\\fR (also written after each batch)."
    echo ".TP"
    echo ".I DIR/kiemidi\\-shared\\-record.tsv"
    echo "What a worker of a shared batch finished when the batch's state in Redis was lost (exit 7)."
    echo ".SH SEE ALSO"
    echo "\\fBkiemidi\\-emulator \\-\\-help\\fR, the same options as \\fBkiemidi emulator\\fR."
} >"$out/kiemidi.1"

{
    echo "# bash completion of kiemidi and kiemidi-emulator (generated from their --help texts)."
    echo "_kiemidi() {"
    echo "    local cur=\${COMP_WORDS[COMP_CWORD]} opts"
    echo "    if [ \"\$COMP_CWORD\" -eq 1 ]; then"
    echo "        COMPREPLY=(\$(compgen -W '$(echo $commands) --help --version' -- \"\$cur\"))"
    echo "        return"
    echo "    fi"
    echo "    case \${COMP_WORDS[1]} in"
    for cmd in $commands; do
        echo "        $cmd) opts='$("$exe" "$cmd" --help | options_of)' ;;"
    done
    echo "        *) opts= ;;"
    echo "    esac"
    echo "    if [[ \$cur == -* ]]; then"
    echo "        COMPREPLY=(\$(compgen -W \"\$opts\" -- \"\$cur\"))"
    echo "    else"
    echo "        COMPREPLY=(\$(compgen -f -- \"\$cur\"))"
    echo "    fi"
    echo "}"
    echo "_kiemidi_emulator() {"
    echo "    local cur=\${COMP_WORDS[COMP_CWORD]}"
    echo "    COMPREPLY=(\$(compgen -W '$("$exe" emulator --help | options_of)' -- \"\$cur\"))"
    echo "}"
    echo "complete -o filenames -F _kiemidi kiemidi"
    echo "complete -F _kiemidi_emulator kiemidi-emulator"
} >"$out/kiemidi.bash"
