// Inputs and outputs of the separation → MIDI pipeline (client::async_generate_midi) and of its
// separate steps: how to wait for a KIE task, how long to wait, and what comes back.
#ifndef KIEMIDI_PIPELINE_OPTIONS_HPP
#define KIEMIDI_PIPELINE_OPTIONS_HPP

#include <kiemidi/api/midi.hpp>
#include <kiemidi/api/separation.hpp>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace kiemidi {

/// How a client learns that a KIE task finished.
enum class wait_strategy
{
    callback,  ///< Only the callback (needs an attached listener); no record-info reads at all.
    polling,   ///< Only record-info polls, with backoff; works without a reachable listener.
    hybrid,    ///< The callback, and polls only once the callback is overdue (the default).
};

struct wait_options
{
    wait_strategy strategy = wait_strategy::hybrid;
    /// Hybrid: how long to wait for the callback before polling starts. KIE's separation and
    /// MIDI tasks usually take tens of seconds, so a callback later than this is presumed lost.
    std::chrono::milliseconds callback_overdue{std::chrono::seconds(90)};
    /// Delay before the first poll (polling strategy) and between polls at first.
    std::chrono::milliseconds poll_interval{std::chrono::seconds(5)};
    /// Polls back off (×1.5 with jitter) up to this interval.
    std::chrono::milliseconds max_poll_interval{std::chrono::seconds(30)};
    /// Read record-info once before trusting a callback. The webhook signature does not cover the
    /// body, so this is the way to make a forged-but-signed body harmless.
    bool confirm_callbacks = false;
    /// Read record-info once before waiting. For a task submitted earlier (e.g. before a
    /// restart), whose callback may already have come and gone.
    bool read_record_first = false;
};

/// One song → MIDI job.
struct midi_params
{
    std::string task_id;   ///< The KIE music task id.
    std::string audio_id;  ///< The track of that music task.
    /// separate_vocal (2 stems, the cheaper call) is the default; split_stem gives up to 12 stems
    /// but KIE documents that MIDI after it may be empty.
    api::separation_type separation = api::separation_type::separate_vocal;
    /// Transcribe only the stem with this `stem_type_group_name` (KIE's name, e.g. "Instrumental",
    /// "Bass"; compared case-insensitively). Empty: transcribe all stems, which needs no extra
    /// record-info read. A name the separation does not have ends the pipeline with
    /// client_errc::unknown_stem before the MIDI POST; diagnostics lists the names it has.
    std::string stem;
    /// Start from this separation, finished earlier (in KIE's web app, another tool, a previous
    /// run), instead of separating task_id/audio_id: no separation is submitted, and task_id,
    /// audio_id and `separation` are not used. Its record is read once before the paid MIDI
    /// POST; a separation that is not finished (api_errc::task_not_finished), unknown
    /// (api_errc::unknown_task) or failed (api_errc::task_failed, with KIE's message) ends the
    /// pipeline there, with nothing paid.
    std::string separation_task_id;
    /// With separation_task_id: transcribe only the stem with this audio id (the record's
    /// `originData[].id`); takes precedence over `stem`. An id the record does not list gives
    /// client_errc::unknown_stem, with nothing paid.
    std::string stem_audio_id;
    /// The whole pipeline must finish within this.
    std::chrono::milliseconds deadline{std::chrono::minutes(30)};
    /// Each wait (separation, MIDI) must finish within this.
    std::chrono::milliseconds stage_timeout{std::chrono::minutes(15)};
    /// When a paid POST's answer is lost (client_errc::outcome_unknown: a reset or timeout after
    /// sending, or an answer that is not KIE's JSON, such as a gateway's HTML 502), wait up to
    /// this long for the submission's callback, which the pipeline tags with a random reference (client::async_find_task); if it comes, the pipeline goes on with its
    /// task id instead of failing. 0: report outcome_unknown at once. Needs an attached hub.
    std::chrono::milliseconds unknown_outcome_wait{std::chrono::minutes(15)};
    wait_options wait;
};

/// What a pipeline produced.
struct midi_result
{
    std::string separation_task_id;        ///< KIE's separation task id.
    std::string midi_task_id;              ///< KIE's MIDI task id.
    api::stem_urls stems;                  ///< The separated stems' file URLs.
    std::vector<api::stem> stem_list;      ///< Per-stem ids (only when a record-info read happened).
    std::string transcribed_stem_id;       ///< The stem audio id sent to MIDI generation; empty = all stems.
    std::vector<api::instrument> instruments;  ///< Every detected instrument and its notes.
    /// What kiemidi repaired or dropped in KIE's answers (odd notes, stems without id) instead of
    /// failing the paid result; see api::note.
    api::result_repairs repairs;
    /// KIE succeeded but detected no notes: a valid result (documented after split_stem), paid
    /// for, and worth telling the user about. The .mid file then has only the conductor track.
    bool no_notes = false;
    /// One line for users when the result deserves attention (repairs, no notes); empty otherwise.
    std::string warning;
    std::chrono::milliseconds separation_time{0}, midi_time{0}, total_time{0};
    unsigned polls = 0;                    ///< record-info reads made while waiting.
    unsigned callbacks = 0;                ///< Callbacks that completed a wait.
    unsigned recovered = 0;                ///< Paid submissions whose lost answer was recovered from their tagged callback.

    std::size_t note_count() const noexcept
    {
        std::size_t n = 0;
        for (const auto& i : instruments) n += i.notes.size();
        return n;
    }
};

}  // namespace kiemidi

#endif
