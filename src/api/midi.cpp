// MIDI generation: request body, note validation and record mapping.
#include <kiemidi/api/midi.hpp>

#include "readers.hpp"

#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include <algorithm>
#include <cctype>
#include <cmath>
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

// Reads one note into `out`, repairing what has one plausible meaning (see api::note). Returns
// false when the note cannot be right and must be dropped; both are counted in `rep`.
bool read_note(const json_reader& item, note& out, result_repairs& rep)
{
    auto drop = [&](std::string_view why) {
        record_repair(rep, repair_kind::note_dropped, why, item.path());
        return false;
    };
    if (!item.is_object()) return drop("note that is not an object");
    {
        json_reader pitch = item["pitch"];
        if (pitch.missing_or_null()) return drop("note without pitch");
        auto p = lenient_int64(pitch);
        if (!p) return drop("pitch not an integer");
        if (*p < 0 || *p > 127) return drop("pitch outside 0-127");
        out.pitch = static_cast<int>(*p);
    }
    std::optional<double> start, end;
    {
        json_reader r = item["start"];
        start = lenient_double(r);
    }
    {
        json_reader r = item["end"];
        end = lenient_double(r);
    }
    if (!start || !end) return drop("note time missing or not a finite number");
    if (*end <= *start) return drop(*end == *start ? "zero-length note" : "note ending before it starts");
    bool repaired = false;  // a note with two repairs counts once, with both reasons
    auto repair = [&](std::string_view why) {
        record_repair(rep, repaired ? repair_kind::another_reason : repair_kind::note_repaired, why, item.path());
        repaired = true;
    };
    if (*start < 0)
    {
        if (*end <= 0) return drop("note before the track start");
        start = 0.0;
        repair("negative start clamped to 0");
    }
    out.start = *start;
    out.end = *end;
    json_reader velocity = item["velocity"];
    if (velocity.missing_or_null())
    {
        out.velocity = note::default_velocity;
        repair("no velocity (0.8 used)");
        return true;
    }
    auto v = lenient_double(velocity);
    if (!v)
    {
        // A literal too large for a double reads as infinity: the loudest, like any v > 127.
        const auto* raw = velocity.value();
        if (raw->is_double() && std::isinf(raw->get_double()))
            v = raw->get_double();
        else
        {
            out.velocity = note::default_velocity;
            repair("velocity not a number (0.8 used)");
            return true;
        }
    }
    if (*v >= 0.0 && *v <= 1.0)
        out.velocity = *v;
    else if (*v > 1.0 && *v <= 127.0 && *v == std::trunc(*v))
    {
        out.velocity = *v / 127.0;
        repair("velocity on the 0-127 scale");
    }
    else if (*v > 1.0)
    {
        out.velocity = 1.0;
        repair("velocity above 1 clamped");
    }
    else
    {
        out.velocity = 0.0;
        repair("negative velocity clamped to 0");
    }
    return true;
}

void read_instrument(const json_reader& item, instrument& out, result_repairs& rep)
{
    out.name = optional_text(item["name"], rep, "instrument name").value_or(std::string());
    json_reader notes = item["notes"];
    read_list(notes, out.notes, rep, "instrument notes", read_note);
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
    // The result as a whole must have the documented shape; its parts are repaired one by one.
    if (!obj.optional_object()) return;
    out.state = optional_text(obj["state"], out.repairs, "midiData state").value_or(std::string());
    json_reader instruments = obj["instruments"];
    if (!instruments.optional_array()) return;
    out.instruments.reserve(instruments.size());
    for (std::size_t i = 0; i < instruments.size(); ++i)
    {
        json_reader item = instruments[i];
        if (!item.is_object())
        {
            // null or a stray value: no instrument there, and nothing a user would miss.
            record_repair(out.repairs, repair_kind::item_dropped, "instrument that is not an object", item.path());
            continue;
        }
        out.instruments.emplace_back();
        read_instrument(item, out.instruments.back(), out.repairs);
    }
}

void read_midi_record(const json_reader& data, midi_record& out)
{
    out = midi_record{};
    if (!data.require_object()) return;
    out.task_id = read_task_id(data.any_of({"taskId", "task_id"}));

    // successFlag: KIE documents numbers (0..3); the text spellings are accepted too.
    read_success_flag(data, out.state, out.raw_state, midi_state_from_text);

    {
        json_reader midi = data.any_of({"midiData", "midi_data"});
        read_midi_data(midi, out.midi);
    }

    // Fields whose meaning or type KIE leaves open: an odd value reads as absent.
    auto& rep = out.midi.repairs;
    out.record_task_id = lenient_int64(data.any_of({"recordTaskId", "record_task_id"}));
    out.audio_id = optional_text(data.any_of({"audioId", "audio_id"}), rep, "audioId").value_or(std::string());
    out.callback_url = read_record_callback_url(data, rep);
    read_record_times(data, out.create_time_ms, out.complete_time_ms, rep);
    read_record_error(data, out.error_code, out.error_message, rep);
}

}  // namespace detail
}  // namespace kiemidi::api
