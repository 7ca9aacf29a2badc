// Fuzz target: MIDI callback bodies, as the listener routes them (task id lookup) and as a
// pipeline reads them (api::parse_midi_callback), including note validation.
#include "fuzz_support.hpp"

#include <kiemidi/api/callbacks.hpp>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    using namespace kiemidi;
    const auto body = fuzz::as_text(data, size);
    const auto routed = api::find_callback_task_id(body);
    api::midi_callback cb;
    diagnostics diag;
    const auto ec = api::parse_midi_callback(body, cb, diag);
    fuzz::require_error_contract(ec, diag);
    if (!ec)
    {
        fuzz::require(!cb.task_id.empty(), "a parsed callback has a task id");
        fuzz::require(routed == cb.task_id, "the listener routes a parsed callback by the id the parser reads");
        if (cb.midi) fuzz::require_valid_notes(*cb.midi);
    }
    return 0;
}
