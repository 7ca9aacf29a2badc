// Fuzz target: MIDI callback bodies, as the listener routes them (task id lookup) and as a
// pipeline reads them (api::parse_midi_callback), including note validation.
#include "fuzz_support.hpp"

#include <kiemidi/api/callbacks.hpp>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    using namespace kiemidi;
    const auto body = fuzz::as_text(data, size);
    const auto cb = fuzz::check_callback_body<api::midi_callback>(body, api::find_callback_task_id(body), &api::parse_midi_callback);
    if (cb && cb->midi) fuzz::require_valid_notes(*cb->midi);
    return 0;
}
