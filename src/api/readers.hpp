// Mappings from KIE's JSON to kiemidi::api types, shared by the REST and callback parsers.
// Private to src/api.
#ifndef KIEMIDI_SRC_API_READERS_HPP
#define KIEMIDI_SRC_API_READERS_HPP

#include <kiemidi/api/credits.hpp>
#include <kiemidi/api/midi.hpp>
#include <kiemidi/api/music_task.hpp>
#include <kiemidi/api/repairs.hpp>
#include <kiemidi/api/separation.hpp>
#include <kiemidi/diagnostics.hpp>

#include "json_reader.hpp"
#include "repair_kind.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace kiemidi::api::detail {

using kiemidi::detail::json_document;
using kiemidi::detail::json_path;
using kiemidi::detail::json_reader;
using kiemidi::detail::json_status;

/// Stem URLs from a record `response` (camelCase) or a callback info object (snake_case);
/// both spellings are accepted in both places. A URL that is not text reads as absent (counted).
void read_stem_urls(const json_reader& obj, stem_urls& out, result_repairs& rep);

/// Notes from a `midiData` object; null, absent, "" or {} give an empty result. Odd notes and
/// instruments are repaired or dropped and counted in out.repairs; only a `midiData` or
/// `instruments` of the wrong type fails.
void read_midi_data(const json_reader& obj, midi_data& out);

/// A non-empty task id given as a string or an integer; records missing/invalid at `r`'s path.
std::string read_task_id(const json_reader& r);

/// `int` field with range check.
int read_int(const json_reader& r, int min, int max);

void read_separation_record(const json_reader& data, separation_record& out);
void read_midi_record(const json_reader& data, midi_record& out);
void read_music_task_record(const json_reader& data, music_task_record& out);

/// Counts one repair; `what` is the reason shown to users, `at` where it happened.
void record_repair(result_repairs& r, repair_kind kind, std::string_view what, const json_path& at);

/// The items of the list at `list`, each read by `read_item(item, T&, rep)`, which returns false to
/// leave one out (counting why); the others are kept. Null or absent is an empty list; a value of
/// another kind is ignored and counted ("<name> not a list").
template <class T, class ReadItem>
void read_list(const json_reader& list, std::vector<T>& out, result_repairs& rep, std::string_view name,
               ReadItem read_item)
{
    if (!list.is_array())
    {
        if (!list.missing_or_null())
            record_repair(rep, repair_kind::field_ignored, std::string(name) + " not a list", list.path());
        return;
    }
    const std::size_t n = list.size();
    out.reserve(n);
    for (std::size_t i = 0; i < n; ++i)
    {
        json_reader item = list[i];
        T t;
        if (read_item(item, t, rep)) out.push_back(std::move(t));
    }
}

/// The value at `r` without recording any failure: nullopt when absent, null or of an unusable
/// type (lenient_double: also when not finite). For fields that may be missing or odd in KIE's
/// answers without making the answer unusable.
std::optional<std::string> lenient_text(const json_reader& r);
std::optional<std::string> lenient_string(const json_reader& r);
std::optional<std::int64_t> lenient_int64(const json_reader& r);
std::optional<double> lenient_double(const json_reader& r);
/// An id as read_task_id accepts it (non-empty string, or integer), else nullopt.
std::optional<std::string> lenient_id(const json_reader& r);

/// The `id` of one item of a list (a stem, a track) that is useless without it: nullopt, and the
/// item counted as dropped ("<what> entry that is not an object" / "<what> without id"), when
/// the item is not an object or has no usable id; the caller leaves it out and keeps the others.
std::optional<std::string> list_item_id(const json_reader& item, result_repairs& rep, std::string_view what);

/// Like lenient_*, and a present but unusable value counts as an ignored field ("unusable <name>").
std::optional<std::string> optional_text(const json_reader& r, result_repairs& rep, std::string_view name);
std::optional<std::string> optional_string(const json_reader& r, result_repairs& rep, std::string_view name);
std::optional<std::int64_t> optional_int64(const json_reader& r, result_repairs& rep, std::string_view name);
std::optional<double> optional_double(const json_reader& r, result_repairs& rep, std::string_view name);

/// A record's successFlag, which KIE sends as a number for MIDI and as text for separation: both
/// read as text and go through `from_text`. Null or absent (seen while pending) reads as pending;
/// a value of another kind is unknown, which waits treat as not final, and `raw_state` keeps a
/// placeholder for it ("true", "false", "[...]", "{...}").
template <class State, class FromText>
void read_success_flag(const json_reader& data, State& state, std::string& raw_state, FromText from_text)
{
    json_reader flag = data.any_of({"successFlag", "success_flag"});
    if (flag.missing_or_null())
        state = State::pending;
    else if (auto text = lenient_text(flag))
    {
        state = from_text(*text);
        raw_state = std::move(*text);
    }
    else
    {
        state = State::unknown;
        raw_state = flag.value()->is_bool() ? (flag.value()->get_bool() ? "true" : "false")
                                            : flag.value()->is_array() ? "[...]" : "{...}";
    }
}

/// A record's callbackUrl under any of KIE's spellings; an odd value reads as empty (counted).
std::string read_record_callback_url(const json_reader& data, result_repairs& rep);

/// A record's createTime and completeTime (ms); an odd value reads as absent (counted).
void read_record_times(const json_reader& data, std::optional<std::int64_t>& create_ms,
                       std::optional<std::int64_t>& complete_ms, result_repairs& rep);

/// A record's errorCode and errorMessage; an odd value reads as absent (counted).
void read_record_error(const json_reader& data, std::optional<std::string>& code, std::optional<std::string>& message,
                       result_repairs& rep);

/// Copies a failed status into diag and returns its error.
error_code report(const json_status& status, diagnostics& diag);

}  // namespace kiemidi::api::detail

#endif
