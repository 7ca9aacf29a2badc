// kiemidi transport: the client-wide admission window for paid submissions.
//
// A token bucket of `submissions_per_window` tokens; a used token comes back one full window
// after it was taken, so no window ever admits more than that many submissions (KIE drops,
// rather than queues, requests over its limit). Waiters are served strictly first come, first
// served; a burst of any size queues instead of failing. penalize() empties the bucket for a while.
#ifndef KIEMIDI_TRANSPORT_RATE_LIMITER_HPP
#define KIEMIDI_TRANSPORT_RATE_LIMITER_HPP

#include <kiemidi/config.hpp>
#include <kiemidi/error.hpp>
#include <kiemidi/transport/transport_options.hpp>

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/async_result.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>

namespace kiemidi {

/// The sans-I/O core of rate_limiter: token bookkeeping against explicit time points.
///
/// Thread safety: none; rate_limiter guards its instance with a mutex.
class token_window
{
public:
    using clock = std::chrono::steady_clock;

    /// A full bucket of `tokens` tokens (at least 1) that each return `window` after use.
    KIEMIDI_DECL token_window(unsigned tokens, std::chrono::milliseconds window);

    /// Takes a token if one is available at `now`.
    KIEMIDI_DECL bool try_take(clock::time_point now);

    /// The earliest time a token is available (<= now when one is available now).
    KIEMIDI_DECL clock::time_point next_available(clock::time_point now) const;

    /// Makes no token available before `until` (tokens already due later keep their time).
    KIEMIDI_DECL void block_until(clock::time_point until);

    /// Tokens available at `now`.
    KIEMIDI_DECL unsigned available(clock::time_point now) const;

private:
    std::chrono::milliseconds window_;
    std::deque<clock::time_point> due_;  // one entry per token: when it is (again) available; sorted
};

/// Counters of a rate_limiter (all totals since construction except `waiting`).
struct rate_limiter_stats
{
    std::uint64_t granted = 0;            ///< Acquisitions granted.
    std::uint64_t granted_immediately = 0;///< Of those, granted without queueing.
    std::uint64_t queued = 0;             ///< Acquisitions that had to wait in the queue.
    std::uint64_t cancelled = 0;          ///< Acquisitions completed with an error (cancel or shut down).
    std::uint64_t penalties = 0;          ///< Calls to penalize().
    std::size_t waiting = 0;              ///< Acquisitions waiting now.
};

/// FIFO-fair, cancellable admission of paid submissions.
///
/// Thread safety: every member function may be called from any thread; the state is guarded by
/// a mutex and handlers are never invoked while it is held. Timers run on the given executor.
class rate_limiter
{
public:
    using executor_type = boost::asio::any_io_executor;
    using acquire_signature = void(error_code);

    /// A limiter on `ex`. With opts.enabled == false every acquisition is granted at once.
    KIEMIDI_DECL rate_limiter(executor_type ex, rate_limit_options opts);
    /// Completes pending acquisitions with asio::error::operation_aborted.
    KIEMIDI_DECL ~rate_limiter();
    rate_limiter(const rate_limiter&) = delete;
    rate_limiter& operator=(const rate_limiter&) = delete;

    /// The executor timers and handlers run on.
    KIEMIDI_DECL executor_type get_executor() const noexcept;

    /// Waits for a token, first come first served.
    ///
    /// Handler signature: void(error_code). Errors: asio::error::operation_aborted when cancelled
    /// or when cancel() / the destructor ran.
    /// Cancellation: terminal, partial and total (the acquisition leaves the queue, no token is used).
    /// The handler is never invoked from inside async_acquire.
    template <boost::asio::completion_token_for<acquire_signature> Token =
                  boost::asio::default_completion_token_t<executor_type>>
    auto async_acquire(Token&& token = {})
    {
        return boost::asio::async_initiate<Token, acquire_signature>(
            [](boost::asio::any_completion_handler<acquire_signature> h, rate_limiter* self) {
                self->initiate_acquire(std::move(h));
            },
            token, this);
    }

    /// Admits nothing for `d` from now (after a throttled answer, pass a full window).
    KIEMIDI_DECL void penalize(std::chrono::milliseconds d);

    /// Completes every pending acquisition with asio::error::operation_aborted.
    KIEMIDI_DECL void cancel();

    /// A snapshot of the counters.
    KIEMIDI_DECL rate_limiter_stats stats() const;

    /// The options in use.
    KIEMIDI_DECL const rate_limit_options& options() const noexcept;

    struct impl;

private:
    KIEMIDI_DECL void initiate_acquire(boost::asio::any_completion_handler<acquire_signature> h);
    std::shared_ptr<impl> impl_;
};

}  // namespace kiemidi

#endif
