// MIDI generation: request body, note validation and record mapping.
#include <kiemidi/api/midi.hpp>

#include "readers.hpp"

#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include <algorithm>
#include <cctype>
#include <string>

namespace kiemidi::api {

std::string serialize(const midi_request& req)
{
    boost::json::object body;
    body["taskId"] = req.task_id;
    body["callBackUrl"] = req.callback_url;
    // Without audioId KIE transcribes every stem; an empty id would be rejected, so it means "all".
    if (req.audio_id && !req.audio_id->empty()) body["audioId"] = *req.audio_id;
    return boost::json::serialize(body);
}

std::string_view to_string(midi_state s) noexcept
{
    switch (s)
    {
    case midi_state::pending: return "PENDING";
    case midi_state::success: return "SUCCESS";
    case midi_state::create_task_failed: return "CREATE_TASK_FAILED";
    case midi_state::generation_failed: return "GENERATION_FAILED";
    case midi_state::unknown: break;
    }
    return "UNKNOWN";
}

midi_state to_midi_state(std::int64_t flag) noexcept
{
    return flag >= 0 && flag <= 3 ? static_cast<midi_state>(flag) : midi_state::unknown;
}

bool is_final(midi_state s) noexcept
{
    return s != midi_state::pending && s != midi_state::unknown;
}

std::size_t note_count(const midi_data& m) noexcept
{
    std::size_t n = 0;
    for (const auto& i : m.instruments) n += i.notes.size();
    return n;
}

namespace detail {
namespace {

// KIE documents numbers (0..3), but separation uses text; accept the text spellings too.
midi_state midi_state_from_text(std::string_view text) noexcept
{
    if (auto n = kiemidi::detail::parse_int64_text(text)) return to_midi_state(*n);
    std::string upper(text);
    std::transform(upper.begin(), upper.end(), upper.begin(), [](unsigned char c) { return std::toupper(c); });
    if (upper == "PENDING") return midi_state::pending;
    if (upper == "SUCCESS") return midi_state::success;
    if (upper == "CREATE_TASK_FAILED") return midi_state::create_task_failed;
    if (upper == "GENERATION_FAILED" || upper == "GENERATE_FAILED" || upper == "GENERATE_MIDI_FAILED" ||
        upper == "GENERATE_AUDIO_FAILED")
        return midi_state::generation_failed;
    return midi_state::unknown;
}

void read_note(const json_reader& item, note& out)
{
    if (!item.require_object()) return;
    {
        json_reader pitch = item["pitch"];
        out.pitch = read_int(pitch, 0, 127);
    }
    {
        json_reader start = item["start"];
        out.start = start.as_double();
        if (item.ok() && out.start < 0.0)
            start.fail_invalid("note starts before the track (" + std::to_string(out.start) + ")");
    }
    {
        json_reader end = item["end"];
        out.end = end.as_double();
        if (item.ok() && out.end < out.start)
            end.fail_invalid("note ends (" + std::to_string(out.end) + ") before it starts (" +
                             std::to_string(out.start) + ")");
    }
    {
        json_reader velocity = item["velocity"];
        out.velocity = velocity.as_double();
        if (item.ok() && !(out.velocity >= 0.0 && out.velocity <= 1.0))
            velocity.fail_invalid("velocity must be within 0..1, got " + std::to_string(out.velocity));
    }
}

void read_instrument(const json_reader& item, instrument& out)
{
    if (!item.require_object()) return;
    out.name = item["name"].opt_text().value_or(std::string());
    json_reader notes = item["notes"];
    if (!notes.optional_array()) return;
    out.notes.resize(notes.size());
    for (std::size_t i = 0; i < out.notes.size() && item.ok(); ++i)
    {
        json_reader n = notes[i];
        read_note(n, out.notes[i]);
    }
}

}  // namespace

void read_midi_data(const json_reader& obj, midi_data& out)
{
    out = midi_data{};
    if (obj.missing_or_null()) return;
    // Tolerate the nested object arriving as JSON text, as KIE does for the music task's `param`.
    if (obj.value()->is_string())
    {
        std::string_view text = obj.value()->get_string();
        if (text.find_first_not_of(" \t\r\n") == std::string_view::npos) return;
        json_document nested(text);
        if (!nested.ok())
        {
            obj.fail_invalid("expected an object or JSON text, got a string that is not JSON");
            return;
        }
        read_midi_data(json_reader(&nested.root(), obj.path(), obj.status()), out);
        return;
    }
    if (!obj.optional_object()) return;
    out.state = obj["state"].opt_text().value_or(std::string());
    json_reader instruments = obj["instruments"];
    if (!instruments.optional_array()) return;
    out.instruments.resize(instruments.size());
    for (std::size_t i = 0; i < out.instruments.size() && obj.ok(); ++i)
    {
        json_reader item = instruments[i];
        read_instrument(item, out.instruments[i]);
    }
}

void read_midi_record(const json_reader& data, midi_record& out)
{
    out = midi_record{};
    if (!data.require_object()) return;
    out.task_id = read_task_id(data.any_of({"taskId", "task_id"}));
    out.record_task_id = data.any_of({"recordTaskId", "record_task_id"}).opt_int64();
    out.audio_id = data.any_of({"audioId", "audio_id"}).opt_text().value_or(std::string());
    out.callback_url =
        data.any_of({"callbackUrl", "callBackUrl", "callback_url"}).opt_string().value_or(std::string());

    json_reader flag = data.any_of({"successFlag", "success_flag"});
    if (flag.missing_or_null())
        flag.fail_missing();
    else if (flag.value()->is_string())
        out.state = midi_state_from_text(flag.value()->get_string());
    else if (auto n = flag.opt_int64())
        out.state = to_midi_state(*n);

    {
        json_reader midi = data.any_of({"midiData", "midi_data"});
        read_midi_data(midi, out.midi);
    }

    out.create_time_ms = data.any_of({"createTime", "create_time"}).opt_int64();
    out.complete_time_ms = data.any_of({"completeTime", "complete_time"}).opt_int64();
    out.error_code = data.any_of({"errorCode", "error_code"}).opt_text();
    out.error_message = data.any_of({"errorMessage", "error_message"}).opt_text();
}

}  // namespace detail
}  // namespace kiemidi::api
