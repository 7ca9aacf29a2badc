// The pooled HTTP(S) client: the connection pool, opening a connection (through the proxy's
// tunnel, then TLS), one attempt, and the retry and rate-limit loop around attempts. The Beast
// stream code of the transport is instantiated in this one translation unit (compile time on
// small machines); the origin, the request head and the TLS settings are plain functions beside it.
//
// Concurrency model: every operation is a coroutine on the client's strand; the pool, the
// operation list and the retry policy are touched only there. Counters are atomics so stats()
// can be read from any thread.
#include <kiemidi/http_client.hpp>
#include <kiemidi/rate_limiter.hpp>
#include <kiemidi/retry_policy.hpp>

#include "../nothrow_awaitable.hpp"
#include "connection_pool.hpp"
#include "origin.hpp"
#include "proxy_settings.hpp"
#include "proxy_tunnel.hpp"
#include "tls_client.hpp"

#include <boost/asio/append.hpp>
#include <boost/asio/write.hpp>
#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include <openssl/ssl.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <set>
#include <string>
#include <vector>


namespace asio = boost::asio;

namespace kiemidi {

namespace beast = boost::beast;
namespace http = boost::beast::http;
namespace ssl = boost::asio::ssl;
using tcp = asio::ip::tcp;
using detail::connection;

namespace {
std::string ms_text(std::chrono::milliseconds d) { return std::to_string(d.count()) + "ms"; }
}  // namespace

// Named, not file-local: http_client::impl, a class the public header declares, keeps these in
// its coroutines' frames.
namespace detail {

// One async_execute operation.
struct http_client_operation
{
    http_request req;
    diagnostics* diag = nullptr;       // the caller's; valid until the handler runs
    asio::cancellation_signal signal;  // cancels whatever the coroutine awaits
    bool cancelled = false;
    bool done = false;
    connection* current = nullptr;      // the connection in use, closed on cancellation
    std::shared_ptr<tcp::resolver> resolver;

    void cancel()
    {
        if (cancelled || done) return;
        cancelled = true;
        if (current) current->lowest().cancel();
        if (resolver) resolver->cancel();
        signal.emit(asio::cancellation_type::terminal);
    }
};

struct http_attempt_result
{
    error_code ec;
    attempt_failure failure = attempt_failure::none;
    http_response response;
    std::string what;  // explanation for diagnostics (never the token)
};

}  // namespace detail

using detail::http_client_operation;
using detail::http_attempt_result;
namespace {
using execute_result = std::pair<error_code, http_response>;
}  // namespace

struct http_client::impl : std::enable_shared_from_this<impl>
{
    impl(asio::any_io_executor ex, transport_options opts)
        : ex_(ex),
          strand_(asio::make_strand(ex)),
          opts_(std::move(opts)),
          limiter_(strand_, opts_.rate_limit),
          policy_(opts_.retry),
          pool_(strand_, opts_.pool_size == 0 ? 1 : opts_.pool_size)
    {
        if (opts_.pool_size == 0) opts_.pool_size = 1;
        config_ec_ = detail::parse_origin(opts_, origin_, config_why_);
        if (!config_ec_)
            config_ec_ = detail::choose_proxy(opts_.proxy, origin_.tls, origin_.host, origin_.port,
                                              detail::process_environment(), proxy_, config_why_);
        if (!config_ec_ && origin_.tls) ssl_ctx_ = detail::make_client_tls_context(opts_.tls);
    }

    // ---- operations ----

    void start(http_request req, diagnostics& diag, asio::any_completion_handler<execute_signature> h)
    {
        auto op = std::make_shared<http_client_operation>();
        ++in_flight_;
        auto uslot = asio::get_associated_cancellation_slot(h);
        if (uslot.is_connected())
        {
            uslot.assign([w = weak_from_this(), op](asio::cancellation_type) {
                if (auto self = w.lock()) asio::post(self->strand_, [op] { op->cancel(); });
            });
        }
        auto self = shared_from_this();
        op->req = std::move(req);
        op->diag = &diag;
        asio::co_spawn(strand_, execute(self.get(), op.get()),
                       asio::bind_cancellation_slot(
                           op->signal.slot(),
                           [self, op, h = std::move(h)](std::exception_ptr e, execute_result r) mutable {
                               op->done = true;
                               if (e) r = {asio::error::operation_aborted, {}};  // not expected: nothing throws
                               --self->in_flight_;
                               // The caller's cancellation slot is not thread-safe: clear it on the
                               // handler's own executor (where the caller may emit), never on our strand.
                               auto hex = asio::get_associated_executor(h, self->ex_);
                               asio::dispatch(hex, [h = std::move(h), r = std::move(r)]() mutable {
                                   auto slot = asio::get_associated_cancellation_slot(h);
                                   if (slot.is_connected()) slot.clear();
                                   std::move(h)(r.first, std::move(r.second));
                               });
                           }));
    }

    std::string endpoint_text(const http_request& req) const
    {
        std::string_view target = req.target;
        if (auto q = target.find('?'); q != std::string_view::npos) target = target.substr(0, q);
        return std::string(to_string(req.method)) + " " + origin_.prefix + std::string(target);
    }

    // Removes the token from anything headed for diagnostics (defence in depth: nothing should carry it).
    std::string scrub(std::string s) const
    {
        auto redact = [&s](const std::string& secret) {
            if (secret.empty()) return;
            for (auto p = s.find(secret); p != std::string::npos; p = s.find(secret, p))
                s.replace(p, secret.size(), "<redacted>");
        };
        redact(opts_.bearer_token);
        if (proxy_.proxy)  // the proxy's credentials, like the token
        {
            redact(proxy_.proxy->authorization);
            redact(proxy_.proxy->credentials);
        }
        return s;
    }

    error_code stop_reason(const http_client_operation& op) const
    {
        if (closed_) return client_errc::shut_down;
        if (op.cancelled) return asio::error::operation_aborted;
        return {};
    }

    // `self` and `op` are kept alive by the completion handler, which outlives the coroutine.
    static asio::awaitable<execute_result> execute(impl* self, http_client_operation* op)
    {
        co_await asio::this_coro::throw_if_cancelled(false);
        co_await asio::this_coro::reset_cancellation_state(asio::enable_total_cancellation());
        self->ops_.insert(op);
        auto r = co_await self->run(*op, op->req, *op->diag);
        self->ops_.erase(op);
        op->done = true;
        co_return r;
    }

    asio::awaitable<execute_result> run(http_client_operation& op, const http_request& req, diagnostics& diag)
    {
        diag.clear();
        diag.set_endpoint(scrub(endpoint_text(req)));
        auto fail = [&](error_code ec, std::string why) -> execute_result {
            diag.set_client_message(scrub(std::move(why)));
            return {ec, {}};
        };
        if (config_ec_) co_return fail(config_ec_, config_why_);
        if (closed_ || close_requested_) co_return fail(client_errc::shut_down, "the client was closed");

        const bool paid = req.kind == request_kind::paid_submission;
        bool admitted = false;  // req.before_first_write has run
        for (unsigned attempt = 1;; ++attempt)
        {
            if (auto ec = stop_reason(op))
                co_return fail(ec, ec == client_errc::shut_down ? "the client was closed" : "cancelled");
            if (paid && opts_.rate_limit.enabled)
            {
                // Asking again after an attempt KIE did not take: this request has waited longest.
                const auto turn = attempt > 1 ? admission_turn::again : admission_turn::in_line;
                auto [ec] = co_await limiter_.async_acquire(admission_of(req), turn, use_nothrow_awaitable);
                if (!ec && stop_reason(op)) limiter_.give_back();  // granted, but nothing will be written
                if (auto stop = stop_reason(op))
                    co_return fail(stop, stop == client_errc::shut_down ? "the client was closed"
                                                                       : "cancelled while waiting for the rate limiter");
                if (ec) co_return fail(ec, "rate limiter wait failed");
            }
            if (!admitted && req.before_first_write)
            {
                admitted = true;
                auto hook = req.before_first_write;  // a named copy outlives the await
                const error_code hec = co_await hook();
                if (hec)
                {
                    if (paid && opts_.rate_limit.enabled) limiter_.give_back();  // nothing was written
                    co_return fail(hec, "not sent: the caller's admission step failed");
                }
            }
            if (attempt > 1) ++retries_;
            http_attempt_result r = co_await attempt_once(op, req);
            // The token comes back one window after the answer (or the failure): KIE counts at
            // arrival, which is somewhere before the answer, so no window there sees more than
            // the budget however long the request queued for a connection or at the server.
            const bool throttled_answer = !r.ec && (opts_.classify ? opts_.classify(r.response)
                                                                    : classify_by_status(r.response)) ==
                                                       response_verdict::throttled;
            if (paid && opts_.rate_limit.enabled)
            {
                if (throttled_answer)
                    limiter_.throttled(r.response.retry_after);
                else if (r.failure == attempt_failure::not_sent)
                    limiter_.give_back();
                else
                    limiter_.release();
            }

            attempt_outcome outcome;
            outcome.failure = r.failure;
            if (!r.ec)
            {
                diag.set_http_status(r.response.status);
                outcome.verdict = opts_.classify ? opts_.classify(r.response) : classify_by_status(r.response);
                outcome.retry_after = r.response.retry_after;
                if (outcome.verdict == response_verdict::throttled)
                {
                    ++throttled_;
                }
            }
            if (opts_.on_attempt && (!r.ec || r.failure == attempt_failure::not_sent ||
                                     r.failure == attempt_failure::sent_no_answer))
                opts_.on_attempt(attempt_report{.answered = !r.ec,
                                                .reached = r.failure == attempt_failure::sent_no_answer,
                                                .verdict = outcome.verdict,
                                                .http_status = r.ec ? 0u : r.response.status});
            if (auto stop = stop_reason(op))
            {
                std::string why = stop == client_errc::shut_down ? "the client was closed" : "cancelled";
                if (paid && r.failure == attempt_failure::sent_no_answer)
                    why += " after the request was written; it may have been processed";
                co_return fail(stop, std::move(why));
            }

            const auto decision = policy_.decide(req.kind, attempt, outcome);
            if (!decision.retry)
            {
                const std::string suffix =
                    attempt > 1 ? " (after " + std::to_string(attempt) + " attempts)" : std::string();
                if (!r.ec)
                {
                    if (paid && outcome.verdict == response_verdict::server_error)
                        diag.set_client_message(scrub("HTTP " + std::to_string(r.response.status) +
                                                      " to a paid submission: not resent, it may have been processed" +
                                                      suffix));
                    else if (outcome.verdict != response_verdict::final)
                        diag.set_client_message(scrub("HTTP " + std::to_string(r.response.status) +
                                                      " was not resolved by retrying" + suffix));
                    co_return execute_result{{}, std::move(r.response)};
                }
                if (paid && r.failure == attempt_failure::sent_no_answer)
                    co_return fail(client_errc::outcome_unknown,
                                   r.what + "; the request was sent and may have been processed, so it was not resent" +
                                       suffix);
                co_return fail(r.ec, r.what + suffix);
            }
            if (decision.delay.count() > 0)
            {
                asio::steady_timer t(strand_, decision.delay);
                co_await t.async_wait(use_nothrow_awaitable);
            }
        }
    }

    // A MIDI submission finishes a track whose separation is already paid for: it goes first.
    static admission_priority admission_of(const http_request& req)
    {
        return req.target.find("/midi/") != std::string::npos ? admission_priority::finish : admission_priority::start;
    }

    // ---- one attempt ----

    asio::awaitable<http_attempt_result> attempt_once(http_client_operation& op, const http_request& req)
    {
        http_attempt_result r;
        std::unique_ptr<connection> conn;
        if (auto ec = co_await pool_.checkout(conn, [this, &op] { return stop_reason(op); }))
        {
            r.ec = ec;
            r.failure = attempt_failure::local;
            r.what = ec == client_errc::shut_down ? "the client was closed" : "cancelled while waiting for a connection";
            co_return r;
        }
        if (!conn)
        {
            conn = std::make_unique<connection>();
            op.current = conn.get();
            r = co_await open(op, *conn);
            op.current = nullptr;
            op.resolver.reset();
            if (r.ec)
            {
                conn->close();
                pool_.hand_over(nullptr);  // free the reserved slot
                if (stop_reason(op))
                    r.failure = attempt_failure::local;
                else if (r.failure == attempt_failure::none)
                    r.failure = attempt_failure::not_sent;  // nothing was written: safe to resend, even if paid
                co_return r;
            }
        }
        op.current = conn.get();
        if (conn->tls)
            co_await exchange(*conn->tls, *conn, req, r);
        else
            co_await exchange(*conn->tcp, *conn, req, r);
        op.current = nullptr;
        pool_.release(std::move(conn), r.ec ? false : r.failure == attempt_failure::none && !op.cancelled);
        co_return r;
    }

    template <class Stream>
    asio::awaitable<void> exchange(Stream& stream, connection& conn, const http_request& req, http_attempt_result& r)
    {
        ++requests_sent_;
        conn.lowest().expires_after(opts_.timeouts.write);
        {
            const std::string head = detail::request_head(req, origin_, opts_);
            const std::array<asio::const_buffer, 2> message{asio::buffer(head), asio::buffer(req.body)};
            auto [wec, wn] = co_await asio::async_write(stream, message, use_nothrow_awaitable);
            if (wec)
            {
                r.ec = wec == beast::error::timeout ? error_code(client_errc::timeout) : wec;
                r.failure = attempt_failure::sent_no_answer;
                r.what = wec == beast::error::timeout
                             ? "write to " + origin_.display + " timed out after " + ms_text(opts_.timeouts.write)
                             : "write to " + origin_.display + " failed: " + wec.message();
                conn.keep = false;
                co_return;
            }
        }
        http::response_parser<http::string_body> parser;
        parser.body_limit(opts_.max_response_body);
        parser.header_limit(64 * 1024);  // CDNs can send more than Beast's 8 KiB default
        conn.lowest().expires_after(opts_.timeouts.read);
        auto [rec, rn] = co_await http::async_read(stream, conn.buffer, parser, use_nothrow_awaitable);
        conn.lowest().expires_never();
        if (rec)
        {
            conn.keep = false;
            if (rec == http::error::body_limit)
            {
                r.ec = client_errc::response_too_large;
                r.failure = attempt_failure::local;
                r.what = "response body from " + origin_.display + " exceeds the limit of " +
                         std::to_string(opts_.max_response_body) + " bytes";
                co_return;
            }
            r.ec = rec == beast::error::timeout ? error_code(client_errc::timeout) : rec;
            r.failure = attempt_failure::sent_no_answer;
            r.what = rec == beast::error::timeout
                         ? "read from " + origin_.display + " timed out after " + ms_text(opts_.timeouts.read)
                         : "read from " + origin_.display + " failed: " + rec.message();
            co_return;
        }
        auto& res = parser.get();
        r.response.status = res.result_int();
        r.response.body = std::move(res.body());
        if (auto it = res.find(http::field::retry_after); it != res.end())
            r.response.retry_after = parse_retry_after(std::string_view(it->value().data(), it->value().size()));
        conn.keep = res.keep_alive();
    }

    asio::awaitable<http_attempt_result> open(http_client_operation& op, connection& conn)
    {
        http_attempt_result r;
        const auto deadline = std::chrono::steady_clock::now() + opts_.timeouts.connect;
        if (origin_.tls)
            conn.tls = std::make_unique<beast::ssl_stream<beast::tcp_stream>>(strand_, *ssl_ctx_);
        else
            conn.tcp = std::make_unique<beast::tcp_stream>(strand_);

        // Through a proxy, the TCP connection goes to the proxy; the origin is reached by CONNECT.
        const auto& proxy = proxy_.proxy;
        const std::string& host = proxy ? proxy->host : origin_.host;
        const std::string& port = proxy ? proxy->port : origin_.port;
        const std::string peer = proxy ? "proxy " + proxy->display : origin_.display;
        tcp::resolver::results_type endpoints;
        error_code addr_ec;
        const auto addr = asio::ip::make_address(host, addr_ec);
        unsigned short port_num = 0;
        {
            const auto p = std::strtoul(port.c_str(), nullptr, 10);
            port_num = p <= 65535 ? static_cast<unsigned short>(p) : 0;
        }
        if (!addr_ec)
            endpoints = tcp::resolver::results_type::create(tcp::endpoint(addr, port_num), host, port);
        else
        {
            op.resolver = std::make_shared<tcp::resolver>(strand_);
            asio::steady_timer guard(strand_, deadline);
            guard.async_wait([res = op.resolver](error_code ec) {
                if (!ec) res->cancel();
            });
            auto [rec, results] = co_await op.resolver->async_resolve(host, port, use_nothrow_awaitable);
            guard.cancel();
            if (rec)
            {
                const bool timed_out = rec == asio::error::operation_aborted && !op.cancelled;
                r.ec = timed_out ? error_code(client_errc::timeout) : rec;
                r.what = timed_out ? "resolving " + peer + " timed out after " + ms_text(opts_.timeouts.connect)
                                   : "resolving " + peer + " failed: " + rec.message();
                co_return r;
            }
            endpoints = std::move(results);
        }

        const auto remaining = std::max(std::chrono::duration_cast<std::chrono::milliseconds>(
                                            deadline - std::chrono::steady_clock::now()),
                                        std::chrono::milliseconds{1});
        conn.lowest().expires_after(remaining);
        auto [cec, ep] = co_await conn.lowest().async_connect(endpoints, use_nothrow_awaitable);
        if (cec)
        {
            r.ec = cec == beast::error::timeout ? error_code(client_errc::timeout) : cec;
            r.what = cec == beast::error::timeout
                         ? "connect to " + peer + " timed out after " + ms_text(opts_.timeouts.connect)
                         : "connect to " + peer + " failed: " + cec.message();
            co_return r;
        }
        ++connections_opened_;
        conn.lowest().socket().set_option(tcp::no_delay(true), addr_ec);
        if (proxy)
        {
            // CONNECT for http:// origins too: one path for both, the request head (and its
            // bearer token) is never rewritten for the proxy, and a tunnel pools like a connection.
            const std::string authority =
                (origin_.host.find(':') != std::string::npos ? "[" + origin_.host + "]" : origin_.host) + ":" + origin_.port;
            const auto left = std::max(std::chrono::duration_cast<std::chrono::milliseconds>(
                                           deadline - std::chrono::steady_clock::now()),
                                       std::chrono::milliseconds{1});
            const std::string_view agent =
                opts_.user_agent.empty() ? std::string_view("kiemidi") : std::string_view(opts_.user_agent);
            auto t = co_await detail::open_tunnel(conn.lowest(), *proxy, authority, agent, left);
            if (t.ec)
            {
                r.ec = t.ec;
                r.what = std::move(t.what);
                if (!t.retryable) r.failure = attempt_failure::local;  // a refusal resending cannot change
                co_return r;
            }
            ++proxy_tunnels_;
        }

        if (conn.tls)
        {
            SSL* ssl_handle = conn.tls->native_handle();
            if (!detail::expect_origin_certificate(ssl_handle, origin_, !opts_.tls.insecure_skip_verify_do_not_use_in_production))
            {
                r.ec = ssl::error::stream_errors::unspecified_system_error;
                r.what = "cannot set up host-name verification for " + origin_.display;
                co_return r;
            }
            conn.lowest().expires_after(opts_.timeouts.tls_handshake);
            auto [hec] = co_await conn.tls->async_handshake(ssl::stream_base::client, use_nothrow_awaitable);
            conn.lowest().expires_never();
            if (hec)
            {
                r.ec = hec == beast::error::timeout ? error_code(client_errc::timeout) : hec;
                if (hec == beast::error::timeout)
                    r.what = "TLS handshake with " + origin_.display + " timed out after " +
                             ms_text(opts_.timeouts.tls_handshake);
                else
                {
                    r.what = "TLS handshake with " + origin_.display + " failed: " + hec.message();
                    const long vr = SSL_get_verify_result(ssl_handle);
                    if (vr != X509_V_OK)
                    {
                        r.what += std::string(" (certificate: ") + X509_verify_cert_error_string(vr) + ")";
                        r.failure = attempt_failure::local;  // a rejected certificate will not improve by retrying
                    }
                }
                co_return r;
            }
            ++tls_handshakes_;
        }
        else
            conn.lowest().expires_never();
        co_return r;
    }

    void close_all()
    {
        closed_ = true;
        for (auto* op : std::vector<http_client_operation*>(ops_.begin(), ops_.end())) op->cancel();
        limiter_.cancel();
        pool_.close();
    }

    asio::any_io_executor ex_;
    asio::strand<asio::any_io_executor> strand_;
    transport_options opts_;
    error_code config_ec_;
    std::string config_why_;
    detail::origin origin_;
    detail::proxy_choice proxy_;  // empty proxy: direct
    std::shared_ptr<ssl::context> ssl_ctx_;
    rate_limiter limiter_;
    retry_policy policy_;

    // strand-only state
    detail::connection_pool pool_;
    bool closed_ = false;
    std::set<http_client_operation*> ops_;  // running operations (each removes itself before completing)

    // counters, readable from any thread
    std::atomic<bool> close_requested_{false};
    std::atomic<std::uint64_t> connections_opened_{0}, tls_handshakes_{0}, requests_sent_{0}, retries_{0},
        throttled_{0}, proxy_tunnels_{0};
    std::atomic<std::size_t> in_flight_{0};
};

http_client::http_client(executor_type ex, transport_options opts)
    : ex_(ex), impl_(std::make_shared<impl>(std::move(ex), std::move(opts)))
{
}

http_client::~http_client() { close(); }

http_client::executor_type http_client::get_executor() const noexcept { return ex_; }

void http_client::initiate_execute(http_request req, diagnostics& diag,
                                   asio::any_completion_handler<execute_signature> h)
{
    impl_->start(std::move(req), diag, std::move(h));
}

void http_client::close()
{
    if (impl_->close_requested_.exchange(true)) return;
    asio::post(impl_->strand_, [self = impl_] { self->close_all(); });
}

http_client_stats http_client::stats() const
{
    http_client_stats s;
    s.connections_opened = impl_->connections_opened_;
    s.tls_handshakes = impl_->tls_handshakes_;
    s.requests_sent = impl_->requests_sent_;
    s.retries = impl_->retries_;
    s.throttled = impl_->throttled_;
    s.stale_discarded = impl_->pool_.stale_discarded();
    s.proxy_tunnels = impl_->proxy_tunnels_;
    const auto ls = impl_->limiter_.stats();
    s.limiter_penalties = ls.penalties;
    s.limiter_waiting = ls.waiting;
    s.limiter_budget = ls.budget;
    s.in_flight = impl_->in_flight_;
    s.open_connections = impl_->pool_.open_count();
    s.idle_connections = impl_->pool_.idle_count();
    return s;
}

}  // namespace kiemidi
