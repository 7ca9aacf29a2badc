/// @file
/// Stem separation: the submit request and the record KIE keeps for a separation task.
///
/// A separation splits one generated track (music task id + audio id) into stems. KIE reports the
/// result in two places: the record (GET /api/v1/vocal-removal/record-info; camelCase keys, with
/// per-stem ids in originData) and the callback (snake_case keys, no per-stem ids; see callbacks.hpp).
/// The per-stem `stem::id` is the audio id that MIDI generation takes.
#ifndef KIEMIDI_API_SEPARATION_HPP
#define KIEMIDI_API_SEPARATION_HPP

#include <kiemidi/config.hpp>
#include <kiemidi/api/repairs.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kiemidi::api {

/// How many stems KIE produces.
enum class separation_type
{
    separate_vocal,  ///< Two stems: vocals and instrumental (KIE's default).
    split_stem,      ///< Up to 12 instrument stems; the MIDI of such a separation may be empty.
};

/// KIE's spelling of the type: "separate_vocal" or "split_stem".
KIEMIDI_DECL std::string_view to_string(separation_type t) noexcept;
/// The inverse of to_string (KIE's spelling, as a track list, the journal and the shared batch
/// state store it); nullopt for anything else.
KIEMIDI_DECL std::optional<separation_type> separation_type_from_string(std::string_view s) noexcept;

/// Body of POST /api/v1/vocal-removal/generate.
struct separation_request
{
    std::string task_id;   ///< The music-generation task id.
    std::string audio_id;  ///< The track of that task (`sunoData[].id` of the music record).
    separation_type type = separation_type::separate_vocal;  ///< Always sent, although KIE has a default.
    std::string callback_url;  ///< Where KIE posts completion; always sent (as "" when empty).
};

/// The JSON body KIE documents: {"taskId","audioId","type","callBackUrl"}, in that order.
KIEMIDI_DECL std::string serialize(const separation_request& req);

/// Progress of a separation task (KIE's `successFlag`).
enum class separation_state
{
    pending,                ///< "PENDING": waiting to be processed.
    success,                ///< "SUCCESS": stems are available.
    create_task_failed,     ///< "CREATE_TASK_FAILED": the task could not be created.
    generate_audio_failed,  ///< "GENERATE_AUDIO_FAILED": processing failed.
    callback_exception,     ///< "CALLBACK_EXCEPTION": sending the callback failed; stems may still exist.
    unknown,                ///< A flag kiemidi does not know; separation_record::raw_state keeps it.
};

/// KIE's spelling of the state ("SUCCESS", ...); "UNKNOWN" for separation_state::unknown.
KIEMIDI_DECL std::string_view to_string(separation_state s) noexcept;

/// Maps a successFlag to a state. Accepts KIE's text (case-insensitive) and, defensively, the
/// numeric spelling MIDI uses ("0" pending, "1" success, "2" create failed, "3" generate failed).
KIEMIDI_DECL separation_state parse_separation_state(std::string_view flag) noexcept;

/// True for the states after which KIE will not change the record again.
KIEMIDI_DECL bool is_final(separation_state s) noexcept;

/// One separated stem as listed in the record's `response.originData[]`.
struct stem
{
    std::string id;                    ///< The audio id to pass to MIDI generation for this stem.
    std::string audio_url;             ///< File URL (expires after about 14 days).
    std::string stem_type_group_name;  ///< e.g. "Vocals", "Instrumental", "Drums"; may be empty.
    double duration = 0;               ///< Seconds; 0 when KIE did not say.

    /// Equal when every member is equal.
    friend bool operator==(const stem&, const stem&) = default;
};

/// The stem of `stems` whose stem_type_group_name is `name`, compared case-insensitively (KIE
/// spells them "Vocals", "Instrumental", "Bass", ...); nullptr when there is none.
KIEMIDI_DECL const stem* find_stem(const std::vector<stem>& stems, std::string_view name) noexcept;

/// The stems' names ("Vocals, Instrumental"; a stem without a name by its id), for a message
/// that says which ones a separation has; "none listed" when `stems` is empty.
KIEMIDI_DECL std::string stem_names(const std::vector<stem>& stems);

/// Stem file URLs by kind. Unset means KIE sent null, "" or nothing for that kind.
struct stem_urls
{
    /// @{
    /// The URL of the file of that kind (`response.originUrl`, `instrumentalUrl`, `vocalUrl`, ...).
    std::optional<std::string> origin, instrumental, vocal, backing_vocals, drums, bass, guitar, piano,
        keyboard, percussion, strings, synth, fx, brass, woodwinds;
    /// @}

    /// Equal when every member is equal.
    friend bool operator==(const stem_urls&, const stem_urls&) = default;
};

/// The record of a separation task (`data` of GET /api/v1/vocal-removal/record-info).
struct separation_record
{
    std::string task_id;                     ///< The separation task id.
    std::string music_id;                    ///< Apparently the source track's audio id; may be empty.
    std::string callback_url;                ///< The URL given at submission; may be empty.
    std::optional<int> music_index;          ///< Apparently the track's index within the music task; unset when negative.
    /// Parsed `successFlag`: null or absent reads as pending; a value kiemidi does not know is
    /// unknown (not final: waits poll on).
    separation_state state = separation_state::unknown;
    std::string raw_state;                   ///< `successFlag` as KIE sent it (numbers as decimal text); empty when null or absent.
    stem_urls urls;                          ///< From `response`; all unset while pending.
    std::vector<stem> origin_data;           ///< Per-stem ids; empty when KIE's answer has no originData.
                                             ///< An entry without id is left out (counted in repairs).
    /// @{
    std::optional<std::int64_t> create_time_ms, complete_time_ms;  ///< Epoch milliseconds.
    /// @}
    /// @{
    std::optional<std::string> error_code, error_message;          ///< Set on failure (numbers as text).
    /// @}
    result_repairs repairs;  ///< Stems left out and fields read as absent because they were unusable.
};

}  // namespace kiemidi::api

#endif
