/// @file
/// kiemidi transport: the plain HTTP request and response the transport carries.
///
/// These are Beast-free value types: the caller states the method, the target (path and query,
/// relative to the client's base URL), the body and whether the request is a paid submission;
/// the transport answers with the status, the body and the parsed Retry-After, if any.
#ifndef KIEMIDI_HTTP_MESSAGE_HPP
#define KIEMIDI_HTTP_MESSAGE_HPP

#include <kiemidi/config.hpp>
#include <kiemidi/error.hpp>

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace kiemidi {

/// The HTTP methods the transport sends.
enum class http_method
{
    get,   ///< GET: reads (record-info, credits).
    post,  ///< POST: submissions; the body is sent as application/json.
};

/// What resending a request costs; drives the retry policy and the rate limiter.
enum class request_kind
{
    read,             ///< Idempotent: safe to resend after any transport failure.
    paid_submission,  ///< Billed: resent only when provably unprocessed; admitted through the rate limiter.
};

/// "GET" or "POST".
KIEMIDI_DECL std::string_view to_string(http_method m) noexcept;

/// One HTTP request, relative to the client's base URL.
struct http_request
{
    http_method method = http_method::get;    ///< The method.
    std::string target;                       ///< Path and query, e.g. "/api/v1/midi/record-info?taskId=abc".
    std::string body;                         ///< Request body (JSON); empty for GET.
    request_kind kind = request_kind::read;   ///< Read or paid submission.
    /// Optional. Awaited once, on the transport's strand, when the request is admitted (after
    /// the submission rate limiter) and before its first byte is written; an error ends the
    /// request unsent, with that error. A caller that journals "this paid POST is being sent"
    /// does it here, so a crash while the request still waits for the limiter leaves no intent
    /// behind that would make a later run look for a task that was never submitted.
    std::function<boost::asio::awaitable<error_code>()> before_first_write;
};

/// One HTTP response.
struct http_response
{
    unsigned status = 0;                                   ///< HTTP status code.
    std::string body;                                      ///< Response body, at most transport_options::max_response_body bytes.
    std::optional<std::chrono::milliseconds> retry_after;  ///< Parsed Retry-After header, when present and valid.
};

}  // namespace kiemidi

#endif
