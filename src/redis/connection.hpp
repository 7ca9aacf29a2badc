// kiemidi::redis::connection: one long-lived connection to a Redis server through hiredis'
// asynchronous API, driven by Asio (the socket is watched with stream_descriptor::async_wait on
// a strand), so no thread ever blocks on Redis.
//
// It reconnects by itself with backoff; while it is away, commands fail at once with
// redis_errc::not_connected instead of queueing, so callers can fall back (the callback hub keeps
// working locally and waits fall back to polling). A connection is either a command connection
// or, after the first async_subscribe, a subscriber connection (Redis' rule, not ours).
// Internal: users reach Redis through redis_callback_hub and redis_batch_claims, which own theirs.
#ifndef KIEMIDI_SRC_REDIS_CONNECTION_HPP
#define KIEMIDI_SRC_REDIS_CONNECTION_HPP

#include <kiemidi/config.hpp>
#include <kiemidi/diagnostics.hpp>
#include <kiemidi/error.hpp>
#include <kiemidi/redis/connection_options.hpp>
#include <kiemidi/redis/error.hpp>

#include "reply.hpp"

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/async_result.hpp>

#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace kiemidi::redis {

/// Called (on the connection's strand, never inside hiredis) for each pub/sub message: channel, payload.
using message_handler = std::function<void(const std::string& channel, const std::string& payload)>;
/// Called (on the connection's strand) whenever the connection comes up (true) or goes away (false).
using state_handler = std::function<void(bool connected)>;

/// One Redis connection with automatic reconnection.
///
/// @par Object lifetimes
/// Arguments are copied. `diag` (when given) must outlive the operation. Pending operations hold
/// the internal state, not the connection object: destroying the connection completes them with
/// redis_errc::closed. The io_context must outlive the connection object.
///
/// @par Cancellation
/// async_connect, async_command and async_subscribe honour terminal, partial and total
/// cancellation and then complete with boost::asio::error::operation_aborted. A cancelled command may
/// already have been sent and may still run on the server; its reply is discarded.
///
/// @par Thread safety
/// Every member function may be called concurrently from any thread; all work runs on an
/// internal strand and handlers are posted, never invoked inline.
class connection
{
public:
    using executor_type = boost::asio::any_io_executor;
    using connect_signature = void(error_code);
    using command_signature = void(error_code, reply);

    /// Prepares a connection; nothing happens before async_connect (or start()).
    KIEMIDI_DECL connection(executor_type ex, connection_options opts = {});
    /// Calls close().
    KIEMIDI_DECL ~connection();
    connection(const connection&) = delete;
    connection& operator=(const connection&) = delete;

    executor_type get_executor() const noexcept { return ex_; }

    /// Starts connecting (and reconnecting, per the options) without waiting; idempotent.
    KIEMIDI_DECL void start();

    /// Starts the connection if needed and waits until it is up.
    ///
    /// @par Handler signature
    /// void(error_code). Completes at once when already connected; otherwise after the next
    /// connect attempt: success, or redis_errc::connect_failed / timeout (the connection keeps
    /// retrying in the background) or redis_errc::closed.
    template <boost::asio::completion_token_for<connect_signature> Token = boost::asio::default_completion_token_t<executor_type>>
    auto async_connect(diagnostics& diag, Token&& token = {})
    {
        return boost::asio::async_initiate<Token, connect_signature>(
            [this](auto handler, diagnostics* d) { start_connect(d, boost::asio::any_completion_handler<connect_signature>(std::move(handler))); },
            token, &diag);
    }
    /// \copydoc async_connect(diagnostics&, Token&&)
    template <boost::asio::completion_token_for<connect_signature> Token = boost::asio::default_completion_token_t<executor_type>>
    auto async_connect(Token&& token = {})
    {
        return boost::asio::async_initiate<Token, connect_signature>(
            [this](auto handler) { start_connect(nullptr, boost::asio::any_completion_handler<connect_signature>(std::move(handler))); },
            token);
    }

    /// Sends one command, e.g. {"SET", key, value, "NX", "PX", "60000"} (binary-safe arguments).
    ///
    /// @par Handler signature
    /// void(error_code, reply). An error reply completes with redis_errc::server_error and the
    /// reply (type error) still carries Redis' message. Other errors: not_connected (nothing was
    /// sent), connection_lost, timeout, subscribed, closed, invalid_argument.
    template <boost::asio::completion_token_for<command_signature> Token = boost::asio::default_completion_token_t<executor_type>>
    auto async_command(std::vector<std::string> args, diagnostics& diag, Token&& token = {})
    {
        return boost::asio::async_initiate<Token, command_signature>(
            [this](auto handler, std::vector<std::string> a, diagnostics* d) {
                start_command(std::move(a), d, boost::asio::any_completion_handler<command_signature>(std::move(handler)));
            },
            token, std::move(args), &diag);
    }
    /// \copydoc async_command(std::vector<std::string>, diagnostics&, Token&&)
    template <boost::asio::completion_token_for<command_signature> Token = boost::asio::default_completion_token_t<executor_type>>
    auto async_command(std::vector<std::string> args, Token&& token = {})
    {
        return boost::asio::async_initiate<Token, command_signature>(
            [this](auto handler, std::vector<std::string> a) {
                start_command(std::move(a), nullptr, boost::asio::any_completion_handler<command_signature>(std::move(handler)));
            },
            token, std::move(args));
    }

    /// Subscribes to `channels` and switches this connection to subscriber mode for good: from
    /// then on it accepts no ordinary command (redis_errc::subscribed). The subscription is
    /// renewed after each reconnect; messages published while disconnected are lost (pub/sub
    /// has no memory), so users keep another way to catch up (see state_handler).
    ///
    /// @par Handler signature
    /// void(error_code): once Redis confirmed every channel, or not_connected, connection_lost,
    /// timeout, closed. The channels stay registered even on error and are subscribed at the next connect.
    template <boost::asio::completion_token_for<connect_signature> Token = boost::asio::default_completion_token_t<executor_type>>
    auto async_subscribe(std::vector<std::string> channels, Token&& token = {})
    {
        return boost::asio::async_initiate<Token, connect_signature>(
            [this](auto handler, std::vector<std::string> c) {
                start_subscribe(std::move(c), boost::asio::any_completion_handler<connect_signature>(std::move(handler)));
            },
            token, std::move(channels));
    }

    /// Sets the pub/sub message handler (before async_subscribe). Runs on the internal strand;
    /// it must not block.
    KIEMIDI_DECL void set_message_handler(message_handler h);
    /// Sets the handler told when the connection comes up (after re-subscribing, for a
    /// subscriber) or goes away. Runs on the internal strand; it must not block.
    KIEMIDI_DECL void set_state_handler(state_handler h);

    /// Disconnects, stops reconnecting and completes every pending operation with redis_errc::closed.
    KIEMIDI_DECL void close();

    /// True while connected (for a subscriber: subscribed).
    KIEMIDI_DECL bool is_connected() const noexcept;

    /// A snapshot of the counters.
    KIEMIDI_DECL connection_stats stats() const;

private:
    KIEMIDI_DECL void start_connect(diagnostics* diag, boost::asio::any_completion_handler<connect_signature> handler);
    KIEMIDI_DECL void start_command(std::vector<std::string> args, diagnostics* diag,
                                    boost::asio::any_completion_handler<command_signature> handler);
    KIEMIDI_DECL void start_subscribe(std::vector<std::string> channels, boost::asio::any_completion_handler<connect_signature> handler);

    struct impl;
    executor_type ex_;
    std::shared_ptr<impl> impl_;
};

}  // namespace kiemidi::redis

#endif
