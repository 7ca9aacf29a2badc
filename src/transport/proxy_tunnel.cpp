// CONNECT through an HTTP proxy (see proxy_tunnel.hpp).
#include "proxy_tunnel.hpp"

#include "../nothrow_awaitable.hpp"

#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>

namespace asio = boost::asio;

namespace kiemidi::detail {

namespace beast = boost::beast;
namespace http = boost::beast::http;

asio::awaitable<tunnel_result> open_tunnel(beast::tcp_stream& stream, const proxy_endpoint& proxy,
                                           std::string_view authority, std::string_view user_agent,
                                           std::chrono::milliseconds deadline)
{
    tunnel_result r;
    const std::string proxy_name = "proxy " + proxy.display;
    const std::string request = "CONNECT " + std::string(authority);
    std::string head;
    head.append("CONNECT ").append(authority).append(" HTTP/1.1\r\nHost: ").append(authority);
    head.append("\r\nUser-Agent: ").append(user_agent).append("\r\n");
    if (!proxy.authorization.empty()) head.append("Proxy-Authorization: ").append(proxy.authorization).append("\r\n");
    head.append("\r\n");

    stream.expires_after(deadline);
    auto [wec, wn] = co_await asio::async_write(stream, asio::buffer(head), use_nothrow_awaitable);
    if (wec)
    {
        r.ec = wec == beast::error::timeout ? error_code(client_errc::timeout) : wec;
        r.retryable = true;
        r.what = proxy_name + (wec == beast::error::timeout ? ": writing " + request + " timed out"
                                                            : ": writing " + request + " failed: " + wec.message());
        co_return r;
    }
    // A 2xx answer to CONNECT has no body whatever its headers say (RFC 9110 9.3.6): skip() tells
    // the parser so, and it stops at the end of the head. The buffer is ours: anything past the
    // head would be the origin speaking before TLS began, which is refused below.
    beast::flat_buffer buffer;
    http::response_parser<http::empty_body> parser;
    parser.skip(true);
    parser.header_limit(16 * 1024);
    auto [rec, rn] = co_await http::async_read_header(stream, buffer, parser, use_nothrow_awaitable);
    stream.expires_never();
    if (rec)
    {
        r.retryable = rec != asio::error::operation_aborted;
        if (rec == beast::error::timeout)
        {
            r.ec = client_errc::timeout;
            r.what = proxy_name + ": no answer to " + request + " in time";
        }
        else if (rec == http::error::end_of_stream || rec == asio::error::eof || rec == asio::error::connection_reset)
        {
            r.ec = client_errc::proxy_refused;
            r.what = proxy_name + " closed the connection without answering " + request;
        }
        else
        {
            r.ec = rec;
            r.what = proxy_name + ": reading the answer to " + request + " failed: " + rec.message();
        }
        co_return r;
    }
    const auto& res = parser.get();
    r.status = res.result_int();
    if (r.status / 100 == 2)
    {
        if (buffer.size() != 0)
        {
            r.ec = client_errc::proxy_refused;
            r.what = proxy_name + " sent unexpected bytes after accepting " + request;
        }
        co_return r;
    }
    r.ec = client_errc::proxy_refused;
    r.retryable = r.status / 100 == 5;  // the proxy could not reach the origin (502, 503, 504): may pass
    const std::string reason(res.reason());
    r.what = proxy_name + " refused " + request + ": HTTP " + std::to_string(r.status) + (reason.empty() ? "" : " " + reason);
    if (r.status == 407 || r.status == 401)  // 407 by the standard; some proxies (tinyproxy) answer CONNECT with 401
        r.what += proxy.authorization.empty() ? "; the proxy wants credentials: http://user:password@host:port"
                                              : "; the proxy did not accept the credentials of the proxy URL";
    co_return r;
}

}  // namespace kiemidi::detail
