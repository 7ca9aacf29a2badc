/// @file
/// Parsing KIE's REST answers: the {code, msg, data} envelope and the typed `data` inside it.
///
/// Every overload checks the envelope first: a body `code` other than 200 is KIE's error even when
/// the HTTP status was 200. The parsers never throw (except std::bad_alloc); they fill a
/// diagnostics object with KIE's message or with the JSON path that could not be read.
#ifndef KIEMIDI_API_PARSE_HPP
#define KIEMIDI_API_PARSE_HPP

#include <kiemidi/config.hpp>
#include <kiemidi/api/credits.hpp>
#include <kiemidi/api/midi.hpp>
#include <kiemidi/api/music_task.hpp>
#include <kiemidi/api/separation.hpp>
#include <kiemidi/api/task_created.hpp>
#include <kiemidi/diagnostics.hpp>
#include <kiemidi/error.hpp>

#include <string_view>

namespace kiemidi::api {

/// Parses a submit answer (separation or MIDI generate) into the created task id.
///
/// Errors (diag is filled; `out` is unspecified on error):
///  - client_errc::bad_json: the body is not a JSON object.
///  - to_api_errc(code) when the body `code` is not 200; diag.server_message() is KIE's `msg` and
///    diag.kie_code() its code. diag.kie_code() is set whenever a code was read.
///  - api_errc::unknown_task: `data` is null on a record answer (separation, MIDI, music task).
///  - client_errc::missing_field / invalid_field: diag.client_message() names the JSON path,
///    e.g. "missing field data.taskId" or "invalid field data.midiData.instruments: ...". Only what
///    makes the answer unusable fails (no task id, a result of the wrong shape); optional fields
///    with odd values read as absent and are counted in the record's result_repairs.
KIEMIDI_DECL error_code parse_response(std::string_view body, task_created& out, diagnostics& diag);

/// Parses GET /api/v1/vocal-removal/record-info; errors as for the task_created overload.
KIEMIDI_DECL error_code parse_response(std::string_view body, separation_record& out, diagnostics& diag);

/// Parses GET /api/v1/midi/record-info; errors as for the task_created overload. Odd notes are
/// repaired or dropped, never an error (see api::note); out.midi.repairs counts them.
KIEMIDI_DECL error_code parse_response(std::string_view body, midi_record& out, diagnostics& diag);

/// Parses GET /api/v1/chat/credit (`data` is a bare number, or a numeric string); `data: null` is missing_field.
KIEMIDI_DECL error_code parse_response(std::string_view body, credits& out, diagnostics& diag);

/// Parses GET /api/v1/generate/record-info (music task details); errors as for the task_created overload.
KIEMIDI_DECL error_code parse_response(std::string_view body, music_task_record& out, diagnostics& diag);

}  // namespace kiemidi::api

#endif
