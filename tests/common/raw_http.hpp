// Minimal raw HTTP(S) client and callback receiver for tests (127.0.0.1 only).
// They speak plain HTTP/1.1 with Beast inside raw_http.cpp, independent of kiemidi's transport,
// so emulator tests can observe exact status codes, headers, bodies and connection resets.
#ifndef KIEMIDI_TESTS_COMMON_RAW_HTTP_HPP
#define KIEMIDI_TESTS_COMMON_RAW_HTTP_HPP

#include <kiemidi/error.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/json/value.hpp>

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace kiemidi::test {

struct raw_request
{
    std::string method = "GET";
    std::string target;                          ///< "/api/v1/...?taskId=..."
    std::string body;
    std::optional<std::string> bearer;           ///< Authorization: Bearer <bearer> when set
    std::map<std::string, std::string> headers;  ///< extra headers
};

struct raw_response
{
    unsigned status = 0;
    std::string body;
    std::map<std::string, std::string> headers;  ///< lower-case names
    /// The body parsed as JSON (throws on invalid JSON).
    boost::json::value json() const;
    /// The body's "code" (throws when absent).
    std::int64_t code() const;
};

/// One keep-alive connection to 127.0.0.1:port; HTTPS when `ca_pem` is set (peer verified against it,
/// host name checked against `host_name`).
class raw_client
{
public:
    raw_client(boost::asio::any_io_executor ex, std::uint16_t port, std::optional<std::string> ca_pem = {},
               std::string host_name = "localhost");
    ~raw_client();
    /// Sends one request (connecting first if needed); ec is set on connection errors/resets.
    boost::asio::awaitable<error_code> try_request(const raw_request& req, raw_response& out);
    /// Same, but throws on error.
    boost::asio::awaitable<raw_response> request(const raw_request& req);
    /// Connections opened so far.
    std::size_t connects() const;
    void close();

    struct impl;

private:
    std::shared_ptr<impl> impl_;
};

/// A plain TCP connection to 127.0.0.1:port that sends arbitrary bytes (partial, malformed or
/// pipelined HTTP) and reads answers or the peer's close. Every step has its own deadline.
class raw_connection
{
public:
    raw_connection(boost::asio::any_io_executor ex, std::uint16_t port);
    ~raw_connection();
    raw_connection(raw_connection&&) noexcept;
    raw_connection& operator=(raw_connection&&) noexcept;
    /// Connects (within 10 s).
    boost::asio::awaitable<error_code> connect();
    /// Writes all of `bytes` (within 10 s).
    boost::asio::awaitable<error_code> write(std::string bytes);
    /// Writes all of `bytes`, which the caller keeps alive until the write completes (within 10 s).
    /// Copies nothing, so a test that measures memory does not count its own traffic.
    boost::asio::awaitable<error_code> write_borrowed(std::string_view bytes);
    /// Reads one HTTP response (within 10 s); bytes after it stay buffered for the next call.
    /// `head_request`: the answer belongs to a HEAD request, so it has no body.
    boost::asio::awaitable<error_code> read_response(raw_response& out, bool head_request = false);
    /// Reads and discards until the peer closes or `limit` passes. Returns the error that ended
    /// reading: eof or connection_reset when the peer closed, timed_out when `limit` passed.
    /// `received` (optional) gets the number of bytes that arrived meanwhile.
    boost::asio::awaitable<error_code> wait_closed(std::chrono::milliseconds limit, std::size_t* received = nullptr);
    /// True until close() or a failed connect.
    bool is_open() const;
    void close();

    struct impl;

private:
    std::unique_ptr<impl> impl_;
};

/// A received callback.
struct received_callback
{
    std::string target;
    std::string body;
    std::map<std::string, std::string> headers;  ///< lower-case names
    boost::json::value json() const;
};

/// A callback receiver on 127.0.0.1 (HTTP, or HTTPS with the given PEM certificate chain and key).
class callback_receiver
{
public:
    struct tls_files { std::string cert_pem; std::string key_pem; };
    explicit callback_receiver(boost::asio::any_io_executor ex, std::optional<tls_files> tls = {});
    ~callback_receiver();
    std::uint16_t port() const;
    /// "http://127.0.0.1:<port><path>" (https when TLS).
    std::string url(const std::string& path = "/callback") const;
    /// Waits for the next callback (in arrival order).
    boost::asio::awaitable<received_callback> next();
    /// Callbacks received so far (including those already taken by next()).
    std::size_t received() const;
    /// HTTP status to answer with (default 200).
    void set_status(unsigned status);
    /// When set, requests are read but never answered (the connection stays open).
    void set_hang(bool hang);
    /// Connections currently held open without an answer.
    std::size_t hanging() const;
    /// Waits until at least `n` requests are hanging.
    boost::asio::awaitable<void> wait_hanging(std::size_t n);
    void stop();

    struct impl;

private:
    std::shared_ptr<impl> impl_;
};

}  // namespace kiemidi::test

#endif
