/// @file
/// MIDI generation: the submit request and the note data KIE returns for a MIDI task.
///
/// KIE transcribes a completed separation (or one stem of it) into note events grouped by
/// General-MIDI-style instrument. It returns notes, never a .mid file. An empty result (no
/// instrument detected, common after split_stem) is a valid outcome, not a parse error.
#ifndef KIEMIDI_API_MIDI_HPP
#define KIEMIDI_API_MIDI_HPP

#include <kiemidi/config.hpp>
#include <kiemidi/api/repairs.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kiemidi::api {

/// Body of POST /api/v1/midi/generate.
struct midi_request
{
    std::string task_id;                  ///< The task id of a completed separation.
    std::string callback_url;             ///< Required by KIE; receives the MIDI callback.
    std::optional<std::string> audio_id;  ///< One stem (`stem::id`); unset or empty: all stems.
};

/// The JSON body KIE documents: {"taskId","callBackUrl"[,"audioId"]}; audioId only when set and non-empty.
KIEMIDI_DECL std::string serialize(const midi_request& req);

/// One note. A parsed note always has pitch 0..127, 0 <= start < end and velocity 0..1.
///
/// What KIE sends outside that is repaired or dropped, never a parse error (midi_data::repairs
/// counts both):
/// - velocity above 1: an integer up to 127 is MIDI's scale and becomes v / 127; anything else
///   is clamped to 1 (below 0: to 0). Missing, null or not a number: default_velocity.
/// - start below 0: clamped to 0 when the note ends after 0, else the note is dropped.
/// - end <= start (zero or negative length): dropped; there is no telling which time is wrong.
/// - a time missing or not a finite number: dropped.
/// - pitch missing, not an integer or outside 0..127: dropped.
struct note
{
    /// The velocity of a note KIE sent without one (a moderately loud note, MIDI velocity ~102).
    static constexpr double default_velocity = 0.8;

    int pitch = 0;        ///< MIDI note number (60 = middle C).
    double start = 0;     ///< Seconds from the start of the track.
    double end = 0;       ///< Seconds; always after start.
    double velocity = 0;  ///< 0..1, 1 the loudest (KIE's scale, not MIDI's 0..127).

    /// Equal when every member is equal.
    friend bool operator==(const note&, const note&) = default;
};

/// The notes of one detected instrument.
struct instrument
{
    std::string name;         ///< General-MIDI-style name, e.g. "Drums", "Electric Bass (finger)"; empty when null or absent.
    std::vector<note> notes;  ///< In KIE's order; empty when `notes` is null or absent.

    /// Equal when every member is equal.
    friend bool operator==(const instrument&, const instrument&) = default;
};

/// KIE's `midiData` (record) or callback `data`.
struct midi_data
{
    std::string state;                    ///< "complete" in every documented example; empty when absent.
    std::vector<instrument> instruments;  ///< Empty when KIE detected nothing.
    result_repairs repairs;               ///< What the parser repaired or dropped (see api::note).

    /// Equal when every member is equal.
    friend bool operator==(const midi_data&, const midi_data&) = default;
};

/// Progress of a MIDI task (KIE's numeric `successFlag`).
enum class midi_state
{
    pending = 0,             ///< Waiting to be executed.
    success = 1,             ///< Notes are available (possibly none).
    create_task_failed = 2,  ///< The task could not be created.
    generation_failed = 3,   ///< MIDI generation failed.
    unknown = -1,            ///< A flag kiemidi does not know.
};

/// "PENDING", "SUCCESS", "CREATE_TASK_FAILED", "GENERATION_FAILED" or "UNKNOWN".
KIEMIDI_DECL std::string_view to_string(midi_state s) noexcept;

/// Maps a successFlag number to a state; values other than 0..3 map to unknown.
KIEMIDI_DECL midi_state to_midi_state(std::int64_t flag) noexcept;

/// True for success and the failure states.
KIEMIDI_DECL bool is_final(midi_state s) noexcept;

/// The record of a MIDI task (`data` of GET /api/v1/midi/record-info).
struct midi_record
{
    std::string task_id;                        ///< The MIDI task id.
    std::optional<std::int64_t> record_task_id; ///< `recordTaskId` (-1 in KIE's example; meaning undocumented).
    std::string audio_id;                       ///< The stem used; may be empty.
    std::string callback_url;                   ///< The URL given at submission; may be empty.
    /// Parsed `successFlag`: null or absent reads as pending; a value kiemidi does not know is unknown
    /// (not final: waits poll on), with the value in raw_state.
    midi_state state = midi_state::unknown;
    std::string raw_state;                      ///< `successFlag` as KIE sent it (numbers as decimal text); empty when null or absent.
    midi_data midi;                             ///< Empty while pending, and when nothing was detected; its
                                                ///< repairs also count record fields read as absent.
    /// @{
    std::optional<std::int64_t> create_time_ms, complete_time_ms;  ///< Epoch milliseconds.
    /// @}
    /// @{
    std::optional<std::string> error_code, error_message;          ///< Set on failure (numbers as text).
    /// @}

    /// Equal when every member is equal.
    friend bool operator==(const midi_record&, const midi_record&) = default;
};

/// Total number of notes over all instruments.
KIEMIDI_DECL std::size_t note_count(const midi_data& m) noexcept;

}  // namespace kiemidi::api

#endif
