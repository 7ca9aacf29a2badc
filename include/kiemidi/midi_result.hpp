/// @file
/// kiemidi::midi_result: what the separation → MIDI pipeline (client::async_generate_midi)
/// produced for one song: task ids, stems, instruments and notes, repairs, timings.
#ifndef KIEMIDI_MIDI_RESULT_HPP
#define KIEMIDI_MIDI_RESULT_HPP

#include <kiemidi/api/midi.hpp>
#include <kiemidi/api/repairs.hpp>
#include <kiemidi/api/separation.hpp>
#include <kiemidi/smf/beat_grid.hpp>

#include <chrono>
#include <cstddef>
#include <string>
#include <vector>

namespace kiemidi {

/// What a pipeline produced; on failure, everything it had learned when it ended (task ids,
/// stems, repairs, callback references), whatever the error.
struct midi_result
{
    std::string separation_task_id;        ///< KIE's separation task id (empty until known).
    std::string midi_task_id;              ///< KIE's MIDI task id (empty until known).
    /// The callback references the paid POSTs were sent with (empty: not sent, or no callback hub
    /// attached). When a POST's outcome is unknown (client_errc::outcome_unknown, e.g. cancelled
    /// while in flight), client::async_find_task(callback_kind::separation or ::midi, reference,
    /// within, diag) finds the task it created once its callback comes: nothing is paid twice.
    std::string separation_reference;
    std::string midi_reference;            ///< \copydoc separation_reference
    api::stem_urls stems;                  ///< The separated stems' file URLs.
    std::vector<api::stem> stem_list;      ///< Per-stem ids (only when a record-info read happened).
    std::string transcribed_stem_id;       ///< The stem audio id sent to MIDI generation; empty = all stems.
    std::vector<api::instrument> instruments;  ///< Every detected instrument and its notes.
    /// The beat grid estimated from the notes (smf::estimate_beat_grid): tempo map, meter, bar
    /// phase, confidence. What a written file uses with the default tempo choice. Empty when
    /// midi_params::tempo was std::nullopt.
    smf::beat_grid grid;
    /// What kiemidi repaired or dropped in KIE's answers (odd notes, stems without id) instead of
    /// failing the paid result; see api::note.
    api::result_repairs repairs;
    /// KIE succeeded but detected no notes: a valid result (documented after split_stem), paid
    /// for, and worth telling the user about. The .mid file then has only the conductor track.
    bool no_notes = false;
    /// One line for users when the result deserves attention (repairs, no notes); empty otherwise.
    std::string warning;
    /// @{
    /// How long the separation stage, the MIDI stage and the whole pipeline took (wall time).
    std::chrono::milliseconds separation_time{0}, midi_time{0}, total_time{0};
    /// @}
    unsigned polls = 0;                    ///< record-info reads made while waiting.
    unsigned callbacks = 0;                ///< Callbacks that completed a wait.
    unsigned recovered = 0;                ///< Paid submissions whose lost answer was recovered from their tagged callback.

    /// The notes of every instrument together.
    std::size_t note_count() const noexcept
    {
        std::size_t n = 0;
        for (const auto& i : instruments) n += i.notes.size();
        return n;
    }
};

}  // namespace kiemidi

#endif
