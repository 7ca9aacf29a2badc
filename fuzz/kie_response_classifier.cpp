// Fuzz target: the transport's first look at every KIE answer (detail::classify_kie_response
// reads the body `code`). The first two bytes pick the HTTP status, the rest is the body.
#include "fuzz_support.hpp"

#include <kiemidi/detail/kie_response_classifier.hpp>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    using namespace kiemidi;
    if (size < 2) return 0;
    http_response r;
    r.status = 100u + (static_cast<unsigned>(data[0]) << 8 | data[1]) % 500u;
    r.body = std::string(fuzz::as_text(data + 2, size - 2));
    const auto v = detail::classify_kie_response(r);
    if (r.status == 429 || r.status == 430 || r.status == 405)
        fuzz::require(v == response_verdict::throttled, "a throttling HTTP status is decisive");
    if (r.status == 455) fuzz::require(v == response_verdict::unavailable, "a maintenance HTTP status is decisive");
    return 0;
}
