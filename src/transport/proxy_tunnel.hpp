// The CONNECT step through an HTTP proxy: on a TCP connection to the proxy, asks for a tunnel to
// the origin and reads the proxy's answer. After a 2xx the connection carries the origin's bytes
// (TLS is then negotiated with the origin itself, by the caller).
#ifndef KIEMIDI_SRC_TRANSPORT_PROXY_TUNNEL_HPP
#define KIEMIDI_SRC_TRANSPORT_PROXY_TUNNEL_HPP

#include "proxy_settings.hpp"

#include <kiemidi/error.hpp>

#include <boost/asio/awaitable.hpp>
#include <boost/beast/core/tcp_stream.hpp>

#include <chrono>
#include <string>
#include <string_view>

namespace kiemidi::detail {

/// How a CONNECT ended.
struct tunnel_result
{
    error_code ec;           ///< Empty: the tunnel is open. client_errc::proxy_refused, client_errc::timeout, or the I/O error.
    unsigned status = 0;     ///< The proxy's HTTP status, when it answered.
    bool retryable = false;  ///< With ec: trying again may help (5xx, closed, timeout); 407 / 403 / other 4xx will not.
    std::string what;        ///< For diagnostics: names the proxy and the target, never the credentials.
};

/// Sends "CONNECT `authority` HTTP/1.1" (with Proxy-Authorization when `proxy` has credentials)
/// on `stream`, connected to the proxy, and reads the answer's head, all within `deadline`.
/// Nothing of the origin's request has been written when this fails. Cancellation: cancel the
/// stream (the caller's usual way), which ends the wait with operation_aborted.
boost::asio::awaitable<tunnel_result> open_tunnel(boost::beast::tcp_stream& stream, const proxy_endpoint& proxy,
                                                  std::string_view authority, std::string_view user_agent,
                                                  std::chrono::milliseconds deadline);

}  // namespace kiemidi::detail

#endif
