// Music task details: the tracks a separation can take as input.
#include <kiemidi/api/music_task.hpp>

#include "readers.hpp"

namespace kiemidi::api::detail {
namespace {

std::string text_or_empty(const json_reader& obj, std::initializer_list<std::string_view> keys)
{
    return obj.any_of(keys).opt_text().value_or(std::string());
}

void read_track(const json_reader& item, music_track& out)
{
    if (!item.require_object()) return;
    out.id = read_task_id(item["id"]);
    out.audio_url = text_or_empty(item, {"audioUrl", "audio_url"});
    out.stream_audio_url = text_or_empty(item, {"streamAudioUrl", "stream_audio_url"});
    out.image_url = text_or_empty(item, {"imageUrl", "image_url"});
    out.prompt = text_or_empty(item, {"prompt"});
    out.model_name = text_or_empty(item, {"modelName", "model_name"});
    out.title = text_or_empty(item, {"title"});
    out.tags = text_or_empty(item, {"tags"});
    out.create_time = text_or_empty(item, {"createTime", "create_time"});
    out.duration = item["duration"].opt_double().value_or(0.0);
}

}  // namespace

void read_music_task_record(const json_reader& data, music_task_record& out)
{
    out = music_task_record{};
    if (!data.require_object()) return;
    out.task_id = read_task_id(data.any_of({"taskId", "task_id"}));
    out.status = text_or_empty(data, {"status"});
    out.type = text_or_empty(data, {"type"});
    json_reader response = data["response"];
    if (response.optional_object())
    {
        json_reader tracks = response.any_of({"sunoData", "suno_data"});
        if (tracks.optional_array())
        {
            out.tracks.resize(tracks.size());
            for (std::size_t i = 0; i < out.tracks.size() && data.ok(); ++i)
            {
                json_reader item = tracks[i];
                read_track(item, out.tracks[i]);
            }
        }
    }
    out.error_code = data.any_of({"errorCode", "error_code"}).opt_text();
    out.error_message = data.any_of({"errorMessage", "error_message"}).opt_text();
}

}  // namespace kiemidi::api::detail
