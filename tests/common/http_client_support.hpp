// What the http_client integration tests share: the client's options against a scripted server
// on 127.0.0.1 (short retry delays and timeouts), request builders for a read and a paid
// submission, the check that the bearer token never reaches an error, and a port nothing listens on.
#ifndef KIEMIDI_TESTS_COMMON_HTTP_CLIENT_SUPPORT_HPP
#define KIEMIDI_TESTS_COMMON_HTTP_CLIENT_SUPPORT_HPP

#include <kiemidi/http_client.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <cstdint>
#include <string>

namespace kiemidi::test {

/// The bearer token of every test client; no diagnostic may contain it.
inline const std::string token = "kiemidi-test-SECRET-token-5f2c9a";

inline transport_options options_for(const std::string& base_url)
{
    using namespace std::chrono_literals;
    transport_options o;
    o.base_url = base_url;
    o.bearer_token = token;
    o.pool_size = 4;
    o.retry.base_delay = 1ms;
    o.retry.max_delay = 5ms;
    o.rate_limit.window = 20ms;
    o.timeouts.connect = 2000ms;
    o.timeouts.tls_handshake = 2000ms;
    o.timeouts.write = 2000ms;
    o.timeouts.read = 2000ms;
    return o;
}

inline http_request get(std::string target = "/api/v1/thing/record-info?taskId=t1")
{
    return http_request{http_method::get, std::move(target), {}, request_kind::read};
}

inline http_request paid(std::string body = R"({"taskId":"t1"})")
{
    return http_request{http_method::post, "/api/v1/thing/generate", std::move(body), request_kind::paid_submission};
}

inline void check_no_token(const error_code& ec, const diagnostics& diag)
{
    BOOST_TEST(diag.to_string().find(token) == std::string::npos);
    BOOST_TEST(diag.client_message().find(token) == std::string::npos);
    BOOST_TEST(diag.endpoint().find(token) == std::string::npos);
    BOOST_TEST(ec.message().find(token) == std::string::npos);
}

/// A TCP port on 127.0.0.1 that nothing listens on (bound, then released).
inline std::uint16_t closed_port(boost::asio::io_context& ioc)
{
    boost::asio::ip::tcp::acceptor a(ioc, boost::asio::ip::tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), 0));
    const auto port = a.local_endpoint().port();
    a.close();
    return port;
}

}  // namespace kiemidi::test

#endif
