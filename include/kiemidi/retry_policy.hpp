/// @file
/// kiemidi transport: when to resend a request, and after how long (pure logic, no I/O).
///
/// A read is resent after any network failure, timeout, throttled, unavailable or server_error
/// answer. A paid submission is resent only when it provably was not processed: it failed before
/// a single byte was written (resolve, connect, TLS), or the server said throttled/unavailable.
/// Delays are exponential backoff with full jitter; a server's Retry-After replaces the backoff.
#ifndef KIEMIDI_RETRY_POLICY_HPP
#define KIEMIDI_RETRY_POLICY_HPP

#include <kiemidi/config.hpp>
#include <kiemidi/http_message.hpp>
#include <kiemidi/transport_options.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <random>
#include <string_view>

namespace kiemidi {

/// How one attempt ended, as far as resending is concerned.
enum class attempt_failure
{
    none,              ///< An answer was read; its verdict decides.
    not_sent,          ///< Resolve, connect or TLS failed: no byte of the request left this process.
    sent_no_answer,    ///< Failed (error or timeout) after the request was (partly) written: outcome unknown.
    local,             ///< A failure resending cannot fix (body too large, rejected certificate, cancelled, shut down, bad URL).
};

/// The outcome of one attempt.
struct attempt_outcome
{
    attempt_failure failure = attempt_failure::none;          ///< Transport-level failure, if any.
    response_verdict verdict = response_verdict::final;       ///< Verdict of the answer (failure == none only).
    std::optional<std::chrono::milliseconds> retry_after;     ///< The answer's Retry-After, if any.
};

/// What to do next.
struct retry_decision
{
    bool retry = false;                   ///< Resend the request.
    std::chrono::milliseconds delay{0};   ///< Wait this long first.
};

/// Decides retries and computes delays. Deterministic for a given seed.
///
/// Thread safety: distinct objects are independent; one object must not be used concurrently
/// (decide and backoff advance the jitter generator). http_client guards its own instance.
class retry_policy
{
public:
    /// A policy with a random seed.
    KIEMIDI_DECL explicit retry_policy(retry_options opts);
    /// A policy whose jitter sequence is fixed by `seed` (tests).
    KIEMIDI_DECL retry_policy(retry_options opts, std::uint64_t seed);

    /// True when an attempt with this outcome may be resent, ignoring the attempt budget.
    KIEMIDI_DECL static bool is_retryable(request_kind kind, const attempt_outcome& outcome) noexcept;

    /// Decision after attempt number `attempt` (1 = the first) ended with `outcome`.
    KIEMIDI_DECL retry_decision decide(request_kind kind, unsigned attempt, const attempt_outcome& outcome);

    /// Full-jitter backoff before retry number `retry` (1 = the first retry):
    /// uniform in [0, min(max_delay, base_delay * 2^(retry-1))].
    KIEMIDI_DECL std::chrono::milliseconds backoff(unsigned retry);

    /// The upper bound backoff(retry) draws below.
    KIEMIDI_DECL std::chrono::milliseconds backoff_cap(unsigned retry) const noexcept;

    /// The options in use.
    const retry_options& options() const noexcept { return opts_; }

private:
    retry_options opts_;
    std::mt19937_64 rng_;
};

/// Parses a Retry-After header value: delta-seconds ("120") or an HTTP-date (IMF-fixdate,
/// RFC 850 or asctime form), relative to `now`. A date in the past gives 0; garbage gives nullopt.
KIEMIDI_DECL std::optional<std::chrono::milliseconds> parse_retry_after(
    std::string_view value, std::chrono::system_clock::time_point now);

/// parse_retry_after relative to the current time.
KIEMIDI_DECL std::optional<std::chrono::milliseconds> parse_retry_after(std::string_view value);

}  // namespace kiemidi

#endif
