#include "kie_response_classifier.hpp"

#include <kiemidi/error.hpp>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <charconv>
#include <optional>
#include <string>

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

/// The envelope's `code` and `msg`, when `body` is a KIE JSON envelope.
struct envelope_fields
{
    long code = 0;
    std::string msg;
};

std::optional<envelope_fields> envelope(std::string_view body)
{
    if (body.empty()) return std::nullopt;
    boost::system::error_code ec;
    auto v = boost::json::parse(body, ec);
    if (ec || !v.is_object()) return std::nullopt;
    const auto& o = v.as_object();
    const auto* code = o.if_contains("code");
    if (!code) return std::nullopt;
    envelope_fields out;
    if (code->is_int64()) out.code = static_cast<long>(code->as_int64());
    else if (code->is_uint64()) out.code = static_cast<long>(code->as_uint64());
    else if (code->is_string())
    {
        const auto& s = code->as_string();
        auto [p, e] = std::from_chars(s.data(), s.data() + s.size(), out.code);
        if (e != std::errc() || p != s.data() + s.size()) return std::nullopt;
    }
    else return std::nullopt;
    for (const char* key : {"msg", "message"})
        if (const auto* m = o.if_contains(key); m && m->is_string())
        {
            out.msg = std::string(m->as_string());
            break;
        }
    return out;
}

}  // namespace

response_verdict classify_kie_response(const http_response& resp)
{
    const auto fields = resp.body.size() <= max_inspected_body ? envelope(resp.body) : std::nullopt;
    // Out of credits is final whatever the spelling (402, or 429 with a msg about credits):
    // resending cannot help, and a paid request must not be sent again.
    if (fields && to_api_errc(static_cast<int>(fields->code), fields->msg) == api_errc::insufficient_credits)
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

bool is_kie_envelope(std::string_view body) { return envelope(body).has_value(); }

}  // namespace kiemidi::detail
