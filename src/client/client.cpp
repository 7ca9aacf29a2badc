// kiemidi::client: one KIE request per operation, parsed into api types.
#include <kiemidi/callback_listener.hpp>
#include <kiemidi/callback_reference.hpp>
#include <kiemidi/client.hpp>
#include <kiemidi/detail/async_bridge.hpp>
#include <kiemidi/detail/kie_response_classifier.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/url/encode.hpp>
#include <boost/url/rfc/unreserved_chars.hpp>

#include <cstdlib>

namespace kiemidi {
namespace asio = boost::asio;

namespace {

constexpr std::string_view separation_generate_path = "/api/v1/vocal-removal/generate";
constexpr std::string_view separation_record_path = "/api/v1/vocal-removal/record-info";
constexpr std::string_view midi_generate_path = "/api/v1/midi/generate";
constexpr std::string_view midi_record_path = "/api/v1/midi/record-info";
constexpr std::string_view credits_path = "/api/v1/chat/credit";
constexpr std::string_view music_record_path = "/api/v1/generate/record-info";

transport_options make_transport_options(client_options& opts)
{
    transport_options t = std::move(opts.transport);
    t.base_url = std::move(opts.base_url);
    t.bearer_token = std::move(opts.api_key);
    if (!t.classify) t.classify = &detail::classify_kie_response;
    return t;
}

http_request get_with_task_id(std::string_view path, std::string_view task_id)
{
    http_request req;
    req.method = http_method::get;
    req.target.reserve(path.size() + 8 + task_id.size() * 3);
    req.target.append(path).append("?taskId=");
    req.target += boost::urls::encode(task_id, boost::urls::unreserved_chars);
    req.kind = request_kind::read;
    return req;
}

http_request paid_post(std::string_view path, std::string body)
{
    http_request req;
    req.method = http_method::post;
    req.target = path;
    req.body = std::move(body);
    req.kind = request_kind::paid_submission;
    return req;
}

// Replaces every occurrence of `secret` in the diagnostics' texts. KIE's messages are kept
// verbatim, except that an API key it echoes back ("invalid key sk-...") must not reach logs.
void redact(diagnostics& diag, std::string_view secret)
{
    if (secret.empty()) return;
    auto scrub = [&](const std::string& text) {
        std::string s = text;
        for (auto p = s.find(secret); p != std::string::npos; p = s.find(secret, p)) s.replace(p, secret.size(), "<redacted>");
        return s;
    };
    if (diag.server_message().find(secret) != std::string::npos) diag.set_server_message(scrub(diag.server_message()));
    if (diag.client_message().find(secret) != std::string::npos) diag.set_client_message(scrub(diag.client_message()));
    if (diag.endpoint().find(secret) != std::string::npos) diag.set_endpoint(scrub(diag.endpoint()));
}

/// One exchange: transport (pool, retry, limiter) then KIE envelope parsing. An HTTP error page
/// that is not KIE JSON becomes client_errc::http_error; a KIE body always speaks for itself.
template <class Result>
asio::awaitable<std::tuple<error_code, Result>> exchange(http_client& http, http_request req, diagnostics& diag,
                                                         std::string_view api_key)
{
    diag.clear();
    const std::string endpoint = std::string(req.method == http_method::post ? "POST " : "GET ") +
                                 req.target.substr(0, req.target.find('?'));
    auto [ec, resp] = co_await http.async_execute(std::move(req), diag, asio::as_tuple(asio::use_awaitable));
    if (diag.endpoint().empty()) diag.set_endpoint(endpoint);
    Result out{};
    if (ec) co_return std::tuple{ec, std::move(out)};
    diag.set_http_status(resp.status);
    ec = api::parse_response(resp.body, out, diag);
    if (ec == client_errc::bad_json && (resp.status < 200 || resp.status >= 300))
    {
        diag.set_client_message("HTTP " + std::to_string(resp.status) + " without a KIE JSON body");
        ec = client_errc::http_error;
    }
    redact(diag, api_key);
    co_return std::tuple{ec, std::move(out)};
}

}  // namespace

std::optional<client_options> client_options::from_environment()
{
    const char* key = std::getenv("KIE_API_KEY");
    if (!key || !*key) return std::nullopt;
    client_options opts;
    opts.api_key = key;
    if (const char* url = std::getenv("KIE_BASE_URL"); url && *url) opts.base_url = url;
    return opts;
}

client::client(executor_type ex, client_options opts)
    : ex_(std::move(ex)),
      api_key_(opts.api_key),
      http_(std::make_unique<http_client>(ex_, make_transport_options(opts))),
      polling_callback_url_(std::move(opts.polling_callback_url))
{
}

void client::attach_callbacks(callback_hub& hub, const callback_listener& listener)
{
    hub_ = &hub;
    separation_callback_url_ = listener.callback_url(callback_kind::separation);
    midi_callback_url_ = listener.callback_url(callback_kind::midi);
}

std::string client::callback_url(callback_kind kind) const
{
    if (!hub_) return polling_callback_url_;
    return kind == callback_kind::separation ? separation_callback_url_ : midi_callback_url_;
}

std::string client::callback_url(callback_kind kind, std::string_view reference) const
{
    auto url = callback_url(kind);
    if (!hub_) return url;
    return with_callback_reference(url, reference);
}

client::~client() = default;

void client::close() { http_->close(); }

void client::start_submit_separation(api::separation_request req, diagnostics& diag, handler_t<api::task_created> h)
{
    detail::spawn_with_handler<api::task_created>(
        ex_, exchange<api::task_created>(*http_, paid_post(separation_generate_path, api::serialize(req)), diag, api_key_), std::move(h));
}

void client::start_get_separation(std::string task_id, diagnostics& diag, handler_t<api::separation_record> h)
{
    detail::spawn_with_handler<api::separation_record>(
        ex_, exchange<api::separation_record>(*http_, get_with_task_id(separation_record_path, task_id), diag, api_key_), std::move(h));
}

void client::start_submit_midi(api::midi_request req, diagnostics& diag, handler_t<api::task_created> h)
{
    detail::spawn_with_handler<api::task_created>(
        ex_, exchange<api::task_created>(*http_, paid_post(midi_generate_path, api::serialize(req)), diag, api_key_), std::move(h));
}

void client::start_get_midi(std::string task_id, diagnostics& diag, handler_t<api::midi_record> h)
{
    detail::spawn_with_handler<api::midi_record>(
        ex_, exchange<api::midi_record>(*http_, get_with_task_id(midi_record_path, task_id), diag, api_key_), std::move(h));
}

void client::start_get_credits(std::string, diagnostics& diag, handler_t<api::credits> h)
{
    http_request req;
    req.target = credits_path;
    detail::spawn_with_handler<api::credits>(ex_, exchange<api::credits>(*http_, std::move(req), diag, api_key_), std::move(h));
}

void client::start_get_music_task(std::string task_id, diagnostics& diag, handler_t<api::music_task_record> h)
{
    detail::spawn_with_handler<api::music_task_record>(
        ex_, exchange<api::music_task_record>(*http_, get_with_task_id(music_record_path, task_id), diag, api_key_), std::move(h));
}

}  // namespace kiemidi
