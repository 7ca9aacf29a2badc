/// @file
/// kiemidi::track_spec and kiemidi::track_state: one song of a batch and its place in the batch's
/// state machine, shared by the SQLite journal (journal.hpp), the shared batch state
/// (batch_claims.hpp) and the batch runner (batch.hpp).
#ifndef KIEMIDI_TRACK_HPP
#define KIEMIDI_TRACK_HPP

#include <kiemidi/api/separation.hpp>
#include <kiemidi/config.hpp>

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace kiemidi {

/// One song to turn into MIDI: a music track (task_id + audio_id), or a separation finished
/// earlier (separation_task_id), with optional per-track choices over the batch's defaults.
struct track_spec
{
    std::string task_id;   ///< The KIE music task id (empty for a separation).
    std::string audio_id;  ///< The track of that music task (empty for a separation).
    /// Output base name; empty → "<task_id>_<audio_id>", or for a separation
    /// "<separation_task_id>" / "<separation_task_id>_<stem>" (sanitised either way).
    std::string name;
    /// The separation to make; unset: the batch's (batch_options::pipeline.separation).
    std::optional<api::separation_type> separation;
    /// Transcribe only this stem, by KIE's name (case-insensitive); empty: the batch's
    /// (batch_options::pipeline.stem), which when empty too means all stems.
    std::string stem;
    /// A separation finished earlier to transcribe, instead of separating task_id/audio_id: the
    /// track enters the batch at track_state::separating with this task id, so no separation is
    /// paid for. Its record is read once before the MIDI POST; one not finished, unknown or
    /// failed fails the track with KIE's message and nothing paid.
    std::string separation_task_id;
};

/// A track's place in the journal's state machine.
///
///     pending ──intent──► separation_intent ──task id──► separating ──intent──► midi_intent
///        ▲                      │                                                  │
///        │                      └──────────► outcome_unknown ◄─────────────────────┘
///        │                                                          task id
///        │                                   midi_intent ────────────────────► transcribing ──► done
///        └── requeue (failed / outcome_unknown → latest resumable state)
///
///     transcribing ──files not written──► not_written ──record read, files written──► done
///     done ──files found missing or damaged by a later run──► not_written
///     not_written ──KIE no longer has the record──► result_lost ──resubmit (explicit)──► pending
///
/// Any state but done may go to failed. An intent without a task id means a paid POST may have
/// been sent without its answer being recorded; it becomes outcome_unknown and is never sent
/// again unless the user asks for it (requeue).
enum class track_state
{
    pending,            ///< Nothing paid yet: the separation will be submitted.
    separation_intent,  ///< The separation POST is about to be (or was) sent; no task id recorded.
    separating,         ///< The separation task id is recorded; waiting for its stems.
    midi_intent,        ///< The MIDI POST is about to be (or was) sent; no task id recorded.
    transcribing,       ///< The MIDI task id is recorded; waiting for its notes.
    done,               ///< The .mid (and .json) files are written.
    failed,             ///< Failed; `error` and `failed_stage` say where and why.
    outcome_unknown,    ///< A paid POST was sent but its answer was lost; not resubmitted without consent.
    /// KIE finished (both steps paid, task ids recorded) but the files are not written: a local
    /// write error (disk full, read-only, permissions, a missing directory), or files found missing
    /// or damaged after the track was done. The next run reads KIE's record (free) and writes them.
    not_written,
    /// The files are missing and KIE no longer has the MIDI task's record: only paying again
    /// brings the result back, which is left to the user's explicit choice (resubmit).
    result_lost,
};

/// The number of track_state values (for arrays indexed by state, journal_counts).
inline constexpr std::size_t track_state_count = 10;

/// The state's name as stored in the journal ("pending", "separation_intent", ...).
KIEMIDI_DECL std::string_view to_string(track_state s) noexcept;
/// The inverse of to_string; nullopt for an unknown name.
KIEMIDI_DECL std::optional<track_state> track_state_from_string(std::string_view s) noexcept;

}  // namespace kiemidi

#endif
