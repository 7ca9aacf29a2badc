// What a batch worker needs from the place a batch's state lives, and its two implementations:
// the local SQLite journal (journal_batch_state.cpp) and a batch shared by several workers
// through batch_claims (shared_batch_state.cpp). Internal.
//
// The worker does the same for both: it takes the next track, records each paid step's intent
// and task id and each state transition through update(), and lets the track go at its end; a
// state whose tracks are held under a lease (shared) also has the leases renewed.
//
// Every member coroutine is called on the run's strand; arguments are pointers (trivially
// destructible, g++ 12), read before the first suspension or owned by the caller until the
// operation completes. Changes are shielded from cancellation: once started, a change completes.
#ifndef KIEMIDI_SRC_BATCH_BATCH_STATE_HPP
#define KIEMIDI_SRC_BATCH_BATCH_STATE_HPP

#include "batch_support.hpp"

#include <kiemidi/batch.hpp>
#include <kiemidi/batch_claims.hpp>
#include <kiemidi/journal.hpp>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace kiemidi::detail {

/// What opening the batch found.
struct opened_batch
{
    /// A track this run leaves as it is (done, or failed / outcome_unknown and not retried),
    /// reported as skipped and counted under its state.
    struct left_out
    {
        std::string name;
        std::string message;
        track_state state = track_state::pending;
    };
    std::size_t total = 0;    ///< Tracks in the batch.
    std::size_t done = 0;     ///< Done before this run, beyond those in `skipped`.
    std::size_t failed = 0;   ///< Failed, beyond those in `skipped`.
    std::size_t unknown = 0;  ///< Outcome unknown, beyond those in `skipped`.
    /// Done tracks whose files were found missing or damaged; queued (not_written) to be
    /// written again from KIE's record.
    std::size_t files_missing = 0;
    std::vector<left_out> skipped;  ///< In batch order.
};

/// What take_next() found: a track, the end of the batch, or a time to ask again.
struct next_track
{
    std::optional<journal_entry> entry;  ///< The track to process now.
    std::string name;                    ///< Its output base name, unique within the batch.
    bool taken_over = false;             ///< It was another worker's, whose lease had expired.
    bool finished = false;               ///< No track to take, now or later.
    /// The track's results are already written (this worker's own files say so, with their
    /// task ids): the state counts it done and nothing is to be done or paid; `note` says how it was known.
    bool already_written = false;
    std::string note;
    std::chrono::milliseconds retry_after{0};  ///< Neither: ask again after this.
};

/// The counts of this run the state's summary needs.
struct run_tally
{
    std::size_t done_before = 0;  ///< Done before this run.
    std::size_t done_now = 0;     ///< Done in this run.
    std::size_t finished = 0;     ///< Tracks taken in this run that ended done, failed or unknown.
};

class batch_state
{
public:
    virtual ~batch_state() = default;

    /// "journal" or "shared state", for messages.
    virtual const char* label() const noexcept = 0;

    /// Creates the output directory, adds `tracks` (existing ones are kept as they are), makes
    /// failed / unknown tracks takeable again as the options say, and fills `out`.
    virtual boost::asio::awaitable<error_code> open(std::vector<track_spec>* tracks, opened_batch* out, diagnostics* diag) = 0;

    /// How many workers to start when `wanted` are asked for.
    virtual std::size_t worker_count(std::size_t wanted) const = 0;

    /// The next track for a worker. An error means the state cannot be used any more.
    virtual boost::asio::awaitable<error_code> take_next(next_track* out, diagnostics* diag) = 0;

    /// Applies `u` (any kind but requeue and release) to track `id`.
    virtual boost::asio::awaitable<error_code> update(std::int64_t id, const track_update* u, diagnostics* diag) = 0;

    /// KIE finished but the files of track `id` are not written; `why` says why. The track is
    /// let go: a later run (a shared batch: the next worker to open it) reads its result again.
    virtual boost::asio::awaitable<error_code> mark_not_written(std::int64_t id, const std::string* why, diagnostics* diag) = 0;

    /// not_written → result_lost: KIE no longer has the record; `why` says so.
    virtual boost::asio::awaitable<error_code> mark_result_lost(std::int64_t id, const std::string* why, diagnostics* diag) = 0;

    /// failed / outcome_unknown / result_lost → the state journal::requeue() gives; `e` is updated.
    /// `redo`, when set: a failed track's step KIE failed, submitted again (journal::requeue with
    /// a stage); a state that cannot drop task ids (shared) requeues as without it.
    virtual boost::asio::awaitable<error_code> requeue(journal_entry* e, diagnostics* diag,
                                                std::optional<journal_stage> redo = std::nullopt) = 0;

    /// The worker is done with track `id`; `put_back`: another worker may take it at once (a
    /// shared claim is released rather than left to expire). Errors are ignored.
    virtual boost::asio::awaitable<void> let_go(std::int64_t id, bool put_back) = 0;

    /// A change refused because the track is no longer (or not as expected) this worker's.
    virtual bool claim_gone(const error_code& ec) const noexcept = 0;

    /// How long a claim lasts without renewal; nullopt when tracks are not leased.
    virtual std::optional<std::chrono::milliseconds> lease() const noexcept = 0;

    /// Renews the leases of the tracks this worker holds; `lost` gets those another worker took over.
    /// Cancellable (the renewer stops with the workers).
    virtual boost::asio::awaitable<error_code> renew(std::vector<std::int64_t>* lost, diagnostics* diag) = 0;

    /// Whether the callbacks of tasks submitted before (an earlier run, another worker) reach
    /// this run's listener; when not, resumed tasks are polled.
    virtual bool resumed_callbacks_reachable() const noexcept = 0;

    /// How long a track found in an intent waits for the callback tagged with its reference.
    virtual std::chrono::milliseconds resumed_intent_wait() const noexcept = 0;

    /// Ends the run: fills the parts of `summary` the state knows (the batch's end counts,
    /// unfinished tracks) and closes what open() opened.
    virtual boost::asio::awaitable<error_code> close(const run_tally* tally, batch_summary* summary, diagnostics* diag) = 0;
};

/// Why the files of the done track named `name` are to be written again from KIE's record
/// (missing or damaged), or empty when they are whole. Blocking: reads the files.
std::string done_track_files_damaged(const batch_options& opts, const std::string& name);

/// The local SQLite journal at `journal_path`; blocking calls run on `pool`.
std::unique_ptr<batch_state> make_journal_batch_state(const batch_options& opts, std::filesystem::path journal_path,
                                                      pool_executor pool);

/// One worker's view of the shared batch `claims`; blocking calls run on `pool`.
std::unique_ptr<batch_state> make_shared_batch_state(batch_claims& claims, const batch_options& opts, pool_executor pool);

}  // namespace kiemidi::detail

#endif
