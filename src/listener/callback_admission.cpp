// The callback listener's admission policy and request cycle; see callback_admission.hpp.
#include "callback_admission.hpp"

#include "../crypto/crypto.hpp"

#include <kiemidi/api/callbacks.hpp>
#include <kiemidi/callback_reference.hpp>

#include <boost/beast/core/error.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/url/parse.hpp>

#include <algorithm>
#include <charconv>
#include <chrono>

namespace kiemidi::detail {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
constexpr std::string_view path_prefix = "/kiemidi/callback/";
constexpr std::uint32_t header_limit = 16 * 1024;

std::string_view path_of(std::string_view url)
{
    // Path component of an absolute URL ("https://host:1/a/b?x" → "/a/b"), without trailing
    // slashes; empty when there is none or the text is not an absolute URL.
    const auto parsed = boost::urls::parse_uri(url);
    if (!parsed) return {};
    const auto encoded = parsed->encoded_path();
    std::string_view path(encoded.data(), encoded.size());
    while (!path.empty() && path.back() == '/') path.remove_suffix(1);
    return path;
}

const char* kind_segment(callback_kind k) { return k == callback_kind::separation ? "separation" : "midi"; }

}  // namespace

callback_admission::callback_admission(listener_options o, callback_hub& h) : opts(std::move(o)), hub_(&h)
{
    secret = opts.path_secret.empty() ? random_hex(32, "produce a path secret") : opts.path_secret;
    base_path = std::string(path_of(opts.public_base_url));
}

std::string callback_admission::callback_target(callback_kind kind) const
{
    return std::string(path_prefix) + secret + "/" + kind_segment(kind);
}

void callback_admission::detach_hub()
{
    std::lock_guard lk(hub_mtx_);  // waits for a deliver() in progress
    hub_ = nullptr;
}

listener_stats callback_admission::snapshot() const
{
    const auto& c = stats;
    listener_stats s;
    s.accepted_connections = c.accepted_connections.load();
    s.open_connections = c.open_connections.load();
    s.refused_over_capacity = c.refused_over_capacity.load();
    s.tls_handshake_failures = c.tls_handshake_failures.load();
    s.callbacks_accepted = c.callbacks_accepted.load();
    s.duplicates = c.duplicates.load();
    s.buffered = c.buffered.load();
    s.rejected_forged = c.rejected_forged.load();
    s.rejected_stale = c.rejected_stale.load();
    s.not_found = c.not_found.load();
    s.method_not_allowed = c.method_not_allowed.load();
    s.too_large = c.too_large.load();
    s.timeouts = c.timeouts.load();
    s.malformed = c.malformed.load();
    s.evicted_idle = c.evicted_idle.load();
    const auto kind_snapshot = [](const listener_counters::per_kind& k) {
        listener_kind_stats out;
        out.accepted = k.accepted.load();
        out.duplicates = k.duplicates.load();
        out.forged = k.forged.load();
        out.stale = k.stale.load();
        return out;
    };
    s.separation = kind_snapshot(c.by_kind[static_cast<int>(callback_kind::separation)]);
    s.midi = kind_snapshot(c.by_kind[static_cast<int>(callback_kind::midi)]);
    return s;
}

// Route of a request target: the callback kind when it is exactly our secret path.
callback_admission::route_result callback_admission::route(std::string_view target) const
{
    if (auto q = target.find('?'); q != std::string_view::npos) target = target.substr(0, q);
    if (!base_path.empty() && target.substr(0, base_path.size()) == base_path &&
        target.substr(base_path.size(), path_prefix.size()) == path_prefix)
        target.remove_prefix(base_path.size());
    if (target.substr(0, path_prefix.size()) != path_prefix) return route_result::not_found;
    target.remove_prefix(path_prefix.size());
    auto slash = target.find('/');
    if (slash == std::string_view::npos) return route_result::not_found;
    auto given = target.substr(0, slash);
    auto kind = target.substr(slash + 1);
    const bool secret_ok = constant_time_equal(given, secret);
    if (!secret_ok) return route_result::not_found;
    if (kind == "separation") return route_result::separation;
    if (kind == "midi") return route_result::midi;
    return route_result::not_found;
}


void callback_admission::prepare(callback_request_parser& parser) const
{
    parser.header_limit(header_limit);
    parser.body_limit(opts.max_body);
}

std::variant<callback_admission::answer, callback_kind> callback_admission::admit(const callback_request& req)
{
    if (req.version() != 10 && req.version() != 11)
    {
        // Beast reads any "HTTP/d.d"; an HTTP/2 preface or the like is not ours to route.
        bump(stats.malformed);
        note("kiemidi listener: 400 unsupported HTTP version");
        return answer{http::status::bad_request, R"({"code":400,"msg":"bad request"})", true};
    }
    const auto r = route(std::string_view(req.target().data(), req.target().size()));
    if (r == route_result::not_found || req.method() != http::verb::post)
    {
        const bool nf = r == route_result::not_found;
        bump(nf ? stats.not_found : stats.method_not_allowed);
        note(nf ? "kiemidi listener: 404 unknown path" : "kiemidi listener: 405 method not allowed");
        if (nf) return answer{http::status::not_found, R"({"code":404,"msg":"not found"})"};
        return answer{http::status::method_not_allowed, R"({"code":405,"msg":"method not allowed"})"};
    }
    return r == route_result::separation ? callback_kind::separation : callback_kind::midi;
}

std::optional<callback_admission::answer> callback_admission::read_error_answer(error_code ec)
{
    if (ec == beast::error::timeout)
    {
        bump(stats.timeouts);
        note("kiemidi listener: request deadline passed; connection closed");
        return std::nullopt;
    }
    if (ec == http::error::body_limit)
    {
        bump(stats.too_large);
        note("kiemidi listener: 413 body larger than max_body");
        return answer{http::status::payload_too_large, R"({"code":413,"msg":"payload too large"})"};
    }
    if (ec == http::error::header_limit)
    {
        bump(stats.too_large);
        note("kiemidi listener: 431 request headers too large");
        return answer{http::status::request_header_fields_too_large,
                      R"({"code":431,"msg":"request headers too large"})"};
    }
    if (ec == http::error::end_of_stream || ec == http::error::partial_message)
        return std::nullopt;  // the peer went away
    if (ec.category() == make_error_code(http::error::bad_method).category())
    {
        bump(stats.malformed);
        note("kiemidi listener: 400 malformed HTTP request");
        return answer{http::status::bad_request, R"({"code":400,"msg":"bad request"})"};
    }
    return std::nullopt;  // a socket or TLS failure: just close
}

callback_admission::answer callback_admission::handle_callback(callback_kind kind, callback_request& req)
{
    auto& of_kind = stats.by_kind[kind == callback_kind::midi ? 1 : 0];
    auto id = api::find_callback_task_id(std::string_view(req.body()));
    if (!id || id->empty())
    {
        bump(stats.malformed);
        note("kiemidi listener: 400 callback body is not JSON or carries no task id");
        return {http::status::bad_request, R"({"code":400,"msg":"malformed callback"})"};
    }
    if (!opts.webhook_hmac_key.empty())
    {
        const auto ts = req["X-Webhook-Timestamp"];
        const auto sig = req["X-Webhook-Signature"];
        std::int64_t ts_value = 0;
        const auto parsed = std::from_chars(ts.data(), ts.data() + ts.size(), ts_value);
        const bool ts_ok = !ts.empty() && parsed.ec == std::errc{} && parsed.ptr == ts.data() + ts.size();
        bool sig_ok = false;
        if (ts_ok && !sig.empty())
        {
            sig_ok = detail::verify_webhook_signature(opts.webhook_hmac_key, *id, std::string_view(ts.data(), ts.size()),
                                                      std::string_view(sig.data(), sig.size()));
        }
        if (!sig_ok)
        {
            bump(stats.rejected_forged);
            bump(of_kind.forged);
            note("kiemidi listener: 401 callback signature missing or invalid");
            return {http::status::unauthorized, R"({"code":401,"msg":"invalid signature"})"};
        }
        const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                             std::chrono::system_clock::now().time_since_epoch())
                             .count();
        // Compared as a distance from now, in unsigned arithmetic: `now ± window` would overflow
        // for a window near seconds::max() (a caller's way of saying "any age").
        const std::uint64_t distance = ts_value >= now ? static_cast<std::uint64_t>(ts_value) - static_cast<std::uint64_t>(now)
                                                       : static_cast<std::uint64_t>(now) - static_cast<std::uint64_t>(ts_value);
        const std::uint64_t window = static_cast<std::uint64_t>(std::max<std::int64_t>(0, opts.freshness_window.count()));
        if (distance > window)
        {
            bump(stats.rejected_stale);
            bump(of_kind.stale);
            note("kiemidi listener: 401 callback timestamp outside the freshness window");
            return {http::status::unauthorized, R"({"code":401,"msg":"stale timestamp"})"};
        }
    }

    callback_message msg;
    msg.kind = kind;
    msg.task_id = std::move(*id);
    msg.body = std::move(req.body());
    msg.reference = callback_reference_of(std::string_view(req.target().data(), req.target().size()));
    msg.received_at = std::chrono::system_clock::now();
    std::optional<deliver_result> r;
    {
        std::lock_guard lk(hub_mtx_);
        if (hub_) r = hub_->deliver(std::move(msg));
    }
    if (!r) return {http::status::service_unavailable, R"({"code":503,"msg":"shutting down"})"};
    if (*r == deliver_result::duplicate)
    {
        bump(stats.duplicates);
        bump(of_kind.duplicates);
    }
    if (*r == deliver_result::buffered) bump(stats.buffered);
    bump(stats.callbacks_accepted);
    bump(of_kind.accepted);
    return {http::status::ok, R"({"code":200,"msg":"success"})"};
}
// ---- request_cycle ----

callback_request_parser& request_cycle::begin()
{
    parser_.emplace();
    admission_.prepare(*parser_);
    return *parser_;
}

cycle_step request_cycle::after_header(error_code ec)
{
    if (ec) return read_failed(ec);
    auto& req = parser_->get();
    version_ = req.version();
    const bool body_pending = !parser_->is_done();

    auto admitted = admission_.admit(req);
    if (auto* rejected = std::get_if<callback_admission::answer>(&admitted))
    {
        cycle_step step;
        if (rejected->close)
        {
            // Not a request we can answer in kind (e.g. not HTTP/1.x): answer 400 as HTTP/1.1 and end.
            step.answer = cycle_answer{rejected->status, std::move(rejected->body), 11, false, false, true};
            parser_.reset();
            return step;
        }
        // An unread body would be taken for the next request: close instead, after draining.
        step.answer = cycle_answer{rejected->status,
                                   std::move(rejected->body),
                                   version_,
                                   req.keep_alive() && !body_pending,
                                   req.method() == http::verb::head,
                                   body_pending};
        parser_.reset();
        return step;
    }
    kind_ = std::get<callback_kind>(admitted);
    if (!body_pending) return finish();
    cycle_step step;
    step.read_body = true;
    step.send_continue = beast::iequals(req[http::field::expect], "100-continue");
    return step;
}

cycle_step request_cycle::after_body(error_code ec)
{
    if (ec) return read_failed(ec);
    return finish();
}

cycle_step request_cycle::read_failed(error_code ec)
{
    parser_.reset();
    cycle_step step;
    if (auto a = admission_.read_error_answer(ec))
        step.answer = cycle_answer{a->status, std::move(a->body), 11, false, false, true};
    return step;
}

cycle_step request_cycle::finish()
{
    auto& req = parser_->get();
    const bool keep_alive = req.keep_alive();
    auto a = admission_.handle_callback(kind_, req);
    cycle_step step;
    step.answer = cycle_answer{a.status, std::move(a.body), version_, keep_alive, false, false};
    parser_.reset();
    return step;
}

}  // namespace kiemidi::detail
