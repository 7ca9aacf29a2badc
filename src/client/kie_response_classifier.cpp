#include "kie_response_classifier.hpp"

#include <kiemidi/error.hpp>

#include <optional>

namespace kiemidi::detail {
namespace {

constexpr std::size_t max_inspected_body = 4096;

response_verdict verdict_for_code(long code)
{
    switch (code)
    {
    case 405: case 429: case 430: return response_verdict::throttled;
    case 455: return response_verdict::unavailable;
    default: return code >= 500 && code <= 599 ? response_verdict::server_error : response_verdict::final;
    }
}

}  // namespace

response_verdict classify_kie_response(const http_response& resp)
{
    const auto fields = resp.body.size() <= max_inspected_body ? read_kie_envelope(resp.body) : std::nullopt;
    // Out of credits is final whatever the spelling (402, or 429 with a msg about credits):
    // resending cannot help, and a paid request must not be sent again.
    if (fields && to_api_errc(fields->code, fields->msg) == api_errc::insufficient_credits)
        return response_verdict::final;
    // A throttling or maintenance status is decisive whatever the body says.
    auto by_status = verdict_for_code(resp.status);
    if (by_status == response_verdict::throttled || by_status == response_verdict::unavailable) return by_status;
    if (fields)
    {
        auto by_body = verdict_for_code(fields->code);
        if (by_body != response_verdict::final) return by_body;
        if (fields->code == 200 && resp.status >= 200 && resp.status < 300) return response_verdict::final;
    }
    return by_status;
}

}  // namespace kiemidi::detail
