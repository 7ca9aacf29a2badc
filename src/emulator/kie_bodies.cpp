// KIE's bodies as the emulator writes them. Field order, number formats and the odd values of the
// shape faults are part of what clients are tested against (tests/integration/emulator_bodies.cpp
// pins them byte for byte).
#include "kie_bodies.hpp"

#include "json_writer.hpp"
#include "synthetic_music.hpp"

#include <algorithm>
#include <cmath>
#include <string>

namespace kiemidi::emulator::detail {

namespace {

/// `{"code":code,"msg":msg,"data":` — the caller writes data and closes the object.
json_writer& envelope(json_writer& w, int code, std::string_view msg)
{
    return w.begin_object().key("code").integer(code).key("msg").string(msg).key("data");
}

// record-info url fields in KIE's order; pianoUrl is never filled (KIE's split has "Keyboard").
constexpr const char* url_fields[] = {"instrumentalUrl", "vocalUrl", "backingVocalsUrl", "drumsUrl", "bassUrl",
                                      "guitarUrl", "pianoUrl", "keyboardUrl", "percussionUrl", "stringsUrl",
                                      "synthUrl", "fxUrl", "brassUrl", "woodwindsUrl"};

void error_fields(json_writer& w, const std::optional<std::string>& error_message)
{
    w.key("errorCode");
    if (error_message) w.integer(500);
    else w.null();
    w.key("errorMessage").optional_string(error_message);
}

}  // namespace

std::string error_body(int code, std::string_view msg)
{
    json_writer w;
    envelope(w, code, msg).null().end_object();
    return w.take();
}

std::string no_data_body() { return error_body(200, "success"); }

std::string submitted_body(std::string_view task_id)
{
    json_writer w;
    envelope(w, 200, "success").begin_object().key("taskId").string(task_id).end_object().end_object();
    return w.take();
}

std::string credit_body(std::int64_t credits)
{
    json_writer w;
    envelope(w, 200, "success").integer(credits).end_object();
    return w.take();
}

// ---- separation -----------------------------------------------------------------------------

std::string separation_record_body(const separation_task& t, std::string_view file_base, const record_shape& shape)
{
    const bool has_stems = t.flag == "SUCCESS" || t.flag == "CALLBACK_EXCEPTION";
    json_writer w(2048);
    envelope(w, 200, "success").begin_object();
    w.key("taskId").string(t.id);
    w.key("musicId").string(t.music_id);
    w.key("callbackUrl").string(t.callback_url);
    w.key("musicIndex").integer(shape.music_index_negative ? -1 : t.music_index);
    w.key("completeTime").optional_integer(t.complete_ms);
    w.key("response");
    if (!has_stems || shape.unknown_success_flag) w.null();
    else
    {
        w.begin_object().key("id").null().key("originUrl").null().key("originData").begin_array();
        if (shape.origin_data_null_id)
        {
            std::string url(file_base);
            url += "unnamed_Other.mp3";
            w.begin_object()
                .key("duration").number(t.stems.empty() ? 0.0 : t.stems[0].duration)
                .key("audio_url").string(url)
                .key("stem_type_group_name").string("Other")
                .key("id").null()
                .end_object();
        }
        for (const auto& s : t.stems)
            w.begin_object()
                .key("duration").number(s.duration)
                .key("audio_url").string(stem_url(s, file_base))
                .key("stem_type_group_name").string(stem_kinds[s.kind].group)
                .key("id").string(s.id)
                .end_object();
        w.end_array();
        for (const char* field : url_fields)
        {
            w.key(field);
            auto st = std::find_if(t.stems.begin(), t.stems.end(),
                                   [&](const stem_rec& s) { return std::string_view(stem_kinds[s.kind].camel) == field; });
            if (st == t.stems.end()) w.null();
            else w.string(stem_url(*st, file_base));
        }
        w.end_object();
    }
    w.key("successFlag");
    if (shape.unknown_success_flag) w.string("WEIRD");
    else if (t.flag == "PENDING" && shape.pending_success_flag_null) w.null();
    else w.string(t.flag);
    w.key("createTime").integer(t.create_ms);
    error_fields(w, t.error_message);
    w.end_object().end_object();
    return w.take();
}

std::string separation_callback_body(const separation_task& t, bool chinese)
{
    const char* info_key = chinese ? "vocal_removal_info" : "vocal_separation_info";
    json_writer w;
    if (t.flag != "SUCCESS")
    {
        envelope(w, 500, "Vocal separation failed").begin_object().key("task_id").string(t.id).key(info_key).null();
        w.end_object().end_object();
        return w.take();
    }
    envelope(w, 200, chinese ? "vocal Removal generated successfully." : "vocal separation generated successfully.");
    w.begin_object().key("task_id").string(t.id).key(info_key).begin_object().key("origin_url").string("");
    for (const auto& s : t.stems) w.key(stem_kinds[s.kind].snake).string(s.url);
    w.end_object().end_object().end_object();
    return w.take();
}

// ---- MIDI -----------------------------------------------------------------------------------

std::string instruments_json(const std::vector<instrument_data>& instr, std::optional<std::uint64_t> task_seed)
{
    json_writer w(64 * 1024);
    w.begin_array();
    for (std::size_t i = 0; i < instr.size(); ++i)
    {
        w.begin_object().key("name").string(instr[i].name).key("notes").begin_array();
        for (std::size_t n = 0; n < instr[i].notes.size(); ++n)
        {
            const auto& nd = instr[i].notes[n];
            const auto h = task_seed ? mix64(*task_seed + i * 100003 + n) : 0;
            const bool start_str = task_seed && h % 4 == 0, end_str = task_seed && h % 2 == 0;
            w.begin_object().key("pitch").integer(nd.pitch);
            w.key("start");
            if (start_str) w.number_as_string(nd.start);
            else w.number(nd.start);
            w.key("end");
            if (end_str) w.number_as_string(nd.end);
            else w.number(nd.end);
            if (!std::isnan(nd.velocity)) w.key("velocity").number(nd.velocity);
            w.end_object();
        }
        w.end_array().end_object();
    }
    w.end_array();
    return w.take();
}

std::string midi_record_body(const midi_task& t, const record_shape& shape)
{
    json_writer w((t.instruments_json ? t.instruments_json->size() : 0) + 512);
    envelope(w, 200, "success").begin_object();
    w.key("taskId").string(t.id);
    w.key("recordTaskId").integer(-1);
    w.key("audioId").string(t.audio_id.value_or(""));
    w.key("callbackUrl").string(t.callback_url);
    w.key("completeTime").optional_integer(t.complete_ms);
    w.key("midiData");
    if (t.flag == 1 && t.instruments_json && !shape.unknown_success_flag)
        w.begin_object().key("state").string("complete").key("instruments").raw(*t.instruments_json).end_object();
    else w.null();
    w.key("successFlag");
    if (shape.unknown_success_flag) w.integer(4);
    else if (t.flag == 0 && shape.pending_success_flag_null) w.null();
    else w.integer(t.flag);
    w.key("createTime").integer(t.create_ms);
    error_fields(w, t.error_message);
    w.end_object().end_object();
    return w.take();
}

std::string midi_callback_body(const midi_task& t, const std::vector<instrument_data>& instr, bool chinese,
                               std::uint64_t task_seed)
{
    json_writer w;
    // The English dialect puts task_id first, outside data.
    auto head = [&](int code, std::string_view msg) -> json_writer& {
        if (chinese) return envelope(w, code, msg);
        return w.begin_object().key("task_id").string(t.id).key("code").integer(code).key("msg").string(msg).key("data");
    };
    if (t.flag != 1)
    {
        head(500, "MIDI generation failed");
        if (chinese) w.begin_object().key("taskId").string(t.id).end_object();
        else w.null();
        w.end_object();
        return w.take();
    }
    const auto notes = instruments_json(instr, task_seed);
    head(200, "success").begin_object().key("state").string("complete");
    if (chinese) w.key("taskId").string(t.id);
    w.key("instruments").raw(notes).end_object().end_object();
    return w.take();
}

// ---- music tasks ----------------------------------------------------------------------------

std::string music_record_body(std::string_view task_id, std::string_view file_base, std::uint64_t seed)
{
    const std::string base(file_base);
    json_writer w(2048);
    envelope(w, 200, "success").begin_object();
    w.key("taskId").string(task_id);
    w.key("parentMusicId").string("");
    w.key("param").string(R"({"prompt":"A calm piano track","customMode":false,"instrumental":false,"model":"V3_5"})");
    w.key("response").begin_object().key("taskId").string(task_id).key("sunoData").begin_array();
    for (int i = 0; i < 2; ++i)
    {
        const auto aid = music_track_id(seed, task_id, i);
        w.begin_object()
            .key("id").string(aid)
            .key("audioUrl").string(base + aid + ".mp3")
            .key("streamAudioUrl").string(base + aid + "_stream")
            .key("imageUrl").string(base + aid + ".jpeg")
            .key("prompt").string("[Verse] Night city lights")
            .key("modelName").string("chirp-v3-5")
            .key("title").string("Emulated Track " + std::to_string(i + 1))
            .key("tags").string("electrifying, rock")
            .key("createTime").string("2025-01-01 00:00:00")
            .key("duration").number(track_duration(seed, aid))
            .end_object();
    }
    w.end_array().end_object();
    w.key("status").string("SUCCESS");
    w.key("type").string("GENERATE");
    w.key("errorCode").null();
    w.key("errorMessage").null();
    w.end_object().end_object();
    return w.take();
}

}  // namespace kiemidi::emulator::detail
