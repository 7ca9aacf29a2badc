// What a finished `kiemidi batch` run says, and its exit code (see batch_outcome.hpp).
#include "batch_outcome.hpp"

#include <kiemidi/batch_claims.hpp>

#include <csignal>
#include <iostream>

namespace kiemidi::cli {

/// KIE stayed down longer than --outage-wait: since when, and how to go on.
void report_outage(const batch_summary& s)
{
    if (!s.stopped_for_outage) return;
    std::cerr << "kiemidi batch: " << s.kie_unavailable << " for longer than --outage-wait; stopped with " << s.unfinished
              << " track(s) unfinished, none failed for it. Rerun the same command to resume once KIE is back.\n";
}

/// KIE said the account is out of credits: how many tracks did not start, and how to go on.
void report_no_credits(const batch_summary& s)
{
    if (!s.stopped_for_credits) return;
    std::cerr << "kiemidi batch: KIE says the account is out of credits; " << s.not_started_no_credits
              << " track(s) did not start (nothing was charged for them) and stay pending. Top up the account, "
              << "then run the same command again to resume them.\n";
}

/// The report of the output directory (piano rolls and index.html), after every run; a report
/// that cannot be written is said on stderr but changes no exit code: the results are written.
void write_batch_report(const std::filesystem::path& dir, const std::filesystem::path& journal)
{
    std::string why;
    if (write_report(dir, journal, why)) std::cout << "report: " << (dir / "index.html").string() << "\n";
    else std::cerr << "kiemidi batch: no report: " << why << "\n";
}

/// What a rerun with --retry-failed (and --resubmit) may pay for, said before anything is sent.
/// A failed track resumes at the last step not paid yet (see process_track): a recorded MIDI
/// task is read (free) and submitted again only if KIE failed it; a finished separation goes
/// straight to one MIDI submission; otherwise both steps are paid again.
std::string retry_plan(const std::vector<journal_entry>& entries, bool retry_failed, bool resubmit_lost)
{
    std::size_t tracks = 0, fetch = 0, midi_only = 0, both = 0, at_most = 0;
    for (const auto& e : entries)
    {
        const bool retried = retry_failed && e.state == track_state::failed;
        const bool resubmitted = resubmit_lost && e.state == track_state::result_lost;
        if (!retried && !resubmitted) continue;
        ++tracks;
        const bool given = !e.track.separation_task_id.empty();
        if (retried && !e.midi_task_id.empty())
        {
            ++fetch;
            at_most += e.failed_stage == "output" ? 0 : 1;  // KIE finished it, or it may have failed it
        }
        else if ((retried && !e.separation_task_id.empty() && (given || e.failed_stage != "separation")) ||
                 (resubmitted && given))
        {
            ++midi_only;
            at_most += 1;
        }
        else
        {
            ++both;
            at_most += 2;
        }
    }
    const char* what = retry_failed && resubmit_lost ? "--retry-failed/--resubmit" : retry_failed ? "--retry-failed" : "--resubmit";
    if (tracks == 0) return std::string("kiemidi batch: ") + what + ": no track to retry, nothing will be paid for retries";
    return std::string("kiemidi batch: ") + what + ": " + std::to_string(tracks) + " track(s) to retry: " +
           std::to_string(fetch) + " with a MIDI task to fetch (nothing paid when KIE finished it, one MIDI submission when "
           "KIE failed it), " + std::to_string(midi_only) + " from their finished separation (one MIDI submission each), " +
           std::to_string(both) + " from the start (a separation and a MIDI submission each); at most " +
           std::to_string(at_most) + " paid submission(s)";
}

/// The journal's tracks for retry_plan(), when the journal exists (none otherwise).
std::vector<journal_entry> journal_entries_if_any(const std::filesystem::path& path)
{
    if (!std::filesystem::exists(path)) return {};
    error_code ec;
    diagnostics diag;
    auto j = journal::open(path, ec, diag);
    std::vector<journal_entry> out;
    if (!ec) j.entries(out, diag);
    return out;
}

/// Results KIE finished that are not (or no longer) on disk: what happened and how to go on.
void report_unwritten(const batch_summary& s, const std::string& status_command)
{
    if (s.rewritten > 0)
        std::cout << "restored: " << s.rewritten << " result(s) written again from KIE's record, nothing paid"
                  << (s.files_missing > 0 ? " (" + std::to_string(s.files_missing) + " done track(s) had missing or damaged files)"
                                          : std::string())
                  << "\n";
    if (s.not_written > 0)
        std::cerr << "kiemidi batch: " << s.not_written << " result(s) KIE finished (and charged for) could not be written: "
                  << s.not_written_reason << ". They keep their task ids: once the cause is fixed (free space, "
                  << "permissions, the output directory), rerun the same command; they are fetched from KIE again "
                  << "for free.\n";
    if (s.result_lost > 0)
        std::cerr << "kiemidi batch: " << s.result_lost << " track(s) have no files and KIE no longer keeps their result; `"
                  << status_command << "` lists them. Only paying again brings them back: rerun with --resubmit.\n";
}

/// The credit budget stopped the run: how many tracks did not start, and how to go on.
void report_budget(const batch_summary& s, const batch_args& args)
{
    if (!s.stopped_for_budget) return;
    std::cerr << "kiemidi batch: the credit budget (--max-credits " << *args.max_credits << ") stopped the run: the tracks "
              << "started were planned to cost " << s.budget_used << " credits; " << s.not_started_budget
              << " track(s) did not start (nothing was paid for them) and stay pending. Run the same command with a "
              << "higher --max-credits to resume them.\n";
}

/// Exit code of a finished batch run by the summary's counts (see the table in README.md);
/// `stop_signal`: the signal that stopped it, 0 when none did; `copy_failed`: a duplicate row's
/// copy of its result could not be written. Bad rows in the list come last: every other outcome
/// says more about what was paid.
int exit_of(const batch_summary& s, int stop_signal, const error_code& run_ec, bool copy_failed, bool bad_rows)
{
    if (run_ec == claim_errc::state_lost) return exit_state_lost;
    if (stop_signal == SIGINT) return exit_sigint;
    if (stop_signal == SIGTERM) return exit_sigterm;
    const bool interrupted = stop_signal != 0;
    if (s.outcome_unknown > 0) return exit_outcome_unknown;
    if (s.stopped_for_credits) return exit_no_credits;
    if (s.not_written > 0) return exit_not_written;
    if (s.stopped_for_outage) return exit_kie_unavailable;
    if (s.stopped_for_budget) return exit_budget;
    if (interrupted || run_ec || copy_failed || s.failed > 0 || s.result_lost > 0 || s.unfinished > 0) return exit_failed;
    if (bad_rows) return exit_bad_rows;
    return exit_ok;
}

}  // namespace kiemidi::cli
