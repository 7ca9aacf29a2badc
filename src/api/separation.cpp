// Stem separation: request body and record mapping.
#include <kiemidi/api/separation.hpp>

#include "readers.hpp"

#include <boost/beast/core/string.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include <algorithm>
#include <array>
#include <limits>

namespace kiemidi::api {

std::string_view to_string(separation_type t) noexcept
{
    return t == separation_type::split_stem ? "split_stem" : "separate_vocal";
}

std::optional<separation_type> separation_type_from_string(std::string_view s) noexcept
{
    for (auto t : {separation_type::separate_vocal, separation_type::split_stem})
        if (to_string(t) == s) return t;
    return std::nullopt;
}

std::string serialize(const separation_request& req)
{
    boost::json::object body;
    body["taskId"] = req.task_id;
    body["audioId"] = req.audio_id;
    body["type"] = to_string(req.type);
    body["callBackUrl"] = req.callback_url;
    return boost::json::serialize(body);
}

std::string_view to_string(separation_state s) noexcept
{
    switch (s)
    {
    case separation_state::pending: return "PENDING";
    case separation_state::success: return "SUCCESS";
    case separation_state::create_task_failed: return "CREATE_TASK_FAILED";
    case separation_state::generate_audio_failed: return "GENERATE_AUDIO_FAILED";
    case separation_state::callback_exception: return "CALLBACK_EXCEPTION";
    case separation_state::unknown: break;
    }
    return "UNKNOWN";
}

separation_state parse_separation_state(std::string_view flag) noexcept
{
    static constexpr std::array known{
        separation_state::pending, separation_state::success, separation_state::create_task_failed,
        separation_state::generate_audio_failed, separation_state::callback_exception};
    for (auto s : known)
        if (boost::beast::iequals(flag, to_string(s))) return s;
    if (auto n = kiemidi::detail::parse_int64_text(flag))
    {
        switch (*n)
        {
        case 0: return separation_state::pending;
        case 1: return separation_state::success;
        case 2: return separation_state::create_task_failed;
        case 3: return separation_state::generate_audio_failed;
        default: break;
        }
    }
    return separation_state::unknown;
}

bool is_final(separation_state s) noexcept
{
    return s != separation_state::pending && s != separation_state::unknown;
}

const stem* find_stem(const std::vector<stem>& stems, std::string_view name) noexcept
{
    for (const auto& s : stems)
        if (!s.stem_type_group_name.empty() && boost::beast::iequals(s.stem_type_group_name, name)) return &s;
    return nullptr;
}

std::string stem_names(const std::vector<stem>& stems)
{
    std::string out;
    for (const auto& s : stems)
    {
        if (!out.empty()) out += ", ";
        out += s.stem_type_group_name.empty() ? s.id : s.stem_type_group_name;
    }
    return out.empty() ? "none listed" : out;
}

namespace detail {
namespace {

// An empty string means "no file of this kind" (KIE sends "" for origin_url in callbacks). A
// value that is not text reads as absent and is counted.
void read_url(const json_reader& obj, std::string_view camel, std::string_view snake, std::optional<std::string>& out,
              result_repairs& rep)
{
    json_reader r = obj.any_of({camel, snake});
    auto url = optional_string(r, rep, "stem URL");
    if (url && !url->empty())
        out = std::move(url);
    else
        out.reset();
}

// A stem MIDI generation can be asked for needs its id; one without is left out (counted), the
// others are kept. Its other fields are informative and read as absent when odd.
bool read_stem(const json_reader& item, stem& out, result_repairs& rep)
{
    auto id = list_item_id(item, rep, "stem");
    if (!id) return false;
    out.id = std::move(*id);
    out.audio_url = optional_string(item.any_of({"audio_url", "audioUrl"}), rep, "stem audio_url").value_or(std::string());
    out.stem_type_group_name =
        optional_text(item.any_of({"stem_type_group_name", "stemTypeGroupName"}), rep, "stem_type_group_name")
            .value_or(std::string());
    out.duration = optional_double(item["duration"], rep, "stem duration").value_or(0.0);
    return true;
}

}  // namespace

void read_stem_urls(const json_reader& obj, stem_urls& out, result_repairs& rep)
{
    read_url(obj, "originUrl", "origin_url", out.origin, rep);
    read_url(obj, "instrumentalUrl", "instrumental_url", out.instrumental, rep);
    read_url(obj, "vocalUrl", "vocal_url", out.vocal, rep);
    read_url(obj, "backingVocalsUrl", "backing_vocals_url", out.backing_vocals, rep);
    read_url(obj, "drumsUrl", "drums_url", out.drums, rep);
    read_url(obj, "bassUrl", "bass_url", out.bass, rep);
    read_url(obj, "guitarUrl", "guitar_url", out.guitar, rep);
    read_url(obj, "pianoUrl", "piano_url", out.piano, rep);
    read_url(obj, "keyboardUrl", "keyboard_url", out.keyboard, rep);
    read_url(obj, "percussionUrl", "percussion_url", out.percussion, rep);
    read_url(obj, "stringsUrl", "strings_url", out.strings, rep);
    read_url(obj, "synthUrl", "synth_url", out.synth, rep);
    read_url(obj, "fxUrl", "fx_url", out.fx, rep);
    read_url(obj, "brassUrl", "brass_url", out.brass, rep);
    read_url(obj, "woodwindsUrl", "woodwinds_url", out.woodwinds, rep);
}

void read_separation_record(const json_reader& data, separation_record& out)
{
    out = separation_record{};
    if (!data.require_object()) return;
    auto& rep = out.repairs;
    out.task_id = read_task_id(data.any_of({"taskId", "task_id"}));
    out.music_id = optional_text(data.any_of({"musicId", "music_id"}), rep, "musicId").value_or(std::string());
    out.callback_url = read_record_callback_url(data, rep);
    // Meaning unconfirmed; a negative index (KIE's -1 for "none", as in recordTaskId) or an odd
    // value reads as absent.
    if (auto index = lenient_int64(data.any_of({"musicIndex", "music_index"}));
        index && *index >= 0 && *index <= std::numeric_limits<int>::max())
        out.music_index = static_cast<int>(*index);

    // successFlag is text here, but MIDI uses numbers: accept either spelling.
    read_success_flag(data, out.state, out.raw_state, parse_separation_state);

    json_reader response = data["response"];
    if (response.is_object())
    {
        read_stem_urls(response, out.urls, rep);
        // Older versions of KIE's answer have no originData: MIDI then covers all stems.
        json_reader origin = response.any_of({"originData", "origin_data"});
        read_list(origin, out.origin_data, rep, "originData", read_stem);
    }
    else if (!response.missing_or_null())
        record_repair(rep, repair_kind::field_ignored, "response not an object", response.path());

    read_record_times(data, out.create_time_ms, out.complete_time_ms, rep);
    read_record_error(data, out.error_code, out.error_message, rep);
}

}  // namespace detail
}  // namespace kiemidi::api
