// Fuzz target: answers to GET /api/v1/vocal-removal/record-info (api::parse_response into
// separation_record).
#include "fuzz_support.hpp"

#include <kiemidi/api/parse.hpp>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    using namespace kiemidi;
    api::separation_record out;
    diagnostics diag;
    const auto ec = api::parse_response(fuzz::as_text(data, size), out, diag);
    fuzz::require_error_contract(ec, diag);
    return 0;
}
