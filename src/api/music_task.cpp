// Music task details: the tracks a separation can take as input.
#include <kiemidi/api/music_task.hpp>

#include "readers.hpp"

namespace kiemidi::api::detail {
namespace {

// Informative text: an odd value reads as empty (counted), never failing the answer.
std::string text_or_empty(const json_reader& obj, std::initializer_list<std::string_view> keys, result_repairs& rep)
{
    return optional_text(obj.any_of(keys), rep, *keys.begin()).value_or(std::string());
}

// A track without a usable id cannot be separated: it is left out (counted), the others kept.
bool read_track(const json_reader& item, music_track& out, result_repairs& rep)
{
    auto id = list_item_id(item, rep, "track");
    if (!id) return false;
    out.id = std::move(*id);
    out.audio_url = text_or_empty(item, {"audioUrl", "audio_url"}, rep);
    out.stream_audio_url = text_or_empty(item, {"streamAudioUrl", "stream_audio_url"}, rep);
    out.image_url = text_or_empty(item, {"imageUrl", "image_url"}, rep);
    out.prompt = text_or_empty(item, {"prompt"}, rep);
    out.model_name = text_or_empty(item, {"modelName", "model_name"}, rep);
    out.title = text_or_empty(item, {"title"}, rep);
    out.tags = text_or_empty(item, {"tags"}, rep);
    out.create_time = text_or_empty(item, {"createTime", "create_time"}, rep);
    out.duration = optional_double(item["duration"], rep, "duration").value_or(0.0);
    return true;
}

}  // namespace

void read_music_task_record(const json_reader& data, music_task_record& out)
{
    out = music_task_record{};
    if (!data.require_object()) return;
    out.task_id = read_task_id(data.any_of({"taskId", "task_id"}));
    auto& rep = out.repairs;
    out.status = text_or_empty(data, {"status"}, rep);
    out.type = text_or_empty(data, {"type"}, rep);
    json_reader response = data["response"];
    if (response.is_object())
    {
        json_reader tracks = response.any_of({"sunoData", "suno_data"});
        read_list(tracks, out.tracks, rep, "sunoData", read_track);
    }
    else if (!response.missing_or_null())
        record_repair(rep, repair_kind::field_ignored, "response not an object", response.path());
    read_record_error(data, out.error_code, out.error_message, rep);
}

}  // namespace kiemidi::api::detail
