/// @file
/// kiemidi transport: the client-wide admission window for paid submissions.
///
/// KIE counts new generation requests per account in a window *at arrival* and drops (HTTP 429,
/// not queued) those over its limit. The client cannot see arrival, only when a request was
/// answered, so a token is held while its request is in flight and comes back one full window
/// after the answer (or the failure): however long a request waits for a connection or in the
/// server's accept queue, no window at the server sees more than the budget.
///
/// Why not from the write, though arrival is never before it: a window at the server must not
/// hold an earlier request's arrival and a later one's. The later one arrives no earlier than its
/// write, but the earlier one may arrive as late as its answer, so a request may be written only a
/// full window after the *answer* of the request whose token it reuses. Reckoning from the write
/// would be safe only if the earlier request was counted at once, which the client cannot see (a
/// server that queues a burst before counting it answers late in both cases). So with a server
/// slow to answer, each reuse of a token costs one window plus that answer time; no sound rule
/// knowing only writes and answers does better, as every token in use or returning may stand for
/// an arrival inside the window that ends at the next write.
///
/// The budget adapts: a throttled answer lowers it (to what the server accepted in the last
/// window, at most halving it, and honouring Retry-After) and clean windows raise it again one
/// token at a time, so an account whose real limit is lower than documented converges within a
/// few 429s. Until one window's worth of clean answers has confirmed the budget, requests go out
/// ahead of the answers only so far: half the budget and unconfirmed_in_flight more at once, then
/// two more for each clean answer past half. An account limited to half the documented figure
/// thus draws unconfirmed_in_flight 429s (one a little above half, a few more), not a burst. Why
/// not a small fixed number in flight: the first window's requests would then go out one answer
/// time per few of them, and every later window inherits that spread, as a token comes back one
/// window after its own answer (benchmarks/README.md, rate-limited).
/// Waiters are served first come, first served within two classes: work that finishes a track
/// (its MIDI submission) goes before work that starts one. A request asking again after a 429
/// goes to the front of its class: it has waited longest, and behind the queue the tracks a 429
/// hit would finish last, long after the others. Not ahead of the other class: a separation
/// retried before the MIDI submissions waiting would push their tracks' ends later.
#ifndef KIEMIDI_RATE_LIMITER_HPP
#define KIEMIDI_RATE_LIMITER_HPP

#include <kiemidi/config.hpp>
#include <kiemidi/default_token.hpp>
#include <kiemidi/error.hpp>
#include <kiemidi/transport_options.hpp>

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/async_result.hpp>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>

namespace kiemidi {

/// The sans-I/O core of rate_limiter: token bookkeeping against explicit time points.
///
/// A token is free, in use (taken, its request not answered yet) or returning (answered; free
/// again one window after the answer). At most budget() tokens are in use or returning.
///
/// Thread safety: none; rate_limiter guards its instance with a mutex.
class token_window
{
public:
    /// The clock the window is measured with (monotonic).
    using clock = std::chrono::steady_clock;

    /// While the budget is unconfirmed, how many requests may be sent beyond half the budget
    /// before any answer (see the file comment): what an account limited to half the documented
    /// figure pays in 429s, as every request in flight past its limit is throttled.
    static constexpr unsigned unconfirmed_in_flight = 4;
    /// Requests sent at once, before any answer, while a budget of `budget` is unconfirmed.
    static constexpr unsigned unconfirmed_burst(unsigned budget) noexcept
    {
        return std::min(budget, budget / 2 + unconfirmed_in_flight);
    }
    /// Clean windows a lowered budget is held before probing above it again.
    static constexpr unsigned hold_windows = 30;

    /// A full bucket of `tokens` tokens (at least 1) that each return `window` after their answer.
    KIEMIDI_DECL token_window(unsigned tokens, std::chrono::milliseconds window);

    /// Takes a token if one is available at `now`; it stays in use until release() / throttled() / give_back().
    KIEMIDI_DECL bool try_take(clock::time_point now);

    /// The request that used a token was answered (or failed, or was cancelled) at `now`:
    /// the token is free again at now + window.
    KIEMIDI_DECL void release(clock::time_point now);

    /// A request that used a token was answered "throttled" (HTTP 429) at `now`: releases its
    /// token like release(), lowers the budget and, with a Retry-After, frees nothing before it ends.
    KIEMIDI_DECL void throttled(clock::time_point now, std::optional<std::chrono::milliseconds> retry_after);

    /// A taken token was not used (no request was written): it is free again at once.
    KIEMIDI_DECL void give_back();

    /// The earliest time a token may be available (<= now when one is available now;
    /// time_point::max() when only an answer can free one).
    KIEMIDI_DECL clock::time_point next_available(clock::time_point now) const;

    /// Makes no token available before `until` (tokens already due later keep their time).
    KIEMIDI_DECL void block_until(clock::time_point until);

    /// Tokens available at `now`.
    KIEMIDI_DECL unsigned available(clock::time_point now) const;

    /// The current budget (tokens per window); the configured figure until a 429 lowers it.
    unsigned budget() const noexcept { return budget_; }
    /// Tokens whose request has not been answered yet.
    unsigned in_use() const noexcept { return in_use_; }
    /// True once one window's worth of clean answers confirmed the budget.
    bool confirmed() const noexcept { return confirmed_; }

private:
    void settle(clock::time_point now);
    unsigned returning(clock::time_point now) const;
    unsigned in_flight_cap(clock::time_point now) const noexcept;

    std::chrono::milliseconds window_;
    unsigned limit_;                      // the configured budget: never exceeded
    unsigned budget_;                     // the current budget
    unsigned ceiling_ = 0;                // a budget known to draw 429s (0: none known)
    unsigned in_use_ = 0;
    bool confirmed_ = false;
    clock::time_point blocked_until_ = clock::time_point::min();
    clock::time_point epoch_ = clock::time_point::min();  // start of the current clean window
    unsigned clean_windows_ = 0;          // clean windows since the last 429
    std::deque<clock::time_point> due_;   // one entry per returning token: when it is free again; sorted
    std::deque<clock::time_point> clean_; // answers that were not throttled, within the last window; sorted
    clock::time_point last_decrease_ = clock::time_point::min();
};

/// Which wait queue an acquisition joins; `finish` is served before `start`.
enum class admission_priority
{
    start,   ///< Work that starts a track (a separation).
    finish,  ///< Work that finishes an already started track (its MIDI submission).
};

/// Where in its queue an acquisition waits.
enum class admission_turn
{
    in_line,  ///< Behind every waiter of its class: first come, first served.
    /// Ahead of the waiters of its class that are in line (behind earlier `again` ones): a request
    /// asking again after an attempt KIE did not take (HTTP 429, or not sent) has waited longest.
    again,
};

/// Counters of a rate_limiter (all totals since construction except `waiting`, `in_use`, `budget`).
struct rate_limiter_stats
{
    std::uint64_t granted = 0;            ///< Acquisitions granted.
    std::uint64_t granted_immediately = 0;///< Of those, granted without queueing.
    std::uint64_t queued = 0;             ///< Acquisitions that had to wait in the queue.
    std::uint64_t cancelled = 0;          ///< Acquisitions completed with an error (cancel or shut down).
    std::uint64_t penalties = 0;          ///< Throttled answers reported (and calls to penalize()).
    std::size_t waiting = 0;              ///< Acquisitions waiting now.
    unsigned in_use = 0;                  ///< Granted tokens whose request is not answered yet.
    unsigned budget = 0;                  ///< The current budget per window.
};

/// FIFO-fair (per priority), cancellable admission of paid submissions.
///
/// Every granted acquisition must be ended by exactly one of release(), throttled() or
/// give_back(): the token is held until then.
///
/// Thread safety: every member function may be called from any thread; the state is guarded by
/// a mutex and handlers are never invoked while it is held. Timers run on the given executor.
class rate_limiter
{
public:
    /// The executor type of the limiter's timers and default handlers.
    using executor_type = boost::asio::any_io_executor;
    /// Handler signature of async_acquire.
    using acquire_signature = void(error_code);
    /// The clock the window is measured with (monotonic).
    using clock = token_window::clock;

    /// A limiter on `ex`. With opts.enabled == false every acquisition is granted at once.
    KIEMIDI_DECL rate_limiter(executor_type ex, rate_limit_options opts);
    /// Completes pending acquisitions with boost::asio::error::operation_aborted.
    KIEMIDI_DECL ~rate_limiter();
    /// Not copyable.
    rate_limiter(const rate_limiter&) = delete;
    /// Not copy-assignable.
    rate_limiter& operator=(const rate_limiter&) = delete;

    /// The executor timers and handlers run on.
    KIEMIDI_DECL executor_type get_executor() const noexcept;

    /// Waits for a token: `finish` waiters before `start` waiters, each first come first served
    /// except that `admission_turn::again` waits ahead of its class's waiters in line.
    ///
    /// Handler signature: void(error_code). Errors: boost::asio::error::operation_aborted when cancelled
    /// or when cancel() / the destructor ran (no token is held then).
    /// Cancellation: terminal, partial and total (the acquisition leaves the queue, no token is used).
    /// The handler is never invoked from inside async_acquire.
    template <boost::asio::completion_token_for<acquire_signature> Token =
                  kiemidi::default_token_t<executor_type>>
    auto async_acquire(admission_priority prio, admission_turn turn, Token&& token = {})
    {
        return boost::asio::async_initiate<Token, acquire_signature>(
            [](boost::asio::any_completion_handler<acquire_signature> h, rate_limiter* self, admission_priority p,
               admission_turn t) { self->initiate_acquire(std::move(h), p, t); },
            token, this, prio, turn);
    }

    /// async_acquire(prio, admission_turn::in_line, token).
    template <boost::asio::completion_token_for<acquire_signature> Token =
                  kiemidi::default_token_t<executor_type>>
    auto async_acquire(admission_priority prio, Token&& token = {})
    {
        return async_acquire(prio, admission_turn::in_line, std::forward<Token>(token));
    }

    /// async_acquire(admission_priority::start, token).
    template <boost::asio::completion_token_for<acquire_signature> Token =
                  kiemidi::default_token_t<executor_type>>
    auto async_acquire(Token&& token = {})
    {
        return async_acquire(admission_priority::start, std::forward<Token>(token));
    }

    /// The request of a granted token was answered (or failed, or was cancelled after being
    /// written) at `at`: the token is free again one window later.
    KIEMIDI_DECL void release(clock::time_point at = clock::now());

    /// The request of a granted token was answered "throttled": see token_window::throttled().
    KIEMIDI_DECL void throttled(std::optional<std::chrono::milliseconds> retry_after, clock::time_point at = clock::now());

    /// A granted token was not used (nothing was written): it is free again at once.
    KIEMIDI_DECL void give_back();

    /// Admits nothing for `d` from now.
    KIEMIDI_DECL void penalize(std::chrono::milliseconds d);

    /// Completes every pending acquisition with boost::asio::error::operation_aborted.
    KIEMIDI_DECL void cancel();

    /// A snapshot of the counters.
    KIEMIDI_DECL rate_limiter_stats stats() const;

    /// The options in use.
    KIEMIDI_DECL const rate_limit_options& options() const noexcept;

    struct impl;

private:
    KIEMIDI_DECL void initiate_acquire(boost::asio::any_completion_handler<acquire_signature> h, admission_priority p,
                                       admission_turn t);
    std::shared_ptr<impl> impl_;
};

}  // namespace kiemidi

#endif
