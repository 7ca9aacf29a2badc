// What `kiemidi batch` says before it pays: the list's bad rows and duplicates (`--check`), the
// plan with its cost (`--dry-run`, `--json`; one line at the start of every batch), and after
// the run the copies of a duplicate row's result and the bad-rows summary.
#ifndef KIEMIDI_APPS_CLI_BATCH_PLAN_OUTPUT_HPP
#define KIEMIDI_APPS_CLI_BATCH_PLAN_OUTPUT_HPP

#include "commands.hpp"
#include "track_list.hpp"

#include <kiemidi/batch_plan.hpp>

#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

namespace kiemidi::cli {

/// A row that asks KIE for the same work as an earlier row: it is not run, it gets copies.
struct duplicate_row
{
    track_row row;
    track_row first;  ///< The earlier row whose result it shares.
};

/// The good rows of a list split into those to run and the duplicates (none with `allow`).
struct batch_rows
{
    std::vector<track_row> run;
    std::vector<duplicate_row> duplicates;
};

/// The tracks a row asks for, with its own choices (type, stem, separation) over the batch's.
track_spec track_of(const track_row& r);

/// The batch's options as the command line and the rows give them, before any session exists.
/// The dry run and the run both start from these, so the plan a dry run prints counts what the
/// run will pay (--retry-failed, --resubmit, --resubmit-unknown, the rows' own choices).
batch_options batch_options_of(const batch_args& args, const batch_rows& rows);

/// Splits `rows`; with `allow` (--allow-duplicates) every row runs.
batch_rows split_duplicates(const std::vector<track_row>& rows, const midi_params& defaults, bool allow);

/// One line per duplicate: "duplicate: FILE:LINE (NAME) asks for the same work as line N (NAME); ...".
void print_duplicates(std::ostream& os, const std::string& file, const std::vector<duplicate_row>& duplicates);

/// The summary line of a list with bad rows (empty when it has none).
std::string bad_rows_summary(const track_list& list, const std::string& file, bool skip_bad_rows);

/// `kiemidi batch TRACKS --check`: the list's bad rows and duplicates, nothing run, no KIE.
/// exit_ok, or exit_bad_rows when a row is bad (exit_ok with --skip-bad-rows).
int check_track_list(const batch_args& args, const track_list& list, const batch_rows& rows);

/// The facts the plan is printed with.
struct plan_context
{
    std::string list_file;
    std::string state;  ///< "journal <path>" or "shared batch <id> at <url>".
    std::size_t bad_rows = 0;
    std::vector<std::string> bad_row_errors;  ///< "<file>:<line>: <why>" of each bad row (the JSON lists them).
    std::size_t duplicates = 0;
    std::optional<std::int64_t> remaining;  ///< The account's credits; nullopt when unknown.
    std::optional<std::int64_t> max_credits;
};

/// The whole plan for `--dry-run`: human-readable, or one JSON object with `json`.
void print_plan(std::ostream& os, const batch_plan& plan, const plan_context& ctx, const batch_rows& rows, bool json);

/// The plan in one line, printed when a batch starts.
std::string plan_line(const batch_plan& plan, const plan_context& ctx);

/// The exit code of a dry run: exit_no_credits when the account's credits do not cover the
/// estimate, exit_bad_rows for bad rows (unless skipped), else exit_ok.
int dry_run_exit(const batch_plan& plan, const plan_context& ctx, bool skip_bad_rows);

/// One finished track of the batch's state: what copies of duplicates are made from.
struct finished_track
{
    track_spec track;
    track_state state = track_state::pending;
    std::string name;  ///< Its output base name.
};

/// Gives each duplicate row copies of its first row's files when that track is done (says so on
/// stdout), or says on stderr why not. Returns how many duplicates have no copy.
std::size_t copy_duplicate_results(const std::filesystem::path& dir, const std::vector<duplicate_row>& duplicates,
                                   const std::vector<finished_track>& tracks);

/// `kiemidi batch TRACKS --dry-run`: the plan against the journal (read, never created), the
/// account's credits read from KIE (free); nothing paid, nothing written. See dry_run_exit().
int batch_dry_run(const kie_flags& flags, const batch_args& args, const track_list& list, const batch_rows& rows);

/// Parses "KIND=N" (--credit-cost) into `costs`; throws usage_error.
void set_credit_cost(credit_costs& costs, const std::string& kind_equals_n);

}  // namespace kiemidi::cli

#endif
