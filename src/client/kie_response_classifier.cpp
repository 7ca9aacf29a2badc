#include <kiemidi/detail/kie_response_classifier.hpp>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <charconv>

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

std::optional<long> body_code(const std::string& body)
{
    if (body.empty() || body.size() > max_inspected_body) return std::nullopt;
    boost::system::error_code ec;
    auto v = boost::json::parse(body, ec);
    if (ec || !v.is_object()) return std::nullopt;
    const auto* code = v.as_object().if_contains("code");
    if (!code) return std::nullopt;
    if (code->is_int64()) return code->as_int64();
    if (code->is_uint64()) return static_cast<long>(code->as_uint64());
    if (code->is_string())
    {
        const auto& s = code->as_string();
        long out = 0;
        auto [p, e] = std::from_chars(s.data(), s.data() + s.size(), out);
        if (e == std::errc() && p == s.data() + s.size()) return out;
    }
    return std::nullopt;
}

}  // namespace

response_verdict classify_kie_response(const http_response& resp)
{
    // A throttling or maintenance status is decisive whatever the body says.
    auto by_status = verdict_for_code(resp.status);
    if (by_status == response_verdict::throttled || by_status == response_verdict::unavailable) return by_status;
    if (auto code = body_code(resp.body))
    {
        auto by_body = verdict_for_code(*code);
        if (by_body != response_verdict::final) return by_body;
        if (*code == 200 && resp.status >= 200 && resp.status < 300) return response_verdict::final;
    }
    return by_status;
}

}  // namespace kiemidi::detail
