/// @file
/// Inputs of the separation → MIDI pipeline (client::async_generate_midi) and of its separate
/// steps: how to wait for a KIE task and how long to wait. What comes back, midi_result, has its
/// own header (midi_result.hpp), included here so that code including only this header still builds.
#ifndef KIEMIDI_PIPELINE_OPTIONS_HPP
#define KIEMIDI_PIPELINE_OPTIONS_HPP

#include <kiemidi/api/midi.hpp>
#include <kiemidi/api/separation.hpp>
#include <kiemidi/midi_result.hpp>  // midi_result, the pipeline's output

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

/// How a wait for a KIE task learns that it finished: by callback, by polling record-info, or
/// both (hybrid), and the intervals used.
struct wait_options
{
    wait_strategy strategy = wait_strategy::hybrid; ///< Callback, polling or both (the default).
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
///
/// Under g++ 12, build it as a named variable, not as a braced temporary inside a co_await
/// expression (`co_await kie.generate_midi(midi_params{...})`): g++ 12 destroys an aggregate
/// temporary there twice (`free(): invalid pointer`), whatever the callee does with it.
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
    wait_options wait; ///< How each stage waits for its task.
    /// While the client takes KIE to be down (maintenance, repeated server errors, no
    /// connection: its circuit breaker is open), a paid step waits for KIE to come back, within
    /// `deadline`. True: it ends at once with client_errc::kie_unavailable instead, nothing paid,
    /// diagnostics saying since when KIE is unavailable.
    bool fail_fast_when_kie_unavailable = false;
    /// The tempo map to estimate into midi_result::grid once the notes are in (see
    /// smf::estimate_beat_grid): automatic by default. It costs a few milliseconds of CPU per
    /// long song on the thread that completes the pipeline, so a caller that does not use the
    /// grid, or that estimates it itself when writing files (write_result_files), sets
    /// std::nullopt: the grid then stays empty.
    std::optional<smf::tempo_choice> tempo = smf::tempo_choice{};
};

}  // namespace kiemidi

#endif
