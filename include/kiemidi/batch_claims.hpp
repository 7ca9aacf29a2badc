/// @file
/// kiemidi::batch_claims: the state of one batch shared by several workers (processes, machines).
///
/// A worker claims one track at a time under a lease, renews the lease while it works, and records
/// the same facts the SQLite journal records (intent before a paid POST, KIE's task id after it,
/// done / failed / outcome_unknown), so that when a worker dies its tracks are taken over by the
/// others once their leases expire, resumed from the recorded task ids and never paid twice.
/// Every change carries the claim's token and is refused once another worker owns the track.
/// This header is the interface; redis_batch_claims.hpp is the Redis implementation.
#ifndef KIEMIDI_BATCH_CLAIMS_HPP
#define KIEMIDI_BATCH_CLAIMS_HPP

#include <kiemidi/default_token.hpp>
#include <kiemidi/config.hpp>
#include <kiemidi/diagnostics.hpp>
#include <kiemidi/error.hpp>
#include <kiemidi/journal.hpp>
#include <kiemidi/track.hpp>

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/async_result.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace kiemidi {

/// Failures of the shared batch state other than those of its store (which keep their own category).
enum class claim_errc : int
{
    claim_lost = 1,      ///< The lease expired and another worker owns the track now; leave the track to it.
    invalid_transition,  ///< The track's state does not allow this change; diagnostics names the state.
    unknown_track,       ///< No track of this batch has this id.
    bad_reply,           ///< The store answered something this kiemidi does not understand (version mismatch?).
    /// The batch's state is gone from the store, or is no longer the one this worker opened: its
    /// identity (epoch) or a track it holds is missing (a restart without persistence, a flush, an
    /// eviction, a failover to a replica that lagged). Nothing in the store can be trusted for it.
    state_lost,
};

/// The category of claim_errc ("kiemidi.claims").
KIEMIDI_DECL const boost::system::error_category& get_claim_category() noexcept;
/// Makes claim_errc values error_codes (found by argument-dependent lookup).
inline error_code make_error_code(claim_errc e) noexcept { return {static_cast<int>(e), get_claim_category()}; }

/// A track this worker holds.
struct track_claim
{
    journal_entry entry;       ///< The track's facts when it was claimed (ids are the batch's, 1-based).
    std::string output_name;   ///< The track's output base name, unique within the batch.
    std::string token;         ///< Proves the claim; every change below carries it.
    std::string previous_owner;  ///< The worker whose lease had expired, when the track was taken over; else empty.
};

/// What async_claim found.
struct claim_result
{
    std::optional<track_claim> claim;  ///< The claimed track, if one was claimable.
    /// Nothing is claimable and nothing is leased: the batch is finished (done, failed or unknown).
    bool finished = false;
    /// Nothing claimable now, but other workers hold leases: ask again after this (the next expiry).
    std::chrono::milliseconds retry_after{0};
};

/// The journal's transitions, applied to a claimed track.
struct track_update
{
    /// Which transition: the fields below that it reads are named at each field.
    enum class kind
    {
        intent,           ///< pending → separation_intent / separating → midi_intent (before a paid POST); renews the lease.
        task_id,          ///< separation_intent → separating / midi_intent → transcribing (the POST's answer).
        done,             ///< transcribing → done; releases the claim.
        failed,           ///< any state but done → failed; releases the claim.
        outcome_unknown,  ///< an intent → outcome_unknown; releases the claim.
        requeue,          ///< failed / outcome_unknown → the latest state the task ids allow; keeps the claim.
        release,          ///< gives the claim up (stopping): the track is claimable at once by any worker.
        /// Task ids this worker knows from its own files (result provenance, its local record):
        /// `task_id` (separation) and `error` (MIDI, may be empty) are recorded, and the track
        /// goes to done when `failed_stage` is "done" (its files are written), else to the latest
        /// state the ids allow. Keeps the claim unless done. Never pays: it only spares paying again.
        adopt,
        /// transcribing / not_written / done → not_written: KIE finished, the files could not
        /// be written (`error` says why). Releases the claim; the track is claimable again
        /// when a worker next opens the batch (its result is then read again, for free).
        not_written,
        /// not_written → result_lost: KIE no longer keeps the result (`error` says so).
        /// Releases the claim; claimable again only when a worker opens with `resubmit_lost`.
        result_lost,
        /// done → not_written, claimable at once, without a claim: the files of a done track
        /// were found missing or damaged (`error` says which); its result is read again.
        files_missing,
    } what = kind::release;  ///< The transition to apply (default: release the claim).
    journal_stage stage = journal_stage::separation;  ///< intent, task_id.
    std::string task_id;                              ///< task_id: KIE's task id.
    std::string reference;                            ///< intent: the callback reference of the POST (journal_entry::intent_ref).
    std::string failed_stage;                         ///< failed: "separation", "midi" or "output".
    std::string error;                                ///< failed, outcome_unknown, not_written, result_lost, files_missing: why.
};

/// One track as the shared state knows it (for `kiemidi status`).
struct shared_track
{
    journal_entry entry;      ///< The facts.
    std::string output_name;  ///< Its output base name.
    std::string owner;        ///< The worker holding its lease; empty when nobody does.
    std::chrono::milliseconds lease_left{0};  ///< Until the lease expires (negative: expired, not yet taken over).
};

/// Which terminal tracks a worker makes claimable again when it opens the batch.
struct claims_open_options
{
    bool retry_failed = false;      ///< failed → latest resumable state.
    bool resubmit_unknown = false;  ///< outcome_unknown → latest resumable state (the user's choice to risk paying twice).
    bool resubmit_lost = false;     ///< result_lost → pending (or separating for a given separation): paid again, the user's choice.
    // Tracks not_written (and, from an earlier version, failed at "output" with a MIDI task id)
    // are always made claimable again: their result is only read, for free.
};

/// The shared state of one batch, as seen by one worker.
///
/// Every operation reports an error_code and fills `diag` with the store's own words.
///
/// @par Object lifetimes
/// Arguments are copied; `diag` and the object must outlive the operation.
///
/// @par Cancellation
/// Implementations honour terminal cancellation where the store allows it; a change that has
/// reached the store may still be applied. The batch runner never cancels changes.
///
/// @par Thread safety
/// Implementations allow concurrent operations from any thread; handlers are never invoked
/// from inside the initiating call.
class batch_claims
{
public:
    /// The executor the operations' handlers run on by default.
    using executor_type = boost::asio::any_io_executor;
    /// Handler signature of async_open and async_counts: the tracks per state.
    using open_signature = void(error_code, journal_counts);
    /// Handler signature of async_claim.
    using claim_signature = void(error_code, claim_result);
    /// Handler signature of async_update: the track's new state.
    using update_signature = void(error_code, track_state);
    /// Handler signature of async_renew: the ids of the tracks whose claims were lost.
    using renew_signature = void(error_code, std::vector<std::int64_t>);
    /// Handler signature of async_entries.
    using entries_signature = void(error_code, std::vector<shared_track>);

    /// Destroys the object; no operation may be pending.
    virtual ~batch_claims() = default;

    /// The executor of the store's connection.
    virtual executor_type get_executor() const noexcept = 0;

    /// This worker's id (shown as a track's owner).
    virtual const std::string& worker_id() const noexcept = 0;

    /// How long a claim lasts without renewal.
    virtual std::chrono::milliseconds lease() const noexcept = 0;

    /// Adds `tracks` (a track already present, same task_id, audio_id and name, is kept as it
    /// is), makes not_written tracks claimable again, failed / unknown / result_lost ones as
    /// `opts` says, and returns the counts.
    /// Handler: void(error_code, journal_counts).
    template <boost::asio::completion_token_for<open_signature> Token =
                  kiemidi::default_token_t<executor_type>>
    auto async_open(std::vector<track_spec> tracks, claims_open_options opts, diagnostics& diag, Token&& token = {})
    {
        return boost::asio::async_initiate<Token, open_signature>(
            [this, &diag](auto h, std::vector<track_spec> t, claims_open_options o) {
                start_open(std::move(t), o, diag, boost::asio::any_completion_handler<open_signature>(std::move(h)));
            },
            token, std::move(tracks), opts);
    }

    /// Claims the next track: a leased one whose lease expired first (a dead worker's), else the
    /// first unclaimed one. Handler: void(error_code, claim_result).
    template <boost::asio::completion_token_for<claim_signature> Token =
                  kiemidi::default_token_t<executor_type>>
    auto async_claim(diagnostics& diag, Token&& token = {})
    {
        return boost::asio::async_initiate<Token, claim_signature>(
            [this, &diag](auto h) { start_claim(diag, boost::asio::any_completion_handler<claim_signature>(std::move(h))); },
            token);
    }

    /// Applies `u` to track `id` if `claim_token` still owns it. Handler: void(error_code, track_state)
    /// with the new state. claim_errc::claim_lost when another worker owns it now (a late task id
    /// is still recorded, so nobody pays for it again); claim_errc::invalid_transition otherwise refused.
    template <boost::asio::completion_token_for<update_signature> Token =
                  kiemidi::default_token_t<executor_type>>
    auto async_update(std::int64_t id, std::string claim_token, track_update u, diagnostics& diag, Token&& token = {})
    {
        return boost::asio::async_initiate<Token, update_signature>(
            [this, &diag](auto h, std::int64_t i, std::string t, track_update up) {
                start_update(i, std::move(t), std::move(up), diag,
                             boost::asio::any_completion_handler<update_signature>(std::move(h)));
            },
            token, id, std::move(claim_token), std::move(u));
    }

    /// Extends the leases of `claims` (track id, token). Handler: void(error_code, lost ids):
    /// the tracks another worker took over meanwhile.
    template <boost::asio::completion_token_for<renew_signature> Token =
                  kiemidi::default_token_t<executor_type>>
    auto async_renew(std::vector<std::pair<std::int64_t, std::string>> claims, diagnostics& diag, Token&& token = {})
    {
        return boost::asio::async_initiate<Token, renew_signature>(
            [this, &diag](auto h, std::vector<std::pair<std::int64_t, std::string>> c) {
                start_renew(std::move(c), diag, boost::asio::any_completion_handler<renew_signature>(std::move(h)));
            },
            token, std::move(claims));
    }

    /// How many tracks are in each state. Handler: void(error_code, journal_counts).
    template <boost::asio::completion_token_for<open_signature> Token =
                  kiemidi::default_token_t<executor_type>>
    auto async_counts(diagnostics& diag, Token&& token = {})
    {
        return boost::asio::async_initiate<Token, open_signature>(
            [this, &diag](auto h) { start_counts(diag, boost::asio::any_completion_handler<open_signature>(std::move(h))); },
            token);
    }

    /// Every track with its owner, in insertion order. Handler: void(error_code, std::vector<shared_track>).
    template <boost::asio::completion_token_for<entries_signature> Token =
                  kiemidi::default_token_t<executor_type>>
    auto async_entries(diagnostics& diag, Token&& token = {})
    {
        return boost::asio::async_initiate<Token, entries_signature>(
            [this, &diag](auto h) { start_entries(diag, boost::asio::any_completion_handler<entries_signature>(std::move(h))); },
            token);
    }

protected:
    /// For implementations (the batch runner's shared state in Redis: redis_batch_claims).
    batch_claims() = default;
    /// Not copyable: one object per worker and batch.
    batch_claims(const batch_claims&) = delete;
    /// Not copyable.
    batch_claims& operator=(const batch_claims&) = delete;

    /// @name Implementation hooks
    /// Each async_* operation calls its start_* with its arguments and a type-erased handler that
    /// the implementation invokes exactly once, never from inside the call (see the class's
    /// lifetimes and cancellation contract).
    /// @{

    /// Starts async_open.
    virtual void start_open(std::vector<track_spec> tracks, claims_open_options opts, diagnostics& diag,
                            boost::asio::any_completion_handler<open_signature> h) = 0;
    /// Starts async_claim.
    virtual void start_claim(diagnostics& diag, boost::asio::any_completion_handler<claim_signature> h) = 0;
    /// Starts async_update.
    virtual void start_update(std::int64_t id, std::string claim_token, track_update u, diagnostics& diag,
                              boost::asio::any_completion_handler<update_signature> h) = 0;
    /// Starts async_renew.
    virtual void start_renew(std::vector<std::pair<std::int64_t, std::string>> claims, diagnostics& diag,
                             boost::asio::any_completion_handler<renew_signature> h) = 0;
    /// Starts async_counts.
    virtual void start_counts(diagnostics& diag, boost::asio::any_completion_handler<open_signature> h) = 0;
    /// Starts async_entries.
    virtual void start_entries(diagnostics& diag, boost::asio::any_completion_handler<entries_signature> h) = 0;
    /// @}
};

}  // namespace kiemidi

namespace boost::system {
template <> struct is_error_code_enum<kiemidi::claim_errc> : std::true_type {};
}  // namespace boost::system

#endif
