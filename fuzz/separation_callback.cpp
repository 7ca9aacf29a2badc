// Fuzz target: separation callback bodies, as the listener routes them (task id lookup) and as a
// pipeline reads them (api::parse_separation_callback). Both must agree on the task id.
#include "fuzz_support.hpp"

#include <kiemidi/api/callbacks.hpp>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    using namespace kiemidi;
    const auto body = fuzz::as_text(data, size);
    const auto routed = api::find_callback_task_id(body);
    api::separation_callback cb;
    diagnostics diag;
    const auto ec = api::parse_separation_callback(body, cb, diag);
    fuzz::require_error_contract(ec, diag);
    if (!ec)
    {
        fuzz::require(!cb.task_id.empty(), "a parsed callback has a task id");
        fuzz::require(routed == cb.task_id, "the listener routes a parsed callback by the id the parser reads");
    }
    return 0;
}
