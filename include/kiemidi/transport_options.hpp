/// @file
/// kiemidi transport: everything an http_client is configured with.
///
/// An aggregate with in-class defaults, designated-initializer friendly:
///   kiemidi::transport_options o{.base_url = "https://api.kie.ai", .bearer_token = key};
/// Defaults follow KIE's documented limits (20 submissions per 10 s, admitted a little under).
#ifndef KIEMIDI_TRANSPORT_OPTIONS_HPP
#define KIEMIDI_TRANSPORT_OPTIONS_HPP

#include <kiemidi/config.hpp>
#include <kiemidi/error.hpp>
#include <kiemidi/http_message.hpp>
#include <kiemidi/tls_options.hpp>

#include <chrono>
#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

namespace kiemidi {

/// A deadline for each I/O step of one attempt.
struct timeout_options
{
    std::chrono::milliseconds connect{10000};        ///< Name resolution plus TCP connect.
    std::chrono::milliseconds tls_handshake{10000};  ///< TLS handshake.
    std::chrono::milliseconds write{30000};          ///< Writing the whole request.
    std::chrono::milliseconds read{60000};           ///< Reading the whole response (headers and body).
};

/// How often and how long to retry (see retry_policy for which failures are retried).
struct retry_options
{
    unsigned max_attempts = 6;                   ///< Attempts in total, including the first (1 = never retry).
    std::chrono::milliseconds base_delay{250};   ///< Backoff cap of the first retry; doubles per retry.
    std::chrono::milliseconds max_delay{30000};  ///< Upper bound of any backoff, and of an honoured Retry-After.
    bool honour_retry_after = true;              ///< Wait what the server's Retry-After says (bounded by max_delay).
};

/// The client-wide admission window for paid submissions (reads are never limited).
struct rate_limit_options
{
    bool enabled = true;                         ///< Gate paid submissions through the limiter.
    unsigned submissions_per_window = 20;        ///< Submissions per window (KIE documents 20 per 10 s); lowered for a while after a 429.
    std::chrono::milliseconds window{10000};     ///< The window; a token comes back this long after its request's answer.
};

/// Which HTTP proxy the client goes through. By default, the environment's, with the rules of curl
/// and most SDKs: HTTPS_PROXY / https_proxy for https origins, HTTP_PROXY / http_proxy for http
/// ones, ALL_PROXY / all_proxy for either when those are unset; NO_PROXY / no_proxy lists the hosts
/// reached directly (comma-separated: "*", host names matching themselves and their subdomains,
/// IP literals, CIDR ranges, each optionally with ":port"). Loopback is not exempt unless listed.
/// The proxy is reached over plain HTTP; every request goes through a CONNECT tunnel, inside which
/// TLS is negotiated with the origin itself (its name for SNI and certificate checks).
struct proxy_options
{
    bool use_environment = true;  ///< Read the variables above for whatever `url` / `no_proxy` leave empty; false: only these fields count.
    std::string url;              ///< "http://[user:password@]host[:port]" (scheme optional; port 1080 when absent, as curl); empty: the environment's, or none.
    std::string no_proxy;         ///< Hosts reached directly, NO_PROXY syntax; empty: the environment's (with use_environment).
};

/// Checks a proxy URL as proxy_options::url takes it, before any connection: only http proxies,
/// no path, query or fragment. On failure returns client_errc::invalid_url and `why` says what is
/// wrong, never repeating the credentials.
KIEMIDI_DECL error_code check_proxy_url(std::string_view url, std::string& why);

/// How the transport reads an answer that arrived.
enum class response_verdict
{
    final,         ///< A definitive answer (success or not): handed to the caller.
    throttled,     ///< 429-like: the request was dropped unprocessed; resending is safe even when paid.
    unavailable,   ///< 455-like (maintenance): unprocessed; resending is safe even when paid.
    server_error,  ///< 5xx-like: the outcome is unknown; only reads are resent.
};

/// Classifies a response. An empty function means the default: 429 → throttled,
/// 455 → unavailable, other 5xx → server_error, anything else → final.
using response_classifier = std::function<response_verdict(const http_response&)>;

/// The default classification by HTTP status (what an empty response_classifier does).
KIEMIDI_DECL response_verdict classify_by_status(const http_response& r) noexcept;

/// How one attempt ended, for an observer of the origin's health (transport_options::on_attempt).
struct attempt_report
{
    bool answered = false;                               ///< An answer was read; false: no answer (refused, reset, timeout, TLS, DNS).
    bool reached = false;                                ///< Without an answer: the request was (partly) written before it failed.
    response_verdict verdict = response_verdict::final;  ///< The answer's verdict (answered only).
    unsigned http_status = 0;                            ///< The answer's HTTP status (answered only).
};
/// Called on the transport's strand after every attempt that reached for the network (not for
/// local failures or cancellations). Must not block.
using attempt_observer = std::function<void(const attempt_report&)>;

/// Configuration of an http_client.
struct transport_options
{
    std::string base_url;                           ///< "https://host[:port][/prefix]"; http:// only to loopback unless allowed below.
    std::string bearer_token;                       ///< Sent as "Authorization: Bearer <token>"; never logged or put in diagnostics.
    std::string user_agent = "kiemidi/0.1";         ///< Always sent (a CDN is reported to reject requests without one).
    std::size_t pool_size = 32;                     ///< Maximum simultaneous connections to the origin.
    std::size_t max_response_body = 64u * 1024u * 1024u;  ///< Larger bodies fail with client_errc::response_too_large.
    timeout_options timeouts;                       ///< Per-step deadlines.
    tls_options tls;                                ///< Certificate verification for https://.
    retry_options retry;                            ///< Retry budget and backoff.
    rate_limit_options rate_limit;                  ///< Admission of paid submissions.
    bool allow_plain_http_to_non_loopback = false;  ///< Permit http:// to hosts other than 127.0.0.0/8, ::1, localhost.
    proxy_options proxy;                            ///< The egress proxy (by default from the environment); credentials are never logged.
    response_classifier classify;                   ///< Answer classification; empty = classify_by_status.
    attempt_observer on_attempt;                    ///< Told how each attempt ended (e.g. a circuit breaker); may be empty.
};

}  // namespace kiemidi

#endif
