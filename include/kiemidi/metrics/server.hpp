/// @file
/// An opt-in HTTP endpoint for Prometheus on its own port (`GET /metrics`), for backends that
/// have no HTTP server of their own to expose metrics::render_prometheus on.
#ifndef KIEMIDI_METRICS_SERVER_HPP
#define KIEMIDI_METRICS_SERVER_HPP

#include <kiemidi/config.hpp>
#include <kiemidi/default_token.hpp>
#include <kiemidi/error.hpp>

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/async_result.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

namespace kiemidi::metrics {

/// Where a metrics::server listens and what it serves.
struct server_options
{
    /// The address to listen on. Loopback by default: exposing it further is the operator's choice.
    std::string address = "127.0.0.1";
    /// The port; 0 picks a free one (see server::port()).
    std::uint16_t port = 0;
    /// The path the exposition is served on; any other answers 404.
    std::string path = "/metrics";
    /// When not empty, requests must carry `Authorization: Bearer <bearer_token>` (else 401).
    std::string bearer_token;
    /// Deadline for reading one request and for writing its answer; a slow peer is disconnected.
    std::chrono::milliseconds timeout{10'000};
    /// Largest request header accepted (a request with a body is refused).
    std::size_t max_request_size = 8 * 1024;
    /// Connections served at once; more are closed at once.
    std::size_t max_connections = 16;
    /// How long server::async_stop lets answers being written finish before it closes what is
    /// left (cancelling the stop closes it at once).
    std::chrono::milliseconds stop_grace{5'000};
};

/// Serves `render()` (e.g. `[&] { return metrics::render_prometheus(metrics::collect(kie)); }`)
/// as Prometheus text exposition on GET (and HEAD) of options.path.
///
/// @par Answers
/// 200 with Content-Type text/plain; version=0.0.4; 401 (with WWW-Authenticate: Bearer) when a
/// bearer token is set and the request's is missing or wrong; 404 any other path; 405 any other
/// method; 400 an unparsable or oversized request (then the connection is closed).
///
/// @par Starting and stopping
/// start(error_code&) binds and listens; `co_await srv.async_stop()` stops gracefully, in the shape
/// every embedded server of kiemidi shares (see callback_listener).
///
/// @par Thread safety
/// start, async_stop and port() may be called from any thread. render() is called on the
/// server's strand, one request at a time.
///
/// @par Object lifetimes
/// `render` and what it reads must stay valid until async_stop completes (then nothing of the
/// server runs and it may be destroyed at once). Destroying the server without async_stop closes
/// everything without waiting: `render` is not called any more, but its handlers end later.
class server
{
public:
    /// The executor type of the server's socket and strand.
    using executor_type = boost::asio::any_io_executor;
    /// Produces one exposition (e.g. `[&] { return render_prometheus(collect(kie)); }`).
    using render_function = std::function<std::string()>;

    /// A server on `ex` answering GET `opts.path` with `render()`'s text; nothing is bound until
    /// async_start.
    KIEMIDI_DECL server(executor_type ex, server_options opts, render_function render);
    /// Stops serving (without waiting for a request being answered to finish).
    KIEMIDI_DECL ~server();
    /// Not copyable.
    server(const server&) = delete;
    /// Not copy-assignable.
    server& operator=(const server&) = delete;

    /// Binds and listens synchronously (port() is known when it returns), then serves in the
    /// background. Errors: the bind's (e.g. address_in_use), an invalid address,
    /// boost::asio::error::already_started when called twice or after a stop.
    KIEMIDI_DECL void start(error_code& ec);
    /// Same as start(error_code&), but throws boost::system::system_error on failure.
    KIEMIDI_DECL void start();

    /// Graceful stop: no new connection is accepted, connections waiting for a request are
    /// closed, an answer being written is finished (then its connection closes); after
    /// server_options::stop_grace whatever is left is closed.
    ///
    /// @par Handler signature
    /// void(error_code), once nothing of the server runs any more (render() is never called
    /// again): success, boost::asio::error::timed_out (the grace ran out and the rest was closed) or
    /// boost::asio::error::operation_aborted (this stop was cancelled).
    /// @par Cancellation
    /// terminal, partial and total: closes whatever is left at once; still completes only when
    /// nothing of the server runs.
    template <boost::asio::completion_token_for<void(error_code)> Token = kiemidi::default_token_t<executor_type>>
    auto async_stop(Token&& token = {})
    {
        return boost::asio::async_initiate<Token, void(error_code)>(
            [this](auto handler) { start_stop(boost::asio::any_completion_handler<void(error_code)>(std::move(handler))); },
            token);
    }

    /// The bound port (valid once start() succeeded).
    KIEMIDI_DECL std::uint16_t port() const noexcept;

    struct impl;

private:
    KIEMIDI_DECL void start_stop(boost::asio::any_completion_handler<void(error_code)> h);
    std::shared_ptr<impl> impl_;
};

}  // namespace kiemidi::metrics

#endif
