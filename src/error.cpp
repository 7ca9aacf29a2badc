// Error categories for kiemidi (compiled once).
#include <kiemidi/error.hpp>

#include <cctype>
#include <string>

namespace kiemidi {
namespace {

class api_category_impl final : public boost::system::error_category
{
public:
    const char* name() const noexcept override { return "kiemidi.api"; }
    std::string message(int ev) const override
    {
        switch (static_cast<api_errc>(ev))
        {
        case api_errc::bad_request: return "KIE: bad request (parameters or audio format)";
        case api_errc::unauthorized: return "KIE: unauthorized (API key missing, invalid or not allowed)";
        case api_errc::insufficient_credits: return "KIE: insufficient credits";
        case api_errc::not_found: return "KIE: not found";
        case api_errc::rate_limited_405: return "KIE: rate limit exceeded (405)";
        case api_errc::conflict: return "KIE: conflict (record already exists)";
        case api_errc::too_long: return "KIE: parameter too long";
        case api_errc::validation_error: return "KIE: validation error";
        case api_errc::rate_limited: return "KIE: rate limited (request dropped)";
        case api_errc::call_frequency_too_high: return "KIE: call frequency too high";
        case api_errc::download_failed: return "KIE: source audio download failed";
        case api_errc::maintenance: return "KIE: service under maintenance";
        case api_errc::server_error: return "KIE: server error";
        case api_errc::generation_failed: return "KIE: generation failed";
        case api_errc::feature_disabled: return "KIE: feature disabled";
        case api_errc::unknown_code: return "KIE: unknown error code";
        case api_errc::task_failed: return "KIE: task failed";
        case api_errc::unknown_task: return "KIE: unknown task";
        case api_errc::task_not_finished: return "KIE: task not finished yet";
        }
        return "KIE: error " + std::to_string(ev);
    }
};

class client_category_impl final : public boost::system::error_category
{
public:
    const char* name() const noexcept override { return "kiemidi.client"; }
    std::string message(int ev) const override
    {
        switch (static_cast<client_errc>(ev))
        {
        case client_errc::timeout: return "operation timed out";
        case client_errc::response_too_large: return "response body too large";
        case client_errc::bad_json: return "malformed JSON";
        case client_errc::missing_field: return "required JSON field missing";
        case client_errc::invalid_field: return "JSON field has an invalid type or value";
        case client_errc::http_error: return "HTTP error status without a usable KIE body";
        case client_errc::outcome_unknown: return "submission outcome unknown (sent, no answer)";
        case client_errc::invalid_url: return "invalid or unsupported URL";
        case client_errc::insecure_scheme: return "plain http to a non-loopback host refused";
        case client_errc::shut_down: return "shut down while the operation was pending";
        case client_errc::forged_callback: return "callback failed verification";
        case client_errc::stale_callback: return "callback timestamp outside the freshness window";
        case client_errc::retries_exhausted: return "retries exhausted";
        case client_errc::unknown_stem: return "the separation has no such stem";
        case client_errc::kie_unavailable: return "KIE is unavailable";
        case client_errc::proxy_refused: return "the HTTP proxy refused the tunnel";
        }
        return "kiemidi client error " + std::to_string(ev);
    }
};

}  // namespace

const boost::system::error_category& get_api_category() noexcept
{
    static const api_category_impl cat;
    return cat;
}

const boost::system::error_category& get_client_category() noexcept
{
    static const client_category_impl cat;
    return cat;
}

api_errc to_api_errc(int kie_code) noexcept
{
    switch (kie_code)
    {
    case 400: case 401: case 402: case 404: case 405: case 409: case 413: case 422:
    case 429: case 430: case 451: case 455: case 500: case 501: case 505:
        return static_cast<api_errc>(kie_code);
    default:
        return api_errc::unknown_code;
    }
}

bool speaks_of_credits(std::string_view kie_msg) noexcept
{
    constexpr std::string_view word = "credit";
    if (kie_msg.size() < word.size()) return false;
    for (std::size_t i = 0; i + word.size() <= kie_msg.size(); ++i)
    {
        std::size_t k = 0;
        while (k < word.size() && std::tolower(static_cast<unsigned char>(kie_msg[i + k])) == word[k]) ++k;
        if (k == word.size()) return true;
    }
    return false;
}

api_errc to_api_errc(int kie_code, std::string_view kie_msg) noexcept
{
    if (kie_code == 429 && speaks_of_credits(kie_msg)) return api_errc::insufficient_credits;
    return to_api_errc(kie_code);
}

bool is_throttling(api_errc e) noexcept
{
    return e == api_errc::rate_limited || e == api_errc::call_frequency_too_high ||
           e == api_errc::rate_limited_405 || e == api_errc::maintenance;
}

}  // namespace kiemidi
