// Fuzz target: separation callback bodies, as the listener routes them (task id lookup) and as a
// pipeline reads them (api::parse_separation_callback). Both must agree on the task id.
#include "fuzz_support.hpp"

#include <kiemidi/api/callbacks.hpp>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    using namespace kiemidi;
    const auto body = fuzz::as_text(data, size);
    fuzz::check_callback_body<api::separation_callback>(body, api::find_callback_task_id(body), &api::parse_separation_callback);
    return 0;
}
