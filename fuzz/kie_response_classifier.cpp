// Fuzz target: the transport's first look at every KIE answer (detail::classify_kie_response
// reads the body `code`). The first two bytes pick the HTTP status, the rest is the body.
#include "fuzz_support.hpp"

#include "client/kie_response_classifier.hpp"

#include <cctype>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    using namespace kiemidi;
    if (size < 2) return 0;
    http_response r;
    r.status = 100u + (static_cast<unsigned>(data[0]) << 8 | data[1]) % 500u;
    r.body = std::string(fuzz::as_text(data + 2, size - 2));
    const auto v = detail::classify_kie_response(r);
    // A throttling or maintenance status is decisive, except for KIE's out-of-credits answer (body
    // code 402, or 429 whose msg speaks of credits), which is final: resending cannot help.
    std::string lower = r.body;
    for (auto& ch : lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    const bool may_be_credits = lower.find("402") != std::string::npos || lower.find("credit") != std::string::npos;
    const bool credits_final = v == response_verdict::final && may_be_credits;
    if (r.status == 429 || r.status == 430 || r.status == 405)
        fuzz::require(v == response_verdict::throttled || credits_final,
                      "a throttling HTTP status is decisive unless KIE says the credits ran out");
    if (r.status == 455)
        fuzz::require(v == response_verdict::unavailable || credits_final,
                      "a maintenance HTTP status is decisive unless KIE says the credits ran out");
    return 0;
}
