// The state of one batch run shared by its workers, the worker loop and the lease renewal.
// Internal.
//
// Workers and the counters they share live on one strand of the client's executor. The batch's
// state (journal or shared claims) is reached through batch_state, whose blocking calls run on
// the runner's single-thread pool; the worker resumes on the strand afterwards.
#ifndef KIEMIDI_SRC_BATCH_BATCH_WORKER_HPP
#define KIEMIDI_SRC_BATCH_BATCH_WORKER_HPP

#include "batch_state.hpp"

#include <kiemidi/batch.hpp>
#include <kiemidi/client.hpp>

#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <string>

namespace kiemidi::detail {

using clock_type = std::chrono::steady_clock;

/// State of one async_run, shared by its workers; touched only on `strand`.
struct run_state
{
    client& cli;
    const batch_options& opts;
    pool_executor pool_ex;  ///< Blocking work (the output files).
    strand_type strand;
    std::function<void(const batch_event&)> on_event;
    batch_state& state;
    /// Tracks the renewer found taken over by another worker.
    std::set<std::int64_t> lost;
    /// The stage timer of each track waiting for KIE. The renewer cancels it when the track's
    /// claim is lost, which ends the wait: the new owner waits for that task now, and this
    /// worker's slot is free for another track.
    std::map<std::int64_t, boost::asio::steady_timer*> wait_timers;
    /// Why the batch's state could not go on (its store failed); ends the run.
    error_code fatal;
    diagnostics fatal_diag;
    std::function<void()> request_stop;

    /// Output base name per track id, as the state gave it with the track.
    std::map<std::int64_t, std::string> names;

    const std::string& name_of(const journal_entry& e) { return names[e.id]; }
    bool stopping = false;
    /// KIE answered a paid POST "insufficient credits": no further track is started.
    bool out_of_credits = false;
    /// batch_options::max_credits refused a track: no further track is started.
    bool out_of_budget = false;
    /// Credits the tracks started in this run were planned to cost (batch_options::max_credits).
    std::int64_t budget_used = 0;

    /// Whether track `e` may start within the credit budget; if so its planned cost is counted.
    bool within_budget(const journal_entry& e);

    std::size_t total = 0, done_before = 0, done_now = 0, failed = 0, unknown = 0, in_flight = 0, skipped = 0,
                resumed = 0, notes = 0, finished_from_queue = 0, taken_over = 0, recovered = 0;
    /// Tracks KIE finished whose files this run could not write, results it wrote from KIE's
    /// record (nothing paid), and tracks whose result KIE no longer has.
    std::size_t not_written = 0, rewritten = 0, result_lost = 0;
    std::string not_written_reason;  ///< Why the first not_written track's files could not be written.
    clock_type::time_point last_progress{};

    run_state(client& c, const batch_options& o, pool_executor p, strand_type s, std::function<void(const batch_event&)> ev,
              batch_state& bs)
        : cli(c), opts(o), pool_ex(p), strand(std::move(s)), on_event(std::move(ev)), state(bs)
    {
    }

    void emit(batch_event::kind k, std::string name, std::string message, track_state state);

    void maybe_progress(bool force = false)
    {
        if (force || clock_type::now() - last_progress >= opts.progress_interval)
            emit(batch_event::kind::progress, {}, {}, track_state::pending);
    }

    // ---- state changes of a track, through `state` ----
    boost::asio::awaitable<error_code> record_intent(std::int64_t id, journal_stage stage, const std::string& ref, diagnostics& diag);
    boost::asio::awaitable<error_code> record_task_id(std::int64_t id, journal_stage stage, const std::string& tid, diagnostics& diag);
    boost::asio::awaitable<error_code> mark_done(std::int64_t id, diagnostics& diag);
    boost::asio::awaitable<error_code> mark_failed(std::int64_t id, const std::string& stage, const std::string& msg, diagnostics& diag);
    boost::asio::awaitable<error_code> mark_outcome_unknown(std::int64_t id, const std::string& msg, diagnostics& diag);

    /// A change the state refused because the track is no longer (or not as expected) ours.
    bool claim_gone(const error_code& ec) const { return state.claim_gone(ec); }
};

/// How a track ended in this run. `lost`: a shared track whose claim passed to another worker
/// (its lease expired meanwhile). `no_credits`: KIE said the account is out of credits; the track
/// was left (or put back) where a later run resumes it, nothing charged. `not_written`: KIE
/// finished but the files could not be written. `result_lost`: the files are gone and KIE no
/// longer has the record.
enum class track_outcome { done, failed, unknown, stopped, lost, no_credits, not_written, result_lost };

/// One track, from whatever state the batch has it in, to done / failed / unknown, or stopped
/// (process_track.cpp). `message` says why it failed, or what was written. `entry` is moved
/// from before the first suspension.
boost::asio::awaitable<track_outcome> process_track(run_state* st, journal_entry* entry, std::string* message);

/// Takes tracks from the state and processes them until none is left, the run stops, or the
/// account is out of credits. Waits while other workers of a shared batch hold leases that may
/// expire. A state that fails ends the run (run_state::fatal).
boost::asio::awaitable<void> worker(run_state* st);

/// Keeps the leases of this worker's claimed tracks alive (every third of the lease), marks
/// those another worker took over as lost and ends their waits. Runs until cancelled.
boost::asio::awaitable<void> renew_leases(run_state* st);

}  // namespace kiemidi::detail

#endif
