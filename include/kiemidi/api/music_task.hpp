/// @file
/// Music-generation task details: where separation inputs come from.
///
/// `GET /api/v1/generate/record-info?taskId=<music task id>` lists the generated tracks; a track's
/// `id` is the audio id a separation request takes. Its state is `status` text, not a successFlag.
#ifndef KIEMIDI_API_MUSIC_TASK_HPP
#define KIEMIDI_API_MUSIC_TASK_HPP

#include <kiemidi/api/repairs.hpp>

#include <optional>
#include <string>
#include <vector>

namespace kiemidi::api {

/// One generated track (`data.response.sunoData[]`).
struct music_track
{
    std::string id;                ///< Audio id: pass it as separation_request::audio_id.
    std::string audio_url;         ///< File URL; may be empty while generating.
    std::string stream_audio_url;  ///< Streaming URL; may be empty.
    std::string image_url;         ///< Cover image URL; may be empty.
    std::string prompt;            ///< Lyrics or prompt text.
    std::string model_name;        ///< e.g. "chirp-v3-5".
    std::string title;             ///< Track title.
    std::string tags;              ///< Comma-separated style tags.
    std::string create_time;       ///< KIE's "YYYY-MM-DD HH:MM:SS" text, verbatim.
    double duration = 0;           ///< Seconds; 0 when unknown.
};

/// The record of a music task (`data` of GET /api/v1/generate/record-info).
struct music_task_record
{
    std::string task_id;               ///< The music task id.
    std::string status;                ///< "PENDING", "TEXT_SUCCESS", "FIRST_SUCCESS", "SUCCESS", or a failure text.
    std::string type;                  ///< e.g. "GENERATE"; may be empty.
    std::vector<music_track> tracks;   ///< Empty until KIE lists tracks; a track without id is left out.
    /// @{
    std::optional<std::string> error_code, error_message;  ///< Set on failure (numbers as text).
    /// @}
    result_repairs repairs;            ///< Tracks left out and fields read as absent because they were unusable.
};

}  // namespace kiemidi::api

#endif
