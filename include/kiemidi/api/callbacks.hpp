/// @file
/// KIE's completion callbacks (POSTed to the request's callBackUrl) for separation and MIDI tasks.
///
/// KIE's pages show several shapes for the same callback: the task id as data.task_id, data.taskId,
/// task_id or taskId; the separation stems under vocal_separation_info or vocal_removal_info; and
/// numbers sent as strings. The parsers accept all of them. A callback is only a hint that a task
/// finished: the same task may be called back more than once, so handle it idempotently.
#ifndef KIEMIDI_API_CALLBACKS_HPP
#define KIEMIDI_API_CALLBACKS_HPP

#include <kiemidi/config.hpp>
#include <kiemidi/api/midi.hpp>
#include <kiemidi/api/separation.hpp>
#include <kiemidi/diagnostics.hpp>
#include <kiemidi/error.hpp>

#include <boost/json/fwd.hpp>

#include <optional>
#include <string>
#include <string_view>

namespace kiemidi::api {

/// A separation callback.
struct separation_callback
{
    int code = 0;                    ///< KIE's `code`: 200 success; 400, 451, 500 failures.
    std::string msg;                 ///< KIE's `msg`, verbatim.
    std::string task_id;             ///< The separation task id.
    std::optional<stem_urls> urls;   ///< The stems; unset when KIE sent no info object (e.g. on failure).
    result_repairs repairs;          ///< Values read as absent because they were unusable (e.g. a URL that is a number).
};

/// A MIDI callback.
struct midi_callback
{
    int code = 0;                    ///< KIE's `code`: 200 success, 500 failure.
    std::string msg;                 ///< KIE's `msg`, verbatim.
    std::string task_id;             ///< The MIDI task id.
    std::optional<midi_data> midi;   ///< The notes; set (possibly empty) when code is 200 or notes were sent.

    /// Equal when every member is equal.
    friend bool operator==(const midi_callback&, const midi_callback&) = default;
};

/// The task id of a callback body, whatever its placement: tries data.task_id, data.taskId,
/// task_id, then taskId. Accepts a non-empty string or an integer; nullopt when none is found.
KIEMIDI_DECL std::optional<std::string> find_callback_task_id(const boost::json::value& body);

/// Parses `body`, then behaves like the overload above; nullopt when the body is not valid JSON.
KIEMIDI_DECL std::optional<std::string> find_callback_task_id(std::string_view body);

/// Text overload: without it a string literal would be ambiguous (json::value is constructible from it).
inline std::optional<std::string> find_callback_task_id(const char* body)
{
    return find_callback_task_id(std::string_view(body));
}

/// Parses a separation callback. A callback whose `code` is not 200 is not a parse error: the
/// fields are filled and success is returned; the caller looks at `out.code`. `out.task_id` is
/// found by find_callback_task_id's rule (the first placement holding an id), so it is the id the
/// listener routed the callback by.
/// Errors: client_errc::bad_json, missing_field or invalid_field, with diag.client_message naming
/// the JSON path. Never throws (except std::bad_alloc).
KIEMIDI_DECL error_code parse_separation_callback(std::string_view body, separation_callback& out,
                                                  diagnostics& diag);

/// Parses a MIDI callback; same error contract as parse_separation_callback.
/// Notes that cannot be right are repaired or dropped and counted in out.midi->repairs (see
/// api::note), never a parse error.
KIEMIDI_DECL error_code parse_midi_callback(std::string_view body, midi_callback& out, diagnostics& diag);

}  // namespace kiemidi::api

#endif
