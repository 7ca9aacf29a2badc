// Stem separation: request body and record mapping.
#include <kiemidi/api/separation.hpp>

#include "readers.hpp"

#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include <algorithm>
#include <array>
#include <cctype>
#include <limits>

namespace kiemidi::api {
namespace {

bool iequals(std::string_view a, std::string_view b) noexcept
{
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return std::toupper(static_cast<unsigned char>(x)) == std::toupper(static_cast<unsigned char>(y));
           });
}

}  // namespace

std::string_view to_string(separation_type t) noexcept
{
    return t == separation_type::split_stem ? "split_stem" : "separate_vocal";
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
        if (iequals(flag, to_string(s))) return s;
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

namespace detail {
namespace {

// An empty string means "no file of this kind" (KIE sends "" for origin_url in callbacks).
void read_url(const json_reader& obj, std::string_view camel, std::string_view snake, std::optional<std::string>& out)
{
    json_reader r = obj.any_of({camel, snake});
    auto url = r.opt_string();
    if (url && !url->empty())
        out = std::move(url);
    else
        out.reset();
}

void read_stem(const json_reader& item, stem& out)
{
    if (!item.require_object()) return;
    out.id = read_task_id(item["id"]);
    out.audio_url = item.any_of({"audio_url", "audioUrl"}).opt_string().value_or(std::string());
    out.stem_type_group_name =
        item.any_of({"stem_type_group_name", "stemTypeGroupName"}).opt_text().value_or(std::string());
    out.duration = item["duration"].opt_double().value_or(0.0);
}

}  // namespace

void read_stem_urls(const json_reader& obj, stem_urls& out)
{
    read_url(obj, "originUrl", "origin_url", out.origin);
    read_url(obj, "instrumentalUrl", "instrumental_url", out.instrumental);
    read_url(obj, "vocalUrl", "vocal_url", out.vocal);
    read_url(obj, "backingVocalsUrl", "backing_vocals_url", out.backing_vocals);
    read_url(obj, "drumsUrl", "drums_url", out.drums);
    read_url(obj, "bassUrl", "bass_url", out.bass);
    read_url(obj, "guitarUrl", "guitar_url", out.guitar);
    read_url(obj, "pianoUrl", "piano_url", out.piano);
    read_url(obj, "keyboardUrl", "keyboard_url", out.keyboard);
    read_url(obj, "percussionUrl", "percussion_url", out.percussion);
    read_url(obj, "stringsUrl", "strings_url", out.strings);
    read_url(obj, "synthUrl", "synth_url", out.synth);
    read_url(obj, "fxUrl", "fx_url", out.fx);
    read_url(obj, "brassUrl", "brass_url", out.brass);
    read_url(obj, "woodwindsUrl", "woodwinds_url", out.woodwinds);
}

void read_separation_record(const json_reader& data, separation_record& out)
{
    out = separation_record{};
    if (!data.require_object()) return;
    out.task_id = read_task_id(data.any_of({"taskId", "task_id"}));
    out.music_id = data.any_of({"musicId", "music_id"}).opt_text().value_or(std::string());
    out.callback_url =
        data.any_of({"callbackUrl", "callBackUrl", "callback_url"}).opt_string().value_or(std::string());
    json_reader index = data.any_of({"musicIndex", "music_index"});
    if (!index.missing_or_null()) out.music_index = read_int(index, 0, std::numeric_limits<int>::max());

    // successFlag is text here, but MIDI uses numbers: accept either spelling.
    json_reader flag = data.any_of({"successFlag", "success_flag"});
    if (flag.missing_or_null())
        flag.fail_missing();
    else if (auto text = flag.opt_text())
    {
        out.state = parse_separation_state(*text);
        out.raw_state = std::move(*text);
    }

    json_reader response = data["response"];
    if (response.optional_object())
    {
        read_stem_urls(response, out.urls);
        // Older versions of KIE's answer have no originData: MIDI then covers all stems.
        json_reader origin = response.any_of({"originData", "origin_data"});
        if (origin.optional_array())
        {
            out.origin_data.resize(origin.size());
            for (std::size_t i = 0; i < out.origin_data.size() && data.ok(); ++i)
            {
                json_reader item = origin[i];
                read_stem(item, out.origin_data[i]);
            }
        }
    }

    out.create_time_ms = data.any_of({"createTime", "create_time"}).opt_int64();
    out.complete_time_ms = data.any_of({"completeTime", "complete_time"}).opt_int64();
    out.error_code = data.any_of({"errorCode", "error_code"}).opt_text();
    out.error_message = data.any_of({"errorMessage", "error_message"}).opt_text();
}

}  // namespace detail
}  // namespace kiemidi::api
