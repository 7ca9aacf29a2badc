// A scriptable HTTP/HTTPS server on 127.0.0.1 for transport tests.
//
// Each request consumes the next scripted_response (or the default one): status, body, delay,
// Retry-After, or misbehaviour such as closing the connection after reading the request.
// It counts accepted connections and requests, records what it received, generates its own
// CA and certificate at run time (make_test_pki) and lets tests wait on events, never on time.
#ifndef KIEMIDI_TESTS_COMMON_TEST_HTTP_SERVER_HPP
#define KIEMIDI_TESTS_COMMON_TEST_HTTP_SERVER_HPP

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace kiemidi::test {

/// A fresh CA and a server certificate it signed (PEM).
struct test_pki
{
    std::string ca_cert_pem;  ///< The CA certificate clients should trust.
    std::string cert_pem;     ///< The server certificate.
    std::string key_pem;      ///< The server certificate's private key.
};

/// Generates a CA and a server certificate for the given DNS names and IP addresses (SAN).
test_pki make_test_pki(const std::vector<std::string>& dns_names, const std::vector<std::string>& ip_addresses);

/// A self-signed server certificate (its own CA, as `openssl req -x509` makes): ca_cert_pem == cert_pem.
test_pki make_self_signed_pki(const std::vector<std::string>& dns_names, const std::vector<std::string>& ip_addresses);

/// What the server does with one request.
enum class server_action
{
    answer,                       ///< Answer with the scripted status/body.
    close_after_reading_request,  ///< Read the whole request, then close without answering.
    close_before_reading,         ///< Close the connection before reading the request.
};

/// The server's behaviour for one request.
struct scripted_response
{
    server_action action = server_action::answer;  ///< What to do.
    unsigned status = 200;                          ///< HTTP status.
    std::string body = "{}";                        ///< Body (sent as application/json).
    std::chrono::milliseconds delay{0};             ///< Wait this long before answering (cancelled by stop()).
    std::optional<std::string> retry_after;         ///< Retry-After header value.
    bool keep_alive = true;                         ///< false: "Connection: close" and close after answering.
    bool close_after_answer = false;                ///< Close after answering although keep-alive was announced.
};

/// A request as the server received it.
struct recorded_request
{
    std::string method;                          ///< "GET", "POST".
    std::string target;                          ///< Request target.
    std::string body;                            ///< Body.
    std::map<std::string, std::string> headers;  ///< Header fields, names lower-cased.
};

/// Server settings.
struct test_server_options
{
    bool tls = false;        ///< Serve HTTPS with cert_pem/key_pem.
    std::string cert_pem;    ///< Server certificate (TLS).
    std::string key_pem;     ///< Server key (TLS).
    bool stall = false;      ///< Accept connections but never read or handshake (timeouts).
};

/// The server. Single io_context thread assumed (tests).
class test_http_server
{
public:
    test_http_server(boost::asio::any_io_executor ex, test_server_options opts = {});
    ~test_http_server();
    test_http_server(const test_http_server&) = delete;
    test_http_server& operator=(const test_http_server&) = delete;

    /// Binds 127.0.0.1 on an ephemeral port and starts accepting.
    void start();
    /// Closes the acceptor and every connection; pending delays end.
    void stop();

    /// The bound port.
    std::uint16_t port() const;
    /// "http://127.0.0.1:<port>" or "https://127.0.0.1:<port>".
    std::string base_url() const;

    /// Appends a behaviour for the next unscripted request.
    void push(scripted_response r);
    /// The behaviour once the script is used up.
    void set_default(scripted_response r);

    std::size_t connections_accepted() const;      ///< TCP connections accepted.
    std::size_t connections_closed() const;        ///< Connections that have ended.
    std::size_t tls_handshakes() const;            ///< Successful TLS handshakes.
    std::size_t failed_tls_handshakes() const;     ///< Failed TLS handshakes.
    std::size_t requests_received() const;         ///< Requests read completely.
    std::size_t max_concurrent_connections() const;///< Peak of simultaneously open connections.
    std::vector<recorded_request> requests() const;///< Every request read, in order.

    /// Completes once `pred()` holds; re-checked after every server event.
    boost::asio::awaitable<void> wait_until(const std::function<bool()>& pred);

    struct impl;

private:
    std::shared_ptr<impl> impl_;
};

}  // namespace kiemidi::test

#endif
