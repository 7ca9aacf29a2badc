// kiemidi::client: one KIE request per operation, parsed into api types.
#include <kiemidi/callback_listener.hpp>
#include <kiemidi/callback_reference.hpp>
#include <kiemidi/client.hpp>
#include <kiemidi/metrics/model.hpp>

#include "../async_bridge.hpp"
#include "client_life.hpp"
#include "tracked_spawn.hpp"
#include "kie_health.hpp"
#include "kie_health_gate.hpp"
#include "kie_response_classifier.hpp"
#include "operations.hpp"
#include "../nothrow_awaitable.hpp"

#include <boost/asio/use_awaitable.hpp>
#include <boost/url/encode.hpp>
#include <boost/url/rfc/unreserved_chars.hpp>

#include <chrono>
#include <cstdlib>

namespace asio = boost::asio;

namespace kiemidi {

namespace {

constexpr std::string_view separation_generate_path = "/api/v1/vocal-removal/generate";
constexpr std::string_view separation_record_path = "/api/v1/vocal-removal/record-info";
constexpr std::string_view midi_generate_path = "/api/v1/midi/generate";
constexpr std::string_view midi_record_path = "/api/v1/midi/record-info";
constexpr std::string_view credits_path = "/api/v1/chat/credit";
constexpr std::string_view music_record_path = "/api/v1/generate/record-info";

/// The transport for `c`: every attempt also tells c's circuit breaker how KIE answered, so the
/// first maintenance answer stops new paid submissions at once, not after a retry budget.
transport_options make_transport_options(client_options& opts, client* c)
{
    transport_options t = std::move(opts.transport);
    t.base_url = std::move(opts.base_url);
    t.bearer_token = std::move(opts.api_key);
    if (!t.classify) t.classify = &detail::classify_kie_response;
    t.on_attempt = [c, theirs = std::move(t.on_attempt)](const attempt_report& r) {
        detail::report_attempt(*c, r);
        if (theirs) theirs(r);
    };
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

/// The start of a body that is not KIE's, for diagnostics: at most 120 bytes, on one line.
std::string excerpt(std::string_view body)
{
    constexpr std::size_t max = 120;
    std::string out;
    bool space = false;
    for (char ch : body)
    {
        const auto u = static_cast<unsigned char>(ch);
        if (u < 0x20 || u == 0x7f || ch == ' ')
        {
            space = !out.empty();
            continue;
        }
        if (space) out += ' ';
        space = false;
        out += ch;
        if (out.size() >= max)
        {
            out += "...";
            break;
        }
    }
    return out.empty() ? "empty body" : "\"" + out + "\"";
}

/// An answer whose body is not a KIE JSON envelope: the HTTP status is all there is.
/// For a paid POST, only a 4xx says the request was refused (402: out of credits); any other
/// status (a gateway's 502, a 200 with a cut or non-JSON body) came after the request was
/// written and may hide a processed, charged task, so it is client_errc::outcome_unknown, never
/// a failure that invites sending the request again.
error_code not_kie_answer(const http_response& resp, bool paid, diagnostics& diag)
{
    const std::string what = "HTTP " + std::to_string(resp.status) + " without a KIE JSON body (" + excerpt(resp.body) + ")";
    if (resp.status == 402)
    {
        diag.set_client_message(what);
        return api_errc::insufficient_credits;
    }
    const bool refused = resp.status >= 400 && resp.status < 500;
    if (paid && !refused)
    {
        diag.set_client_message(what + "; the request was sent and may have been processed, so it was not resent");
        return client_errc::outcome_unknown;
    }
    diag.set_client_message(what);
    // A record-info read answered by a bare 404 page will not find the task by asking again.
    if (resp.status == 404) return api_errc::not_found;
    return client_errc::http_error;
}

/// One exchange: transport (pool, retry, limiter) then KIE envelope parsing. A KIE body always
/// speaks for itself; an answer that is not KIE JSON is judged by not_kie_answer.
/// `e` names the endpoint (its path is static storage): the endpoint for diagnostics is only
/// built when the transport did not name it. Every exchange is counted in the client's metrics
/// (by endpoint and KIE's body code) and told to its observer.
template <class Result>
asio::awaitable<std::tuple<error_code, Result>> exchange(client& c, http_request req, metrics::endpoint e,
                                                         diagnostics& diag)
{
    diag.clear();
    const std::string_view path = metrics::endpoint_path(e);
    const std::string_view api_key = detail::client_access::api_key(c);
    const bool post = req.method == http_method::post;
    const bool paid = req.kind == request_kind::paid_submission;
    const auto t0 = std::chrono::steady_clock::now();
    auto [ec, resp] = co_await detail::client_access::transport(c).async_execute(std::move(req), diag, use_nothrow_awaitable);
    const auto latency = std::chrono::steady_clock::now() - t0;
    if (diag.endpoint().empty()) diag.set_endpoint(std::string(post ? "POST " : "GET ").append(path));
    Result out{};
    if (ec)
    {
        c.metrics().endpoints[static_cast<std::size_t>(e)].no_answer.inc();
        detail::report_exchange(c, ec, 0, std::nullopt);
        if (auto* obs = c.observer())
            obs->kie_answer(metrics::kie_answer_event{.endpoint = path, .http_status = 0, .kie_code = std::nullopt,
                                                      .latency = latency, .ec = ec});
        redact(diag, api_key);
        co_return std::tuple{ec, std::move(out)};
    }
    diag.set_http_status(resp.status);
    ec = api::parse_response(resp.body, out, diag);
    const bool kie_spoke = !ec || ec.category() == get_api_category();
    const bool non_2xx = resp.status < 200 || resp.status >= 300;
    if (!kie_spoke && (paid || non_2xx) && !detail::is_kie_envelope(resp.body))
    {
        out = Result{};
        ec = not_kie_answer(resp, paid, diag);
    }
    else if (paid && !kie_spoke && diag.kie_code() == 200)
    {
        // KIE said yes (code 200) but its answer has no usable task id: the task may exist and
        // be charged, so this is not a failure to resubmit after.
        out = Result{};
        diag.set_client_message("KIE accepted the submission but its answer is unusable (" + diag.client_message() +
                                "); the task may exist and be charged, so it was not resent");
        ec = client_errc::outcome_unknown;
    }
    // KIE's body code, when the body is KIE's envelope (not a gateway's page).
    const std::optional<int> code = kie_spoke || detail::is_kie_envelope(resp.body) ? diag.kie_code() : std::nullopt;
    c.metrics().count_answer(e, code, latency);
    detail::report_exchange(c, ec, resp.status, code);
    if (auto* obs = c.observer())
        obs->kie_answer(metrics::kie_answer_event{.endpoint = path, .http_status = resp.status, .kie_code = code,
                                                  .latency = latency, .ec = ec});
    redact(diag, api_key);
    co_return std::tuple{ec, std::move(out)};
}

/// One paid POST started by the caller (async_submit_*): cut by cancellation or close() once it
/// may have been written, it is client_errc::outcome_unknown, never a plain abort that invites
/// sending it again.
template <class Request>
asio::awaitable<std::tuple<error_code, api::task_created>> submit_once(
    client& c, Request req, diagnostics& diag,
    detail::op_result<api::task_created> (*submit)(client&, const Request&, diagnostics&, detail::before_write_step))
{
    // Set on the transport's strand before the first write; read only after the exchange ended.
    auto admitted = std::make_shared<bool>(false);
    // Named, not a temporary inside co_await (g++ 12 destroys such temporaries twice).
    detail::before_write_step on_admission = [admitted]() -> asio::awaitable<error_code> {
        *admitted = true;
        co_return error_code{};
    };
    auto [ec, created] = co_await submit(c, req, diag, std::move(on_admission));
    if (*admitted && (ec == asio::error::operation_aborted || ec == client_errc::shut_down))
    {
        diag.set_client_message(diag.client_message() + " (" + ec.message() +
                                " after the paid request may have been written: it may have been processed)");
        ec = client_errc::outcome_unknown;
    }
    co_return std::tuple{ec, std::move(created)};
}

/// The credits read, kept as the metrics' last known credits.
asio::awaitable<std::tuple<error_code, api::credits>> get_credits(client& c, diagnostics& diag)
{
    http_request req;
    req.target = credits_path;
    auto r = co_await exchange<api::credits>(c, std::move(req), metrics::endpoint::credits, diag);
    if (!std::get<0>(r)) c.metrics().set_credits(std::get<1>(r).remaining);
    co_return r;
}

}  // namespace

namespace detail {

op_result<api::task_created> submit_separation(client& c, const api::separation_request& req, diagnostics& diag,
                                               before_write_step admitted)
{
    auto http_req = paid_post(separation_generate_path, api::serialize(req));
    http_req.before_first_write = std::move(admitted);
    return exchange<api::task_created>(c, std::move(http_req), metrics::endpoint::separation_submit, diag);
}

op_result<api::task_created> submit_midi(client& c, const api::midi_request& req, diagnostics& diag,
                                         before_write_step admitted)
{
    auto http_req = paid_post(midi_generate_path, api::serialize(req));
    http_req.before_first_write = std::move(admitted);
    return exchange<api::task_created>(c, std::move(http_req), metrics::endpoint::midi_submit, diag);
}

op_result<api::separation_record> get_separation(client& c, std::string_view task_id, diagnostics& diag)
{
    return exchange<api::separation_record>(c, get_with_task_id(separation_record_path, task_id),
                                            metrics::endpoint::separation_record, diag);
}

op_result<api::midi_record> get_midi(client& c, std::string_view task_id, diagnostics& diag)
{
    return exchange<api::midi_record>(c, get_with_task_id(midi_record_path, task_id), metrics::endpoint::midi_record,
                                      diag);
}

}  // namespace detail

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
      http_(std::make_unique<http_client>(ex_, make_transport_options(opts, this))),
      polling_callback_url_(std::move(opts.polling_callback_url)),
      metrics_(opts.metrics ? std::move(opts.metrics) : std::make_shared<metrics::registry>()),
      observer_(std::move(opts.observer)),
      life_(std::make_shared<detail::client_life>(ex_)),
      health_(std::make_shared<detail::kie_health>())
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

void client::start_shutdown(asio::any_completion_handler<void(error_code)> h)
{
    // Stop the operations first (each ends at its next step, a wait at once), then cut whatever
    // request is still in flight.
    life_->shut_down(std::move(h));
    http_->close();
}

std::size_t client::pending_operations() const { return life_->pending(); }

http_client_stats client::transport_stats() const { return http_->stats(); }

void client::start_submit_separation(api::separation_request req, diagnostics& diag, handler_t<api::task_created> h)
{
    if (req.callback_url.empty()) req.callback_url = callback_url(callback_kind::separation);
    detail::spawn_tracked<api::task_created>(
        *life_, ex_, submit_once<api::separation_request>(*this, std::move(req), diag, &detail::submit_separation), std::move(h));
}

void client::start_get_separation(std::string task_id, diagnostics& diag, handler_t<api::separation_record> h)
{
    detail::spawn_tracked<api::separation_record>(*life_, ex_, detail::get_separation(*this, task_id, diag), std::move(h));
}

void client::start_submit_midi(api::midi_request req, diagnostics& diag, handler_t<api::task_created> h)
{
    if (req.callback_url.empty()) req.callback_url = callback_url(callback_kind::midi);
    detail::spawn_tracked<api::task_created>(
        *life_, ex_, submit_once<api::midi_request>(*this, std::move(req), diag, &detail::submit_midi), std::move(h));
}

void client::start_get_midi(std::string task_id, diagnostics& diag, handler_t<api::midi_record> h)
{
    detail::spawn_tracked<api::midi_record>(*life_, ex_, detail::get_midi(*this, task_id, diag), std::move(h));
}

void client::start_get_credits(std::string, diagnostics& diag, handler_t<api::credits> h)
{
    detail::spawn_tracked<api::credits>(*life_, ex_, get_credits(*this, diag), std::move(h));
}

void client::start_get_music_task(std::string task_id, diagnostics& diag, handler_t<api::music_task_record> h)
{
    detail::spawn_tracked<api::music_task_record>(
        *life_, ex_, exchange<api::music_task_record>(*this, get_with_task_id(music_record_path, task_id), metrics::endpoint::music_record, diag), std::move(h));
}

}  // namespace kiemidi
