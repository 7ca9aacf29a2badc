// Fuzz target: MIDI callback bodies, as the listener routes them (task id lookup) and as a
// pipeline reads them (api::parse_midi_callback), including note validation, and the notes read
// while parsing equal to those read from a DOM.
#include "fuzz_support.hpp"

#include "api/note_capture.hpp"

#include <kiemidi/api/callbacks.hpp>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    using namespace kiemidi;
    using api::detail::note_reading;
    const auto body = fuzz::as_text(data, size);
    const auto cb = fuzz::check_callback_body<api::midi_callback>(body, api::find_callback_task_id(body), &api::parse_midi_callback);
    if (cb && cb->midi) fuzz::require_valid_notes(*cb->midi);

    api::midi_callback fast, ref;
    diagnostics fast_diag, ref_diag;
    const auto fast_ec = api::detail::parse_midi_callback(body, fast, fast_diag, note_reading::captured);
    const auto ref_ec = api::detail::parse_midi_callback(body, ref, ref_diag, note_reading::dom);
    fuzz::require(fast_ec == ref_ec && fast_diag.to_string() == ref_diag.to_string(),
                  "the captured notes and the DOM give the same error and diagnostics");
    fuzz::require(fast.code == ref.code && fast.msg == ref.msg && fast.task_id == ref.task_id && fast.midi == ref.midi,
                  "the captured notes and the DOM give the same callback, notes and repairs");
    return 0;
}
