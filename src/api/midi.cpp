// MIDI generation: request body, note validation and record mapping.
#include <kiemidi/api/midi.hpp>

#include "note_rules.hpp"
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

// One field of a note in the DOM, as the note rules read it.
struct dom_note_field
{
    json_reader r;

    bool missing_or_null() const noexcept { return r.missing_or_null(); }
    std::optional<std::int64_t> lenient_int64() const { return detail::lenient_int64(r); }
    std::optional<double> lenient_double() const { return detail::lenient_double(r); }
    std::optional<double> infinite() const noexcept
    {
        const auto* raw = r.value();
        if (raw && raw->is_double() && std::isinf(raw->get_double())) return raw->get_double();
        return std::nullopt;
    }
};

// Reads one note into `out` (see apply_note_rules). Returns false when the note is dropped;
// both are counted in `rep`.
bool read_note(const json_reader& item, note& out, result_repairs& rep)
{
    if (!item.is_object())
    {
        record_repair(rep, repair_kind::note_dropped, "note that is not an object", item.path());
        return false;
    }
    struct sink
    {
        const json_reader& item;
        result_repairs& rep;
        void drop(std::string_view why) { record_repair(rep, repair_kind::note_dropped, why, item.path()); }
        void repair(std::string_view why, bool another)
        {
            record_repair(rep, another ? repair_kind::another_reason : repair_kind::note_repaired, why, item.path());
        }
    } to{item, rep};
    return apply_note_rules(dom_note_field{item["pitch"]}, dom_note_field{item["start"]}, dom_note_field{item["end"]},
                            dom_note_field{item["velocity"]}, out, to);
}

// The notes read while parsing, with their repairs counted as read_note would have, in order.
void take_captured_notes(const json_reader& list, const captured_notes& captured, std::vector<note>& out,
                         result_repairs& rep)
{
    out = captured.notes;
    for (const auto& r : captured.repairs)
    {
        record_repair(rep, r.what, r.why, json_path(list.path(), r.index));
    }
}

void read_instrument(const json_reader& item, instrument& out, result_repairs& rep)
{
    out.name = optional_text(item["name"], rep, "instrument name").value_or(std::string());
    json_reader notes = item["notes"];
    if (notes.notes() && notes.value())
    {
        if (const captured_notes* captured = notes.notes()->find(*notes.value()))
        {
            take_captured_notes(notes, *captured, out.notes, rep);
            return;
        }
    }
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
        json_document nested(text, obj.notes() ? note_reading::captured : note_reading::dom);
        if (!nested.ok())
        {
            obj.fail_invalid("expected an object or JSON text, got a string that is not JSON");
            return;
        }
        read_midi_data(json_reader(&nested.root(), obj.path(), obj.status(), nested.notes()), out);
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
