// Fuzz target: answers to GET /api/v1/midi/record-info (api::parse_response into midi_record),
// including note validation, and the notes read while parsing equal to those read from a DOM.
#include "fuzz_support.hpp"

#include "api/note_capture.hpp"

#include <kiemidi/api/parse.hpp>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    using namespace kiemidi;
    using api::detail::note_reading;
    const auto body = fuzz::as_text(data, size);
    api::midi_record out;
    diagnostics diag;
    const auto ec = api::parse_response(body, out, diag);
    fuzz::require_error_contract(ec, diag);
    if (!ec) fuzz::require_valid_notes(out.midi);

    api::midi_record ref;
    diagnostics ref_diag;
    const auto ref_ec = api::detail::parse_midi_record(body, ref, ref_diag, note_reading::dom);
    fuzz::require(ec == ref_ec && diag.to_string() == ref_diag.to_string(),
                  "the captured notes and the DOM give the same error and diagnostics");
    fuzz::require(out.task_id == ref.task_id && out.record_task_id == ref.record_task_id && out.audio_id == ref.audio_id &&
                      out.callback_url == ref.callback_url && out.state == ref.state && out.raw_state == ref.raw_state &&
                      out.create_time_ms == ref.create_time_ms && out.complete_time_ms == ref.complete_time_ms &&
                      out.error_code == ref.error_code && out.error_message == ref.error_message,
                  "the captured notes and the DOM give the same record fields");
    fuzz::require(out.midi == ref.midi, "the captured notes and the DOM give the same notes and repairs");
    return 0;
}
