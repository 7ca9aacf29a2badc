/// @file
/// kiemidi transport: a pooled HTTP/1.1 client for one origin (the base URL's scheme, host, port).
///
/// async_execute = rate limiter (paid submissions only) → pooled keep-alive connection → write →
/// read, with a deadline on every step and retries per retry_policy. TLS is verified by default.
/// Nothing here knows KIE: the caller supplies targets and bodies and reads status and body.
#ifndef KIEMIDI_HTTP_CLIENT_HPP
#define KIEMIDI_HTTP_CLIENT_HPP

#include <kiemidi/config.hpp>
#include <kiemidi/default_token.hpp>
#include <kiemidi/diagnostics.hpp>
#include <kiemidi/error.hpp>
#include <kiemidi/http_message.hpp>
#include <kiemidi/transport_options.hpp>

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/async_result.hpp>

#include <cstddef>
#include <cstdint>
#include <memory>

namespace kiemidi {

/// Counters of an http_client (totals since construction, except the last three).
struct http_client_stats
{
    std::uint64_t connections_opened = 0;  ///< TCP connections established.
    std::uint64_t tls_handshakes = 0;      ///< TLS handshakes completed.
    std::uint64_t requests_sent = 0;       ///< Attempts that started writing a request.
    std::uint64_t retries = 0;             ///< Attempts after the first one.
    std::uint64_t throttled = 0;           ///< Answers classified as throttled.
    std::uint64_t stale_discarded = 0;     ///< Idle connections found closed by the peer and discarded before reuse.
    std::uint64_t proxy_tunnels = 0;       ///< CONNECT tunnels the proxy opened (one per pooled connection through it).
    std::uint64_t limiter_penalties = 0;   ///< Throttled answers to paid submissions reported to the rate limiter (each may lower its budget).
    std::size_t limiter_waiting = 0;       ///< Paid submissions waiting for the rate limiter now.
    unsigned limiter_budget = 0;           ///< The rate limiter's current budget per window.
    std::size_t in_flight = 0;             ///< async_execute operations not yet completed.
    std::size_t open_connections = 0;      ///< Connections open or being opened now.
    std::size_t idle_connections = 0;      ///< Open connections waiting in the pool now.
};

/// A pooled HTTP(S) client.
///
/// The base URL and the proxy (transport_options::proxy, by default the environment's) are
/// checked at construction; a bad one (client_errc::invalid_url, or
/// client_errc::insecure_scheme for http:// to a non-loopback host) makes every async_execute
/// fail at once, before any connection attempt.
///
/// Thread safety: all member functions may be called from any thread. Pool, limiter and
/// operations run on one internal strand of the executor, so the io_context may run on several
/// threads; stats() reads atomic counters.
///
/// Object lifetimes: destroying the client (or close()) cancels every pending operation, which
/// then completes with client_errc::shut_down as soon as the executor runs it; the internal
/// state lives until the last such operation has completed, then nothing of it remains.
class http_client
{
public:
    /// The executor type of the client and of its operations' default handlers.
    using executor_type = boost::asio::any_io_executor;
    /// Handler signature of async_execute.
    using execute_signature = void(error_code, http_response);

    /// A client for opts.base_url. Never throws for a bad URL (see class notes); throws
    /// boost::system::system_error only for an unreadable tls.ca_file or malformed tls.ca_pem.
    KIEMIDI_DECL http_client(executor_type ex, transport_options opts);
    /// Calls close().
    KIEMIDI_DECL ~http_client();
    /// Not copyable.
    http_client(const http_client&) = delete;
    /// Not copy-assignable.
    http_client& operator=(const http_client&) = delete;

    /// The executor passed to the constructor.
    KIEMIDI_DECL executor_type get_executor() const noexcept;

    /// Sends `req` and reads the answer, retrying per the retry policy.
    ///
    /// Handler signature: void(error_code, http_response). Success means an answer with verdict
    /// `final` arrived (any status: read response.status), or the retry budget ran out on a
    /// throttled/unavailable/server_error answer (that answer is handed over).
    /// Errors: client_errc::timeout (diag names the step), client_errc::response_too_large,
    /// client_errc::outcome_unknown (paid submission sent, no answer: it may have been processed;
    /// never resent), client_errc::invalid_url, client_errc::insecure_scheme,
    /// client_errc::shut_down, boost::asio::error::operation_aborted (cancelled), or the network / TLS
    /// error of the last attempt, or client_errc::proxy_refused (the proxy answered CONNECT with a
    /// non-2xx status or closed; 407 and 403 are not retried; diag names the proxy, never its
    /// credentials; nothing was sent to KIE). `diag` gets endpoint ("POST /path"), HTTP status and an explanation.
    /// Object lifetimes: `req` is moved in; `diag` must stay valid until the handler runs.
    /// Cancellation: terminal, partial and total all abort the operation (a paid submission
    /// already written is then not resent).
    template <boost::asio::completion_token_for<execute_signature> Token =
                  kiemidi::default_token_t<executor_type>>
    auto async_execute(http_request req, diagnostics& diag, Token&& token = {})
    {
        return boost::asio::async_initiate<Token, execute_signature>(
            [](boost::asio::any_completion_handler<execute_signature> h, http_client* self,
               http_request r, diagnostics* d) { self->initiate_execute(std::move(r), *d, std::move(h)); },
            token, this, std::move(req), &diag);
    }

    /// Cancels pending operations (they complete with client_errc::shut_down) and closes every
    /// connection. Later async_execute calls fail with client_errc::shut_down.
    KIEMIDI_DECL void close();

    /// A snapshot of the counters.
    KIEMIDI_DECL http_client_stats stats() const;

    struct impl;

private:
    KIEMIDI_DECL void initiate_execute(http_request req, diagnostics& diag,
                                       boost::asio::any_completion_handler<execute_signature> h);
    executor_type ex_;
    std::shared_ptr<impl> impl_;
};

}  // namespace kiemidi

#endif
