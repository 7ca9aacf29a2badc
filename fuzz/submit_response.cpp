// Fuzz target: answers to POST /api/v1/vocal-removal/generate and /api/v1/midi/generate
// (api::parse_response into task_created).
#include "fuzz_support.hpp"

#include <kiemidi/api/parse.hpp>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    using namespace kiemidi;
    api::task_created out;
    diagnostics diag;
    const auto ec = api::parse_response(fuzz::as_text(data, size), out, diag);
    fuzz::require_error_contract(ec, diag);
    if (!ec) fuzz::require(!out.task_id.empty(), "a parsed submit answer has a task id");
    return 0;
}
