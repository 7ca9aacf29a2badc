// Fuzz target: answers to GET /api/v1/midi/record-info (api::parse_response into midi_record),
// including note validation.
#include "fuzz_support.hpp"

#include <kiemidi/api/parse.hpp>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    using namespace kiemidi;
    api::midi_record out;
    diagnostics diag;
    const auto ec = api::parse_response(fuzz::as_text(data, size), out, diag);
    fuzz::require_error_contract(ec, diag);
    if (!ec) fuzz::require_valid_notes(out.midi);
    return 0;
}
