/// @file
/// kiemidi::journal: the durable state of one batch, one SQLite file per batch.
///
/// A paid KIE submission is a one-way door: before it the journal records the intent, after it
/// the KIE task id, and only once the result files are written the track is marked done. Every
/// state change is one fsync'd transaction (WAL, synchronous=FULL), so after a crash or restart
/// the journal says exactly which tracks are done, which can be resumed by waiting on a known
/// task, and which submissions have an unknown outcome. Calls block: run them off the io thread.
#ifndef KIEMIDI_JOURNAL_HPP
#define KIEMIDI_JOURNAL_HPP

#include <kiemidi/api/separation.hpp>
#include <kiemidi/config.hpp>
#include <kiemidi/diagnostics.hpp>
#include <kiemidi/error.hpp>
#include <kiemidi/track.hpp>  // track_spec, track_state

#include <array>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace kiemidi {

/// The paid step a journal call is about.
enum class journal_stage
{
    separation,  ///< POST /api/v1/vocal-removal/generate
    midi,        ///< POST /api/v1/midi/generate
};

/// "separation" or "midi".
KIEMIDI_DECL std::string_view to_string(journal_stage s) noexcept;

/// Journal failures other than SQLite's own (those use sqlite_category(), value = SQLite's
/// extended result code, SQLite's message in diagnostics::client_message()).
enum class journal_errc : int
{
    invalid_transition = 1,  ///< The track is not in a state that allows this change; diagnostics names both.
    unknown_track,           ///< No track has this id.
    newer_schema,            ///< The file was written by a newer kiemidi (PRAGMA user_version); upgrade kiemidi.
    not_open,                ///< The journal is not open (open() failed or it was moved from).
};

/// The category of journal_errc ("kiemidi.journal").
KIEMIDI_DECL const boost::system::error_category& get_journal_category() noexcept;
/// The category of SQLite result codes ("kiemidi.sqlite").
KIEMIDI_DECL const boost::system::error_category& get_sqlite_category() noexcept;
/// Makes journal_errc values error_codes (found by argument-dependent lookup).
inline error_code make_error_code(journal_errc e) noexcept { return {static_cast<int>(e), get_journal_category()}; }

/// One track as the journal knows it.
struct journal_entry
{
    std::int64_t id = 0;                  ///< Row id; stable for the life of the journal.
    track_spec track;                     ///< As added.
    track_state state = track_state::pending;  ///< Where the track is (see track_state).
    std::string separation_task_id;       ///< KIE's separation task id, once recorded.
    std::string midi_task_id;             ///< KIE's MIDI task id, once recorded.
    std::string error;                    ///< Why it failed or why its outcome is unknown (KIE's message included).
    unsigned attempts = 0;                ///< Paid submissions intended for this track (both stages).
    std::string failed_stage;             ///< "separation", "midi" or "output" for failed / outcome_unknown tracks.
    /// The callback reference (callback_reference.hpp) the latest paid intent's callback URL
    /// carries; empty when none was recorded. It finds the task of a POST whose answer was lost.
    std::string intent_ref;
};

/// How many tracks are in each state.
struct journal_counts
{
    std::array<std::size_t, track_state_count> by_state{};  ///< Indexed by track_state.
    std::size_t total = 0;                                   ///< All tracks.

    /// The number of tracks in state `s`.
    std::size_t operator[](track_state s) const noexcept { return by_state[static_cast<std::size_t>(s)]; }
};

/// The state journal::requeue() puts a failed / outcome_unknown / result_lost track in: the
/// latest its recorded task ids allow (transcribing: only the MIDI result is read, nothing
/// paid; separating: one MIDI submission; pending: a separation and a MIDI submission).
KIEMIDI_DECL track_state requeue_target(const journal_entry& e) noexcept;

/// The SQLite journal of one batch.
///
/// Every member returning error_code also exists in a throwing spelling without `diagnostics&`
/// (it throws boost::system::system_error whose what() carries the diagnostics).
///
/// @par Thread safety
/// Calls are serialised by an internal mutex, so one journal may be used from several threads;
/// each call blocks on disk I/O (fsync), so never call it on an io_context thread. Two processes
/// may open the same file (SQLite locking, 5 s busy timeout), but running two batches on one
/// journal at once is not supported.
class journal
{
public:
    /// The schema version written to PRAGMA user_version.
    /// Version 2 added journal_entry::intent_ref; version 3 the per-track choices of track_spec
    /// (separation type, stem, separation task id); version 4 the states not_written and
    /// result_lost (a track an older version failed "at output" with its MIDI task id recorded
    /// becomes not_written). An older file is upgraded when opened.
    static constexpr int schema_version = 4;

    /// Opens (creating if needed) the journal at `path`. On failure `ec` is set and the returned
    /// journal is not open.
    KIEMIDI_DECL static journal open(const std::filesystem::path& path, error_code& ec, diagnostics& diag);
    /// Throwing spelling of open().
    KIEMIDI_DECL static journal open(const std::filesystem::path& path);

    /// A journal that is not open (is_open() is false); assign one from open().
    KIEMIDI_DECL journal() noexcept;
    /// Takes over the other journal's file; the moved-from journal is left not open.
    KIEMIDI_DECL journal(journal&&) noexcept;
    /// Closes this journal's file and takes over the other's; the moved-from journal is left not open.
    KIEMIDI_DECL journal& operator=(journal&&) noexcept;
    /// Closes the file (every change is already committed).
    KIEMIDI_DECL ~journal();

    /// True when open() succeeded.
    KIEMIDI_DECL bool is_open() const noexcept;
    /// The file this journal was opened from.
    KIEMIDI_DECL const std::filesystem::path& path() const noexcept;

    /// Adds tracks in one transaction; a track already present (the same track_spec: ids, name and
    /// choices) is left as it is. A track naming a separation starts at track_state::separating.
    KIEMIDI_DECL error_code add_tracks(std::span<const track_spec> tracks, diagnostics& diag);
    /// Throwing spelling of the overload above.
    KIEMIDI_DECL void add_tracks(std::span<const track_spec> tracks);

    /// Every track, in insertion order.
    KIEMIDI_DECL error_code entries(std::vector<journal_entry>& out, diagnostics& diag) const;
    /// Throwing spelling of the overload above.
    KIEMIDI_DECL std::vector<journal_entry> entries() const;

    /// One track.
    KIEMIDI_DECL error_code get(std::int64_t id, journal_entry& out, diagnostics& diag) const;
    /// Throwing spelling of the overload above; journal_errc::unknown_track for an unknown id.
    KIEMIDI_DECL journal_entry get(std::int64_t id) const;

    /// Before a paid POST: pending → separation_intent, or separating → midi_intent. Counts an attempt.
    KIEMIDI_DECL error_code record_intent(std::int64_t id, journal_stage stage, diagnostics& diag);
    /// Throwing spelling of the overload above.
    KIEMIDI_DECL void record_intent(std::int64_t id, journal_stage stage);
    /// The same, recording the callback reference the POST's callback URL will carry (intent_ref).
    KIEMIDI_DECL error_code record_intent(std::int64_t id, journal_stage stage, std::string_view callback_reference,
                                          diagnostics& diag);
    /// Throwing spelling of the overload above.
    KIEMIDI_DECL void record_intent(std::int64_t id, journal_stage stage, std::string_view callback_reference);

    /// After a paid POST answered: separation_intent → separating, or midi_intent → transcribing.
    KIEMIDI_DECL error_code record_task_id(std::int64_t id, journal_stage stage, std::string_view kie_task_id, diagnostics& diag);
    /// Throwing spelling of the overload above.
    KIEMIDI_DECL void record_task_id(std::int64_t id, journal_stage stage, std::string_view kie_task_id);

    /// After the output files are written: transcribing / not_written → done.
    KIEMIDI_DECL error_code mark_done(std::int64_t id, diagnostics& diag);
    /// Throwing spelling of the overload above.
    KIEMIDI_DECL void mark_done(std::int64_t id);

    /// Any state but done → failed, with the stage ("separation", "midi", "output") and the reason.
    KIEMIDI_DECL error_code mark_failed(std::int64_t id, std::string_view stage, std::string_view error, diagnostics& diag);
    /// Throwing spelling of the overload above.
    KIEMIDI_DECL void mark_failed(std::int64_t id, std::string_view stage, std::string_view error);

    /// KIE finished but the files are not written (a write error), or a later run found a done
    /// track's files missing or damaged: transcribing / done / not_written → not_written, with
    /// the reason (failed_stage "output"). The task ids stay: the next run fetches the result
    /// from KIE's record (free) and writes the files.
    KIEMIDI_DECL error_code mark_not_written(std::int64_t id, std::string_view error, diagnostics& diag);
    /// Throwing spelling of the overload above.
    KIEMIDI_DECL void mark_not_written(std::int64_t id, std::string_view error);

    /// not_written → result_lost: KIE no longer has the MIDI task's record, so the result cannot
    /// be fetched; only a resubmission (requeue, the user's explicit choice) brings it back.
    KIEMIDI_DECL error_code mark_result_lost(std::int64_t id, std::string_view error, diagnostics& diag);
    /// Throwing spelling of the overload above.
    KIEMIDI_DECL void mark_result_lost(std::int64_t id, std::string_view error);

    /// separation_intent / midi_intent → outcome_unknown (a paid POST whose answer was lost).
    KIEMIDI_DECL error_code mark_outcome_unknown(std::int64_t id, std::string_view error, diagnostics& diag);
    /// Throwing spelling of the overload above.
    KIEMIDI_DECL void mark_outcome_unknown(std::int64_t id, std::string_view error);

    /// The user's explicit choice to try a failed / outcome_unknown track again: it goes back to
    /// the latest state its recorded task ids allow (transcribing if a MIDI task id is known,
    /// separating if a separation task id is known, else pending), so a known paid task is waited
    /// on again rather than paid again (see requeue_target()). A result_lost track starts its
    /// paid steps again: pending with its task ids cleared (separating with the separation it
    /// names). The error is cleared; `out_state` receives the new state.
    KIEMIDI_DECL error_code requeue(std::int64_t id, track_state& out_state, diagnostics& diag);
    /// Throwing spelling of the overload above; returns the new state.
    KIEMIDI_DECL track_state requeue(std::int64_t id);
    /// The same for a failed track whose `redo` step KIE itself failed (its record says so):
    /// that step's task id (and for the separation the MIDI one) is dropped, so the track goes
    /// back to separating (`redo` midi) or pending (`redo` separation) and that step is
    /// submitted again, rather than waiting on a task that will never succeed.
    KIEMIDI_DECL error_code requeue(std::int64_t id, journal_stage redo, track_state& out_state, diagnostics& diag);

    /// How many tracks are in each state.
    KIEMIDI_DECL error_code counts(journal_counts& out, diagnostics& diag) const;
    /// Throwing spelling of the overload above.
    KIEMIDI_DECL journal_counts counts() const;

private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

}  // namespace kiemidi

namespace boost::system {
template <> struct is_error_code_enum<kiemidi::journal_errc> : std::true_type {};
}  // namespace boost::system

#endif
