// Mappings from KIE's JSON to kiemidi::api types, shared by the REST and callback parsers.
// Private to src/api.
#ifndef KIEMIDI_SRC_API_READERS_HPP
#define KIEMIDI_SRC_API_READERS_HPP

#include <kiemidi/api/credits.hpp>
#include <kiemidi/api/midi.hpp>
#include <kiemidi/api/music_task.hpp>
#include <kiemidi/api/separation.hpp>
#include <kiemidi/detail/json_reader.hpp>
#include <kiemidi/diagnostics.hpp>

#include <string>

namespace kiemidi::api::detail {

using kiemidi::detail::json_document;
using kiemidi::detail::json_path;
using kiemidi::detail::json_reader;
using kiemidi::detail::json_status;

/// Stem URLs from a record `response` (camelCase) or a callback info object (snake_case);
/// both spellings are accepted in both places.
void read_stem_urls(const json_reader& obj, stem_urls& out);

/// Notes from a `midiData` object; null, absent, "" or {} give an empty result.
void read_midi_data(const json_reader& obj, midi_data& out);

/// A non-empty task id given as a string or an integer; records missing/invalid at `r`'s path.
std::string read_task_id(const json_reader& r);

/// `int` field with range check.
int read_int(const json_reader& r, int min, int max);

void read_separation_record(const json_reader& data, separation_record& out);
void read_midi_record(const json_reader& data, midi_record& out);
void read_music_task_record(const json_reader& data, music_task_record& out);

/// Copies a failed status into diag and returns its error.
error_code report(const json_status& status, diagnostics& diag);

}  // namespace kiemidi::api::detail

#endif
