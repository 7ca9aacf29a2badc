/// @file
/// An opt-in HTTP endpoint for Prometheus on its own port (`GET /metrics`), for backends that
/// have no HTTP server of their own to expose metrics::render_prometheus on.
#ifndef KIEMIDI_METRICS_SERVER_HPP
#define KIEMIDI_METRICS_SERVER_HPP

#include <kiemidi/default_token.hpp>
#include <kiemidi/config.hpp>
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
};

/// Serves `render()` (e.g. `[&] { return metrics::render_prometheus(metrics::collect(kie)); }`)
/// as Prometheus text exposition on GET (and HEAD) of options.path.
///
/// @par Answers
/// 200 with Content-Type text/plain; version=0.0.4; 401 (with WWW-Authenticate: Bearer) when a
/// bearer token is set and the request's is missing or wrong; 404 any other path; 405 any other
/// method; 400 an unparsable or oversized request (then the connection is closed).
///
/// @par Thread safety
/// async_start, async_stop and port() may be called from any thread. render() is called on the
/// server's strand, one request at a time.
///
/// @par Object lifetimes
/// `render` and what it reads must stay valid until async_stop completes (or the server is
/// destroyed: that stops it too, without waiting).
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

    /// Binds and listens, then serves until stopped. Handler: void(error_code) (the bind's error,
    /// or an invalid address; asio::error::operation_aborted when the server was stopped first).
    /// @par Cancellation
    /// Not supported (binding does not wait); stop the server with async_stop.
    template <class Token = kiemidi::default_token_t<executor_type>>
    auto async_start(Token&& token = {})
    {
        return boost::asio::async_initiate<Token, void(error_code)>(
            [this](auto handler) { start_start(std::move(handler)); }, token);
    }

    /// Closes the acceptor and every connection. Handler: void().
    /// @par Cancellation
    /// Not supported: it completes once the acceptor and connections are closed.
    template <class Token = kiemidi::default_token_t<executor_type>>
    auto async_stop(Token&& token = {})
    {
        return boost::asio::async_initiate<Token, void()>([this](auto handler) { start_stop(std::move(handler)); },
                                                          token);
    }

    /// The bound port (valid once async_start completed without error).
    KIEMIDI_DECL std::uint16_t port() const noexcept;

    struct impl;

private:
    KIEMIDI_DECL void start_start(boost::asio::any_completion_handler<void(error_code)> h);
    KIEMIDI_DECL void start_stop(boost::asio::any_completion_handler<void()> h);
    std::shared_ptr<impl> impl_;
};

}  // namespace kiemidi::metrics

#endif
