/// @file
/// kiemidi error codes.
///
/// Errors are split by origin so that the category tells *who* failed:
///  - api_errc    : KIE answered, and its body `code` (or HTTP status) says the request failed.
///                  Enumerator values equal KIE's documented codes where one exists.
///  - client_errc : kiemidi itself detected the problem (timeouts, bad JSON, limits, forged callbacks).
/// Transport failures from the OS, Asio, Beast and OpenSSL keep their own categories
/// (e.g. boost::asio::error::connection_refused, ssl verification errors).
/// Next to every error_code, a kiemidi::diagnostics carries the human-readable detail.
#ifndef KIEMIDI_ERROR_HPP
#define KIEMIDI_ERROR_HPP

#include <kiemidi/config.hpp>

#include <boost/system/error_code.hpp>

#include <string_view>
#include <type_traits>

namespace kiemidi {

/// The error type of every kiemidi operation (Boost.System's, as Asio's).
using error_code = boost::system::error_code;

/// Failures reported by KIE (body `code`, or the HTTP status when there is no usable body).
enum class api_errc : int
{
    bad_request = 400,           ///< KIE rejected the parameters or the audio format; fix the request.
    unauthorized = 401,          ///< The API key is missing, wrong or not allowed from this IP.
    insufficient_credits = 402,  ///< The account has run out of credits; top up before retrying.
    not_found = 404,             ///< The task or endpoint does not exist (check the task id and base URL).
    rate_limited_405 = 405,      ///< Sister-API spelling of "rate limit exceeded"; treated as throttling.
    conflict = 409,              ///< The record already exists.
    too_long = 413,              ///< A parameter was too long.
    validation_error = 422,      ///< Request parameters failed KIE's validation.
    rate_limited = 429,          ///< Too many requests; the request was dropped, not queued. Wait, then resend.
    call_frequency_too_high = 430, ///< Sister-API throttling code; treated like 429.
    download_failed = 451,       ///< KIE could not download the source audio.
    maintenance = 455,           ///< KIE is under maintenance; the request was not processed. Retry later.
    server_error = 500,          ///< KIE failed internally; the outcome of a submission is unknown.
    generation_failed = 501,     ///< KIE reports that the generation failed.
    feature_disabled = 505,      ///< The feature is disabled for this account.
    unknown_code = 999,          ///< KIE answered with a code kiemidi does not know; see diagnostics.
    task_failed = 1000,          ///< The KIE task reached a failure state (see diagnostics for KIE's message).
    unknown_task = 1001,         ///< KIE knows no such task (answered `data: null` or 404).
    task_not_finished = 1002,    ///< The KIE task has not finished yet (e.g. a separation still PENDING); try again later.
};

/// Failures detected by kiemidi itself.
enum class client_errc : int
{
    timeout = 1,                 ///< An I/O step (connect, TLS, write, read) or a deadline expired; see diagnostics for which.
    response_too_large,          ///< The response body exceeded transport_options::max_response_body.
    bad_json,                    ///< A body was not valid JSON.
    missing_field,               ///< A required JSON field is absent; diagnostics names it.
    invalid_field,               ///< A JSON field has a type or value kiemidi cannot accept; diagnostics names it.
    http_error,                  ///< The server answered an HTTP error status with no usable KIE body.
    outcome_unknown,             ///< A paid submission was sent but no KIE answer came (none, or a gateway's page, a cut or non-JSON body); it may have been processed. Check before resending.
    invalid_url,                 ///< A base URL or callback URL could not be parsed or uses an unsupported scheme.
    insecure_scheme,             ///< Plain http:// to a non-loopback host; use https or opt in explicitly.
    shut_down,                   ///< The client or pool was shut down while the operation was pending.
    forged_callback,             ///< A callback failed secret or signature verification.
    stale_callback,              ///< A callback's signature timestamp is outside the freshness window.
    retries_exhausted,           ///< Every allowed attempt failed; diagnostics holds the last failure.
    unknown_stem,                ///< The separation has no stem by that name or audio id; diagnostics lists the ones it has.
    kie_unavailable,             ///< KIE is down (maintenance, server errors, no connection) and the caller asked not to wait; nothing was sent. Diagnostics say since when.
    proxy_refused,               ///< The HTTP proxy would not open a tunnel to KIE (407, 403, 5xx to CONNECT, or closed); diagnostics name the proxy and its status.
};

/// The category of api_errc ("kiemidi.api"): KIE said so.
KIEMIDI_DECL const boost::system::error_category& get_api_category() noexcept;
/// The category of client_errc ("kiemidi.client"): kiemidi detected it.
KIEMIDI_DECL const boost::system::error_category& get_client_category() noexcept;

/// Makes api_errc values error_codes (found by argument-dependent lookup).
inline error_code make_error_code(api_errc e) noexcept { return {static_cast<int>(e), get_api_category()}; }
/// Makes client_errc values error_codes (found by argument-dependent lookup).
inline error_code make_error_code(client_errc e) noexcept { return {static_cast<int>(e), get_client_category()}; }

/// Maps a KIE `code` value (body or HTTP status) to api_errc; 200 is not an error and maps to unknown_code.
KIEMIDI_DECL api_errc to_api_errc(int kie_code) noexcept;

/// True when KIE's `msg` speaks of credits ("Insufficient credits", case-insensitive "credit").
KIEMIDI_DECL bool speaks_of_credits(std::string_view kie_msg) noexcept;

/// to_api_errc, reading `msg` where one code has two meanings: KIE's common pages use 429 for
/// "rate limited", its Suno OpenAPI for "Insufficient credits". A 429 whose msg speaks of credits
/// is insufficient_credits (waiting does not help: nothing is resent).
KIEMIDI_DECL api_errc to_api_errc(int kie_code, std::string_view kie_msg) noexcept;

/// True for codes that mean "KIE dropped this request unprocessed; waiting and resending is safe"
/// (429, 430, 405, 455).
KIEMIDI_DECL bool is_throttling(api_errc e) noexcept;

}  // namespace kiemidi

namespace boost::system {
template <> struct is_error_code_enum<kiemidi::api_errc> : std::true_type {};
template <> struct is_error_code_enum<kiemidi::client_errc> : std::true_type {};
}  // namespace boost::system

#endif
