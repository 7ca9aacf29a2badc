/// @file
/// kiemidi callback listener: the HTTP(S) endpoint KIE POSTs task callbacks to.
///
/// It accepts POST only on `/kiemidi/callback/<secret>/{separation|midi}`, enforces size and time
/// limits, verifies KIE's webhook signature when a key is configured, hands each verified callback
/// to a callback_hub and answers 200 at once (KIE allows 15 s). It never waits on user code:
/// waiters are resumed by the hub through their own executors.
#ifndef KIEMIDI_CALLBACK_LISTENER_HPP
#define KIEMIDI_CALLBACK_LISTENER_HPP

#include <kiemidi/callback_hub.hpp>
#include <kiemidi/config.hpp>
#include <kiemidi/default_token.hpp>
#include <kiemidi/error.hpp>
#include <kiemidi/listener_options.hpp>

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/async_result.hpp>

#include <cstdint>
#include <memory>
#include <string>

namespace kiemidi {

/// Counters since construction (a snapshot; each field is read atomically).
/// A listener's callbacks of one kind (separation or MIDI), by what became of them.
struct listener_kind_stats
{
    std::uint64_t accepted = 0;    ///< Verified and answered 200 (duplicates included).
    std::uint64_t duplicates = 0;  ///< Verified, but the hub had this kind and task id already.
    std::uint64_t forged = 0;      ///< 401: missing or wrong webhook signature.
    std::uint64_t stale = 0;       ///< 401: signature timestamp outside the freshness window.
};

/// The listener's counters (callback_listener::stats()): connections and callbacks, by outcome.
struct listener_stats
{
    std::uint64_t accepted_connections = 0;   ///< TCP connections accepted (including those refused for capacity).
    std::uint64_t open_connections = 0;       ///< Connections open right now.
    std::uint64_t refused_over_capacity = 0;  ///< New connections closed at once: max_connections were open, none idle.
    std::uint64_t evicted_idle = 0;           ///< Idle connections closed to make room for a new one at max_connections.
    std::uint64_t tls_handshake_failures = 0; ///< HTTPS connections whose handshake failed or timed out.
    std::uint64_t callbacks_accepted = 0;     ///< Verified callbacks answered 200 (including duplicates).
    std::uint64_t duplicates = 0;             ///< Verified callbacks the hub dropped as duplicates.
    std::uint64_t buffered = 0;               ///< Verified callbacks the hub buffered (nobody waited yet).
    std::uint64_t rejected_forged = 0;        ///< 401: missing or wrong webhook signature.
    std::uint64_t rejected_stale = 0;         ///< 401: signature timestamp outside the freshness window.
    std::uint64_t not_found = 0;              ///< 404: unknown path or wrong secret.
    std::uint64_t method_not_allowed = 0;     ///< 405: right path, method other than POST.
    std::uint64_t too_large = 0;              ///< 413 (body) or 431 (headers) answers.
    std::uint64_t timeouts = 0;               ///< Connections closed because a header, body or write deadline passed.
    std::uint64_t malformed = 0;              ///< 400: unparsable HTTP or version, invalid JSON, or no task id in the body.
    listener_kind_stats separation;           ///< Callbacks on the separation path, by outcome.
    listener_kind_stats midi;                 ///< Callbacks on the MIDI path, by outcome.
};

/// An embedded HTTP(S) server for KIE callbacks.
///
/// @par Answers
/// 200 `{"code":200,"msg":"success"}` for every verified callback (also duplicates and callbacks
/// nobody waits for yet); 400 unparsable HTTP, an HTTP version other than 1.0 or 1.1, invalid JSON
/// or no task id; 401 bad, missing or stale webhook signature; 404 any other path, including a
/// wrong secret (nothing else is revealed); 405 a method other than POST on the callback path;
/// 413 body over max_body; 431 headers over 16 KiB; 503 when the listener was stopped at once
/// while the request was read. Answers to HEAD carry no
/// body. Slow or silent peers are disconnected without an answer.
///
/// @par Connection cap
/// At most max_connections are served at once. A new connection beyond that replaces the oldest
/// one that has not sent a byte of a request yet (idle keep-alive, silent, or in its TLS
/// handshake); only when none is idle is the new one closed at once. So a flood of idle
/// connections holds no slot KIE needs, and memory and descriptors stay bounded.
///
/// @par Starting and stopping
/// start(error_code&) binds and listens; `co_await listener.async_stop()` stops gracefully (see
/// async_stop). Every embedded server of kiemidi (this listener, the callback hubs,
/// metrics::server, emulator::server) starts and stops in this shape.
///
/// @par Thread safety
/// start(), async_stop(), stop(), port(), callback_url() and stats() may be called from any
/// thread. Each connection runs on its own strand, so the executor's io_context may run on
/// several threads.
///
/// @par Object lifetimes
/// The hub must outlive the listener's work: once async_stop has completed, the listener never
/// calls the hub again and may be destroyed at once. stop() (also run by the destructor) closes
/// everything without waiting; the listener never calls the hub after stop() has returned.
class callback_listener
{
public:
    /// Prepares a listener (nothing is bound yet). `opts` is copied.
    KIEMIDI_DECL callback_listener(boost::asio::any_io_executor ex, listener_options opts, callback_hub& hub);
    /// Runs stop().
    KIEMIDI_DECL ~callback_listener();
    /// Not copyable.
    callback_listener(const callback_listener&) = delete;
    /// Not copy-assignable.
    callback_listener& operator=(const callback_listener&) = delete;

    /// Loads TLS material, binds and listens synchronously, then accepts in the background.
    /// Errors: bind/listen failures (e.g. address_in_use), invalid_argument for a bad address or
    /// path_secret, SSL errors for unusable certificate or key, already_started if called twice.
    KIEMIDI_DECL void start(error_code& ec);
    /// Same as start(error_code&), but throws boost::system::system_error on failure.
    KIEMIDI_DECL void start();
    /// Graceful stop. At once: no new connection is accepted, and connections waiting for a
    /// request (or in their TLS handshake) are closed. A request being read goes on: a callback
    /// verified before the stop began is handed to the hub and answered (with `Connection: close`),
    /// then its connection closes. After listener_options::stop_grace whatever is left is closed.
    ///
    /// @par Handler signature
    /// void(error_code), once nothing of the listener runs any more (no handler of it is pending,
    /// the hub is never called again): success when every request ended within the grace,
    /// boost::asio::error::timed_out when the grace ran out and the rest was closed,
    /// boost::asio::error::operation_aborted when this stop was cancelled. Calling it again (or after
    /// stop()) completes once the same holds.
    /// @par Cancellation
    /// terminal, partial and total: closes whatever is left at once (stop now); the operation still
    /// completes only when nothing of the listener runs.
    template <boost::asio::completion_token_for<void(error_code)> Token = kiemidi::default_token_t<boost::asio::any_io_executor>>
    auto async_stop(Token&& token = {})
    {
        return boost::asio::async_initiate<Token, void(error_code)>(
            [this](auto handler) { start_stop(boost::asio::any_completion_handler<void(error_code)>(std::move(handler))); },
            token);
    }

    /// Stops at once: closes the acceptor and every open connection and returns without waiting
    /// (their handlers end as the executor runs). Idempotent. For a stop that lets requests in
    /// hand finish and says when nothing is left, use async_stop().
    KIEMIDI_DECL void stop();

    /// The bound TCP port (valid after start()).
    KIEMIDI_DECL std::uint16_t port() const;
    /// True when serving HTTPS (a certificate and key were configured).
    KIEMIDI_DECL bool uses_tls() const;
    /// The URL to send as callBackUrl: public base + "/kiemidi/callback/" + secret + "/separation" or "/midi".
    KIEMIDI_DECL std::string callback_url(callback_kind kind) const;
    /// A snapshot of the counters.
    KIEMIDI_DECL listener_stats stats() const;

private:
    KIEMIDI_DECL void start_stop(boost::asio::any_completion_handler<void(error_code)> handler);

    struct impl;
    std::shared_ptr<impl> impl_;
};

}  // namespace kiemidi

#endif
