/// @file
/// kiemidi::batch_runner: many songs → MIDI files, with bounded concurrency, progress events and
/// resume after a restart.
///
/// Every track goes separation → MIDI through a kiemidi::client; a SQLite journal (journal.hpp)
/// records each paid step before and after it, so re-running a batch with the same journal never
/// pays twice for a track and never loses a paid result: done tracks are skipped, tracks with a
/// known KIE task are resumed by waiting on that task, and lost submissions are reported.
///
/// Several runners (processes, machines) can share one batch through a batch_claims store
/// (batch_claims.hpp; Redis: redis_batch_claims.hpp) instead of a local journal: each claims
/// tracks under a lease, and a dead worker's tracks are taken over once their leases expire.
#ifndef KIEMIDI_BATCH_HPP
#define KIEMIDI_BATCH_HPP

#include <kiemidi/client.hpp>
#include <kiemidi/config.hpp>
#include <kiemidi/credit_costs.hpp>
#include <kiemidi/default_token.hpp>
#include <kiemidi/diagnostics.hpp>
#include <kiemidi/error.hpp>
#include <kiemidi/journal.hpp>
#include <kiemidi/pipeline_options.hpp>
#include <kiemidi/smf/writer.hpp>
#include <kiemidi/track.hpp>

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/thread_pool.hpp>

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <map>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kiemidi {

class batch_claims;

/// Something that happened in a running batch, for a progress display or a log.
struct batch_event
{
    /// What happened.
    enum class kind
    {
        track_started,  ///< A worker took the track (new or resumed).
        track_done,     ///< The track's files are written and the journal says done.
        track_failed,   ///< The track failed, its outcome is unknown, its files could not be written (not_written) or its result is lost (`state` tells which); `message` says why.
        track_skipped,  ///< Not processed in this run: done before, failed / outcome_unknown / result_lost and not retried, or not started (or put back) because the account is out of credits.
        progress,       ///< Periodic counts (throttled to batch_options::progress_interval).
    } what = kind::progress;  ///< What happened (default: progress).
    std::string track_name;      ///< The output base name (empty for progress).
    std::string message;         ///< Why a track failed or was skipped; "resumed ..." for resumed starts.
    std::size_t total = 0;       ///< Tracks in the journal.
    std::size_t done = 0;        ///< Done (before and during this run).
    std::size_t failed = 0;      ///< Failed or outcome unknown.
    std::size_t in_flight = 0;   ///< Being processed now.
    std::size_t skipped = 0;     ///< Skipped in this run.
    track_state state = track_state::pending;  ///< The track's journal state after the event (track events).
    std::size_t outcome_unknown = 0;           ///< Tracks whose paid submission has an unknown outcome.
};

/// How a batch_runner runs: where results and the journal go, concurrency, per-track pipeline
/// settings, what to retry or resubmit, and the credit and outage budgets.
struct batch_options
{
    std::filesystem::path output_dir;    ///< Where `<name>.mid` and `<name>.json` go (created if missing).
    std::filesystem::path journal_path;  ///< The batch's journal; empty → output_dir / "kiemidi-journal.sqlite".
    unsigned concurrency = 16;           ///< Tracks processed at once (0 is treated as 1).
    /// Per-track pipeline settings: task_id/audio_id are ignored; separation type, stem (or stem_audio_id, for tracks
    /// naming no stem), wait, stage_timeout (bounding each wait) and unknown_outcome_wait (how long a paid POST whose
    /// answer was lost waits for its tagged callback, see client::async_find_task) are used.
    midi_params pipeline;
    /// A track found in separation_intent / midi_intent (an earlier run stopped between a paid
    /// POST and recording its answer) waits up to this long for the callback tagged with the
    /// intent's reference (journal_entry::intent_ref), then goes on with the task id it names;
    /// without it in time, the track is outcome_unknown. Only useful when the callback can reach
    /// this run: same callback URL (listener address, port and path secret) as the earlier run.
    /// 0: mark such tracks outcome_unknown at once.
    std::chrono::milliseconds resumed_intent_wait{std::chrono::minutes(15)};
    /// Whether callbacks of tasks submitted by an earlier run reach this run's listener (the
    /// callback URL is the same: address, port and path secret). A resumed track always reads
    /// its task's record once before waiting (reads are free), so a task that finished while no
    /// run was listening is taken at once. When this is false, a resumed task that is still
    /// running is polled from the start instead of waiting `callback_overdue` for a callback that
    /// goes to a URL nobody listens on.
    bool resumed_callbacks_reachable = true;
    bool write_json = true;              ///< Also write `<name>.json` (smf::notes_to_json).
    /// The tempo map and quantization of the written files (default: tempo estimated from the notes, no quantization).
    smf::file_choices files;
    /// Per-track choices over `files`, by output_name(track) (rows of a track list with their own
    /// tempo or quantize). Not journaled: the track list gives them again on every run.
    std::map<std::string, smf::file_choices> files_by_track;
    /// Explicit user choice: send again the submissions whose outcome is unknown (may pay twice).
    bool resubmit_unknown = false;
    /// Try failed tracks again, from the latest state their task ids allow (journal::requeue):
    /// a MIDI task id known → its result is only read; a separation task id known → one MIDI
    /// submission; neither → both paid steps.
    bool retry_failed = false;
    /// Explicit user choice: pay again for result_lost tracks (their files are gone and KIE no
    /// longer has the record), from the first paid step.
    bool resubmit_lost = false;
    /// While KIE is down (the client's circuit breaker is open) the batch pauses: tracks not yet
    /// paid stay pending, paid ones keep waiting. When one outage lasts longer than this, the run
    /// stops with every track resumable (batch_summary::stopped_for_outage).
    std::chrono::milliseconds outage_wait{std::chrono::minutes(30)};
    /// Progress events at most this often (track end events are never throttled).
    std::chrono::milliseconds progress_interval{200};
    /// A credit budget for this run: a track starts only when the paid submissions it still
    /// needs (paid_steps_left(), priced by `costs`) fit in what the tracks started before it
    /// left of the budget; else it stays pending and no further track starts
    /// (batch_summary::stopped_for_budget). Unset: no budget.
    std::optional<std::int64_t> max_credits;
    credit_costs costs;  ///< The per-kind costs `max_credits` counts with.
};

/// What a batch run did. "This run" counts exclude tracks handled in earlier runs.
struct batch_summary
{
    std::size_t total = 0;                 ///< Tracks in the journal.
    std::size_t done = 0;                  ///< Tracks completed in this run.
    std::size_t failed = 0;                ///< Tracks failed at the end (this run or earlier, not retried).
    std::size_t skipped_already_done = 0;  ///< Tracks done before this run.
    std::size_t resumed = 0;               ///< Tracks resumed from a recorded KIE task id (not resubmitted).
    std::size_t recovered = 0;             ///< Paid submissions whose lost answer was recovered from their tagged callback.
    std::size_t outcome_unknown = 0;       ///< Tracks whose paid submission has an unknown outcome (need attention).
    std::size_t notes = 0;                 ///< Notes written in this run.
    /// Tracks KIE finished (and was paid for) whose files could not be written in this run (disk
    /// full, read-only, permissions, a missing directory): they stay not_written with their task
    /// ids, and the next run writes them from KIE's record without paying.
    std::size_t not_written = 0;
    std::string not_written_reason;        ///< Why the first of them could not be written.
    /// Tracks whose results were written in this run from KIE's record, nothing paid: ones left
    /// not_written earlier, and done ones whose files were found missing or damaged (counted in `done`).
    std::size_t rewritten = 0;
    std::size_t files_missing = 0;         ///< Done tracks found with missing or damaged files when the run opened.
    /// Tracks whose files are gone and whose result KIE no longer has (result_lost): left for
    /// batch_options::resubmit_lost.
    std::size_t result_lost = 0;
    std::chrono::milliseconds elapsed{0};  ///< Wall time of the run.
    std::size_t unfinished = 0;            ///< Tracks left pending or in progress (the run was cancelled); resumable.
    /// Shared batches: tracks other workers completed while this run lasted (total, failed and
    /// outcome_unknown count the whole batch at the end of the run).
    std::size_t done_by_other_workers = 0;
    std::size_t taken_over = 0;            ///< Shared batches: tracks taken over from a worker whose lease expired.
    /// KIE said the account is out of credits (402, or 429 "Insufficient credits"): the run
    /// started no further track and let the ones in flight finish.
    bool stopped_for_credits = false;
    /// With stopped_for_credits: tracks left pending (or put back before being charged) for lack
    /// of credits. They stay resumable: a run after a top-up takes them on.
    std::size_t not_started_no_credits = 0;
    /// batch_options::max_credits stopped the run: a track's paid submissions would have taken
    /// it past the budget. The tracks not started stay pending (not_started_budget of them).
    bool stopped_for_budget = false;
    /// With stopped_for_budget: the tracks left pending because they did not fit in the budget.
    std::size_t not_started_budget = 0;
    std::int64_t budget_used = 0;  ///< Credits the tracks started in this run were planned to cost.
    /// KIE stayed unavailable longer than batch_options::outage_wait: the run stopped; tracks not
    /// paid are pending, paid ones keep their task ids. A rerun resumes them.
    bool stopped_for_outage = false;
    /// With stopped_for_outage: "KIE unavailable (code 455, maintenance) since 12:03:10".
    std::string kie_unavailable;
};

/// The output base name for a track: its name, or `<task_id>_<audio_id>` (a separation:
/// `<separation_task_id>`; a track's own stem appended as `_<stem>`), with '/', '\\',
/// control characters and ".." replaced, never empty nor starting with '.', at most 200 bytes.
/// Within one journal, a name already used by an earlier track (lower id) gets `-<journal id>`
/// appended by the runner, so no two tracks write the same file.
KIEMIDI_DECL std::string output_name(const track_spec& track);
/// The sanitising step of output_name().
KIEMIDI_DECL std::string sanitize_file_name(std::string_view name);

/// Runs batches of tracks through a client, journaled.
///
/// @par Handler signature
/// `void(error_code, batch_summary)`. The error is set only when the batch itself could not run
/// (journal or output directory unusable: see the diagnostics) or was cancelled
/// (boost::asio::error::operation_aborted; the summary is still filled). Track failures are counted in
/// the summary and reported through events and the journal, not through the error.
///
/// @par Object lifetimes
/// `tracks` and `on_event` are moved into the operation. The runner and the client must outlive
/// it. `on_event` is called on the client's executor (through a strand), never concurrently,
/// and must not block.
///
/// @par Cancellation
/// terminal / partial / total: no new track is started, waits in flight are cancelled (their
/// tracks stay separating / transcribing with the task id recorded, so the next run resumes
/// them), and a paid submission already sent is allowed to finish so that its task id is
/// recorded. Then the operation completes with boost::asio::error::operation_aborted.
///
/// @par Shutdown
/// A run counts among the client's pending operations: client::async_shutdown stops it as a
/// terminal cancellation would, it completes with client_errc::shut_down, and the shutdown
/// completes only after it. A run started once the client is shutting down completes at once
/// with client_errc::shut_down.
///
/// @par Thread safety
/// One async_run at a time per runner. The client's io_context may run on several threads.
/// Journal I/O and file writes run on the runner's own single-thread pool, never on the
/// io_context's threads.
class batch_runner
{
public:
    /// The client's executor type.
    using executor_type = client::executor_type;

    /// A runner of one batch with its own journal (batch_options::journal_path). `c` must outlive
    /// the runner; nothing is opened until async_run.
    KIEMIDI_DECL batch_runner(client& c, batch_options opts);
    /// A runner that is one worker of a shared batch: tracks, facts and claims live in `shared`
    /// (which must outlive the runner) instead of the journal; journal_path is not used. It runs
    /// until no track is claimable and none is leased by another worker, so a worker that dies
    /// has its tracks taken over by those still running. The output directory should be the
    /// same for every worker (or collected afterwards): each track's files are written by the
    /// worker that finishes it.
    KIEMIDI_DECL batch_runner(client& c, batch_options opts, batch_claims& shared);
    /// Destroys the runner; no async_run may be pending.
    KIEMIDI_DECL ~batch_runner();
    /// Not copyable: a runner owns its thread pool and last diagnostics.
    batch_runner(const batch_runner&) = delete;
    /// Not copyable.
    batch_runner& operator=(const batch_runner&) = delete;

    /// The client's executor, where async_run's handler runs by default.
    executor_type get_executor() const noexcept { return client_.get_executor(); }
    /// The options given at construction.
    const batch_options& options() const noexcept { return opts_; }

    /// Adds `tracks` to the journal (existing ones are kept as they are), then processes every
    /// track of the journal that is not done. An empty `tracks` resumes the journal as it is.
    /// `diag` (which must outlive the operation) says why the batch failed as a whole, as for
    /// every other operation.
    template <boost::asio::completion_token_for<void(error_code, batch_summary)> Token =
                  kiemidi::default_token_t<executor_type>>
    auto async_run(std::vector<track_spec> tracks, std::function<void(const batch_event&)> on_event,
                   diagnostics& diag, Token&& token = {})
    {
        return boost::asio::async_initiate<Token, void(error_code, batch_summary)>(
            [this](auto handler, std::vector<track_spec> t, std::function<void(const batch_event&)> ev, diagnostics* d) {
                start_run(std::move(t), std::move(ev), *d, std::move(handler));
            },
            token, std::move(tracks), std::move(on_event), &diag);
    }

    /// As above, with the runner's own diagnostics (last_diagnostics()).
    template <boost::asio::completion_token_for<void(error_code, batch_summary)> Token =
                  kiemidi::default_token_t<executor_type>>
    auto async_run(std::vector<track_spec> tracks, std::function<void(const batch_event&)> on_event, Token&& token = {})
    {
        return async_run(std::move(tracks), std::move(on_event), diag_, std::forward<Token>(token));
    }

    /// The coroutine spelling of async_run: throws boost::system::system_error (what() carries
    /// last_diagnostics()) when the batch could not run or was cancelled.
    KIEMIDI_DECL boost::asio::awaitable<batch_summary> run(std::vector<track_spec> tracks,
                                                           std::function<void(const batch_event&)> on_event = {});

    /// Why the last async_run started without diagnostics of its own failed as a whole (journal or
    /// output directory errors).
    const diagnostics& last_diagnostics() const noexcept { return diag_; }

    /// The journal path used by async_run (batch_options::journal_path or its default).
    KIEMIDI_DECL std::filesystem::path journal_path() const;

private:
    KIEMIDI_DECL void start_run(std::vector<track_spec> tracks, std::function<void(const batch_event&)> on_event,
                                diagnostics& diag,
                                boost::asio::any_completion_handler<void(error_code, batch_summary)> handler);

    client& client_;
    batch_options opts_;
    diagnostics diag_;
    batch_claims* claims_ = nullptr;
    std::unique_ptr<boost::asio::thread_pool> pool_;
};

}  // namespace kiemidi

#endif
