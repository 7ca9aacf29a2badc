// What a finished `kiemidi batch` run says on top of its summary line (out of credits, the
// budget, results not written, what a retry may pay), its report page, and its exit code.
#pragma once

#include "commands.hpp"

#include <kiemidi/batch.hpp>
#include <kiemidi/error.hpp>
#include <kiemidi/journal.hpp>

#include <filesystem>
#include <string>
#include <vector>

namespace kiemidi::cli {

/// KIE stayed down longer than --outage-wait: since when, and how to go on.
void report_outage(const batch_summary& s);

/// KIE said the account is out of credits: how many tracks did not start, and how to go on.
void report_no_credits(const batch_summary& s);

/// The report of the output directory (piano rolls and index.html), after every run; a report
/// that cannot be written is said on stderr but changes no exit code: the results are written.
void write_batch_report(const std::filesystem::path& dir, const std::filesystem::path& journal);

/// What a rerun with --retry-failed (and --resubmit) may pay for, said before anything is sent.
std::string retry_plan(const std::vector<journal_entry>& entries, bool retry_failed, bool resubmit_lost);

/// The journal's tracks for retry_plan(), when the journal exists (none otherwise).
std::vector<journal_entry> journal_entries_if_any(const std::filesystem::path& path);

/// Results KIE finished that are not (or no longer) on disk: what happened and how to go on.
void report_unwritten(const batch_summary& s, const std::string& status_command);

/// The credit budget stopped the run: how many tracks did not start, and how to go on.
void report_budget(const batch_summary& s, const batch_args& args);

/// Exit code of a finished batch run by the summary's counts (see the table in README.md).
int exit_of(const batch_summary& s, int stop_signal, const error_code& run_ec, bool copy_failed, bool bad_rows);

}  // namespace kiemidi::cli
