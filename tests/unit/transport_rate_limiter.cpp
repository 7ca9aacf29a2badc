// rate_limiter: token bookkeeping against explicit time points (tokens back a window after the
// answer, adaptation to 429s), FIFO-fair queueing of bursts, priorities, cancellation, penalties. Assertions are on counts and order, never on durations.
#include <kiemidi/rate_limiter.hpp>

#include "common/run_bounded.hpp"
#include "common/progress.hpp"
#include "nothrow_awaitable.hpp"

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <deque>
#include <vector>

namespace asio = boost::asio;
using namespace std::chrono_literals;
using kiemidi::error_code;
using kiemidi::test::progress;
using kiemidi::use_nothrow_awaitable;
using kiemidi::rate_limiter;
using kiemidi::token_window;


BOOST_AUTO_TEST_SUITE(transport_rate_limiter)

namespace {

// Takes `n` tokens at `t` (all must be available) and confirms the budget by answering them at once.
void take_and_answer(token_window& w, unsigned n, token_window::clock::time_point t)
{
    for (unsigned i = 0; i < n; ++i)
    {
        BOOST_REQUIRE(w.try_take(t));
        w.release(t);
    }
}

}  // namespace

BOOST_AUTO_TEST_CASE(token_window_returns_a_token_one_window_after_the_answer)
{
    const auto t0 = token_window::clock::time_point{} + 1h;
    token_window w(3, 1000ms);
    BOOST_TEST(w.available(t0) == 3u);
    BOOST_TEST(w.try_take(t0));
    BOOST_TEST(w.try_take(t0 + 100ms));
    BOOST_TEST(w.try_take(t0 + 200ms));
    BOOST_TEST(!w.try_take(t0 + 300ms));
    // nothing answered yet: only an answer can free a token, however late
    BOOST_TEST((w.next_available(t0 + 300ms) == token_window::clock::time_point::max()));
    BOOST_TEST(!w.try_take(t0 + 5000ms));
    w.release(t0 + 5000ms);  // a late answer: its token is back a window after it, not after the take
    BOOST_TEST(w.in_use() == 2u);
    BOOST_TEST((w.next_available(t0 + 5000ms) == t0 + 6000ms));
    BOOST_TEST(!w.try_take(t0 + 5999ms));
    BOOST_TEST(w.try_take(t0 + 6000ms));
    w.release(t0 + 6100ms);
    w.release(t0 + 6200ms);
    w.release(t0 + 6300ms);
    BOOST_TEST(w.available(t0 + 7099ms) == 0u);
    BOOST_TEST(w.available(t0 + 7100ms) == 1u);
    BOOST_TEST(w.available(t0 + 7300ms) == 3u);
    BOOST_TEST(w.budget() == 3u);
}

BOOST_AUTO_TEST_CASE(token_window_never_lets_more_than_n_arrive_in_any_window_however_late_answers_are)
{
    // A server counts at arrival, somewhere between the take and the answer. With answers up
    // to 3 s late, any 10 s window of arrivals holds at most the budget: a token is only taken
    // again a window after the answer of its previous request, which followed that request's arrival.
    const auto t0 = token_window::clock::time_point{} + 1h;
    token_window w(20, 10000ms);
    struct req { token_window::clock::time_point taken, answered; };
    std::vector<req> reqs;
    std::vector<token_window::clock::time_point> answers_due;
    unsigned n = 0;
    for (auto t = t0; t < t0 + 120000ms; t += 37ms)
    {
        for (auto it = answers_due.begin(); it != answers_due.end();)
        {
            if (*it <= t) { w.release(*it); it = answers_due.erase(it); }
            else ++it;
        }
        while (w.try_take(t))
        {
            const auto latency = std::chrono::milliseconds(50 + (n++ * 977) % 3000);
            reqs.push_back({t, t + latency});
            answers_due.push_back(t + latency);
        }
    }
    BOOST_TEST(reqs.size() > 20u * 8);
    // the worst case: every request arrived as late as possible (just before its answer), or
    // as early as possible (at its take); check both against every window
    for (const bool late : {false, true})
    {
        std::vector<token_window::clock::time_point> arrivals;
        for (const auto& r : reqs) arrivals.push_back(late ? r.answered : r.taken);
        std::sort(arrivals.begin(), arrivals.end());
        for (std::size_t i = 20; i < arrivals.size(); ++i) BOOST_TEST((arrivals[i] - arrivals[i - 20] >= 10000ms));
    }
    // and every mix: each request may arrive anywhere in [taken, answered], independently of the
    // others, so a server window (t - 10 s, t] can see every request whose interval meets it.
    // The count is largest at some request's take; at each, at most the budget may meet it.
    for (const auto& j : reqs)
    {
        const auto meets = std::count_if(reqs.begin(), reqs.end(), [&](const req& k) {
            return k.taken <= j.taken && k.answered > j.taken - 10000ms;
        });
        BOOST_TEST(meets <= 20);
    }
}

BOOST_AUTO_TEST_CASE(token_window_reckoning_from_the_write_would_let_a_slow_answer_overfill_a_server_window)
{
    // Why the window starts at the answer and not when the request was written, even though
    // arrival is never before the write: the bound that matters is on the *earlier* request's
    // arrival, which can be as late as its answer. One token, a 1 s window, a request written at
    // 0 and answered at 900 ms (it sat 900 ms in the server's accept queue and was counted at
    // 899 ms). Reckoned from the write, the token would be back at 1000 ms and a request written
    // then and counted at once would be the second arrival within 101 ms.
    const auto t0 = token_window::clock::time_point{} + 1h;
    token_window w(1, 1000ms);
    BOOST_REQUIRE(w.try_take(t0));
    w.release(t0 + 900ms);
    BOOST_TEST(!w.try_take(t0 + 1000ms));
    BOOST_TEST(!w.try_take(t0 + 1899ms));
    BOOST_TEST(w.try_take(t0 + 1900ms));  // a full window after the latest possible arrival
}

BOOST_AUTO_TEST_CASE(token_window_failure_releases_like_an_answer_and_unused_tokens_come_back_at_once)
{
    const auto t0 = token_window::clock::time_point{} + 1h;
    token_window w(2, 1000ms);
    BOOST_TEST(w.try_take(t0));
    BOOST_TEST(w.try_take(t0));
    w.give_back();  // cancelled before anything was written: no arrival anywhere
    BOOST_TEST(w.available(t0) == 1u);
    w.release(t0 + 300ms);  // a transport failure after writing: the server may have counted it
    BOOST_TEST(w.available(t0 + 300ms) == 1u);
    BOOST_TEST(w.available(t0 + 1300ms) == 2u);
}

BOOST_AUTO_TEST_CASE(token_window_block_until_delays_every_token)
{
    const auto t0 = token_window::clock::time_point{} + 1h;
    token_window w(20, 100ms);
    BOOST_TEST(w.try_take(t0));
    w.release(t0);
    w.block_until(t0 + 10000ms);
    BOOST_TEST(w.available(t0 + 9999ms) == 0u);
    BOOST_TEST((w.next_available(t0) == t0 + 10000ms));
    // unconfirmed, and the one clean answer is a window old: the first burst again
    BOOST_TEST(w.available(t0 + 10000ms) == token_window::unconfirmed_burst(20));
}

BOOST_AUTO_TEST_CASE(token_window_sends_half_the_budget_at_once_then_two_more_per_clean_answer_until_confirmed)
{
    const auto t0 = token_window::clock::time_point{} + 1h;
    token_window w(20, 10000ms);
    BOOST_TEST(token_window::unconfirmed_burst(20) == 14u);
    for (unsigned i = 0; i < 14; ++i) BOOST_TEST(w.try_take(t0));
    BOOST_TEST(!w.try_take(t0));  // a wrong guess of the limit must not cost a burst of 429s
    BOOST_TEST(!w.confirmed());
    // 10 clean answers (half the budget): an account limited to 10 has throttled the other 4
    // by now, so nothing more goes out until an answer past half comes back clean
    for (int i = 0; i < 10; ++i) w.release(t0 + 100ms);
    BOOST_TEST(w.available(t0 + 100ms) == 0u);
    BOOST_TEST(!w.try_take(t0 + 100ms));
    // each clean answer past half lets two more go
    w.release(t0 + 200ms);
    BOOST_TEST(w.available(t0 + 200ms) == 2u);
    BOOST_TEST(w.try_take(t0 + 200ms));
    BOOST_TEST(w.try_take(t0 + 200ms));
    for (int i = 0; i < 3; ++i) w.release(t0 + 300ms);  // 14 clean answers, 2 in flight
    BOOST_TEST(w.available(t0 + 300ms) == 4u);           // the rest of the budget
    for (int i = 0; i < 4; ++i) BOOST_TEST(w.try_take(t0 + 300ms));
    BOOST_TEST(!w.try_take(t0 + 300ms));
    BOOST_TEST(!w.confirmed());
    for (int i = 0; i < 6; ++i) w.release(t0 + 400ms);  // 20 clean answers within one window
    BOOST_TEST(w.confirmed());
    BOOST_TEST(w.available(t0 + 400ms) == 0u);
    BOOST_TEST(w.available(t0 + 10099ms) == 0u);        // the first 10 are back a window after their answer
    BOOST_TEST(w.available(t0 + 10100ms) == 10u);       // confirmed: no cap beyond the budget
    BOOST_TEST(w.available(t0 + 10400ms) == 20u);
}

BOOST_AUTO_TEST_CASE(token_window_429_lowers_the_budget_to_what_the_server_accepted)
{
    // an account really limited to 10 per window while 20 are assumed
    const auto t0 = token_window::clock::time_point{} + 1h;
    token_window w(20, 10000ms);
    take_and_answer(w, 10, t0);
    for (int i = 0; i < 4; ++i) BOOST_TEST(w.try_take(t0 + 100ms));
    w.throttled(t0 + 110ms, std::nullopt);
    BOOST_TEST(w.budget() == 10u);
    // the others in flight were sent under the old budget: their 429s lower nothing more
    w.throttled(t0 + 120ms, std::nullopt);
    w.throttled(t0 + 130ms, std::nullopt);
    w.throttled(t0 + 140ms, std::nullopt);
    BOOST_TEST(w.budget() == 10u);
    BOOST_TEST(w.in_use() == 0u);
    // the 14 tokens used come back a window after their answers; the budget of 10 is free then
    BOOST_TEST(w.available(t0 + 10000ms) == 6u);   // the 10 accepted at t0, less the 4 throttled still returning
    BOOST_TEST(w.available(t0 + 10140ms) == 10u);
    // the measured budget is held over many clean windows (no probing storm)
    for (int k = 1; k <= 20; ++k)
    {
        const auto t = t0 + 200ms + k * 10100ms;
        BOOST_TEST(w.available(t) == 10u);
        take_and_answer(w, 10, t);
    }
    BOOST_TEST(w.budget() == 10u);
}

BOOST_AUTO_TEST_CASE(token_window_429_halves_at_most_honours_retry_after_and_recovers_per_clean_window)
{
    const auto t0 = token_window::clock::time_point{} + 1h;
    token_window w(20, 1000ms);
    take_and_answer(w, 20, t0);  // confirmed
    BOOST_TEST(w.confirmed());
    // a 429 out of the blue (another client on the account): nothing accepted in the last window
    const auto t1 = t0 + 5000ms;
    BOOST_TEST(w.try_take(t1));
    w.throttled(t1, 300ms);
    BOOST_TEST(w.budget() == 10u);  // halved, not collapsed
    BOOST_TEST(w.available(t1 + 299ms) == 0u);  // Retry-After
    BOOST_TEST((w.next_available(t1 + 100ms) == t1 + 300ms));
    BOOST_TEST(w.available(t1 + 300ms) == 9u);  // the throttled request's token is back a window after its answer
    // a second 429 within the same window lowers nothing more
    BOOST_TEST(w.try_take(t1 + 300ms));
    w.throttled(t1 + 400ms, std::nullopt);
    BOOST_TEST(w.budget() == 10u);
    std::vector<unsigned> budgets;
    for (int k = 1; k <= 40; ++k)
    {
        const auto t = t1 + 400ms + k * 1000ms;
        BOOST_TEST(w.try_take(t));
        w.release(t);
        budgets.push_back(w.budget());
    }
    BOOST_TEST(budgets.front() == 11u);
    BOOST_TEST(budgets[8] == 19u);
    BOOST_TEST(budgets[20] == 19u);
    BOOST_TEST(budgets.back() == 20u);
    BOOST_TEST(std::is_sorted(budgets.begin(), budgets.end()));
}

BOOST_AUTO_TEST_CASE(token_window_a_lower_real_limit_converges_within_a_few_429s)
{
    // a simulated account counting arrivals (= takes here) in a sliding window, limit 10, while
    // the client assumes 20; every request is answered 20 ms after it was taken
    const auto t0 = token_window::clock::time_point{} + 1h;
    token_window w(20, 10000ms);
    std::deque<token_window::clock::time_point> accepted;
    std::vector<std::pair<token_window::clock::time_point, bool>> pending;  // answer time, throttled
    unsigned throttled = 0, ok = 0;
    for (auto t = t0; t < t0 + 300000ms; t += 10ms)
    {
        for (auto it = pending.begin(); it != pending.end();)
        {
            if (it->first <= t)
            {
                if (it->second) w.throttled(it->first, std::nullopt); else w.release(it->first);
                it = pending.erase(it);
            }
            else ++it;
        }
        while (w.try_take(t))
        {
            while (!accepted.empty() && t - accepted.front() >= 10000ms) accepted.pop_front();
            const bool over = accepted.size() >= 10;
            if (!over) accepted.push_back(t);
            over ? ++throttled : ++ok;
            pending.emplace_back(t + 20ms, over);
        }
    }
    BOOST_TEST(throttled <= 5u);
    BOOST_TEST(throttled >= 1u);
    BOOST_TEST(w.budget() == 10u);
    BOOST_TEST(ok > 250u);  // 300 s at 10 per ~10 s
}

BOOST_AUTO_TEST_CASE(burst_of_1000_is_granted_fifo_at_the_configured_rate)
{
    kiemidi::test::run_bounded([](asio::io_context& ioc) -> asio::awaitable<void> {
        rate_limiter lim(ioc.get_executor(), {.enabled = true, .submissions_per_window = 50, .window = 50ms});
        std::vector<int> order;
        progress done(ioc);
        std::size_t failures = 0;
        for (int i = 0; i < 1000; ++i)
            lim.async_acquire([&, i](error_code ec) {
                if (ec) ++failures;
                order.push_back(i);
                lim.release();  // answered at once
                done.tick();
            });
        // counted, before anything ran: the first burst was taken (the budget is not confirmed
        // yet), the rest queue
        const unsigned burst = token_window::unconfirmed_burst(50);
        auto s = lim.stats();
        BOOST_TEST(s.granted == burst);
        BOOST_TEST(s.granted_immediately == burst);
        BOOST_TEST(s.queued == 1000u - burst);
        BOOST_TEST(s.waiting == 1000u - burst);
        co_await done.wait(1000);
        BOOST_TEST(failures == 0u);
        BOOST_TEST(order.size() == 1000u);
        bool fifo = true;
        for (int i = 0; i < 1000; ++i) fifo = fifo && order[static_cast<std::size_t>(i)] == i;
        BOOST_TEST(fifo);
        s = lim.stats();
        BOOST_TEST(s.granted == 1000u);
        BOOST_TEST(s.granted_immediately == burst);
        BOOST_TEST(s.waiting == 0u);
        BOOST_TEST(s.in_use == 0u);
        BOOST_TEST(s.cancelled == 0u);
    }, 30s);
}

BOOST_AUTO_TEST_CASE(new_arrivals_queue_behind_earlier_waiters)
{
    kiemidi::test::run_bounded([](asio::io_context& ioc) -> asio::awaitable<void> {
        rate_limiter lim(ioc.get_executor(), {.enabled = true, .submissions_per_window = 1, .window = 20ms});
        std::vector<int> order;
        progress done(ioc);
        for (int i = 0; i < 4; ++i) lim.async_acquire([&, i](error_code) { order.push_back(i); lim.release(); done.tick(); });
        co_await done.wait(2);
        lim.async_acquire([&](error_code) { order.push_back(99); lim.release(); done.tick(); });
        co_await done.wait(5);
        BOOST_TEST((order == std::vector<int>{0, 1, 2, 3, 99}));
    });
}

BOOST_AUTO_TEST_CASE(cancelled_waiter_leaves_the_queue_and_others_keep_their_order)
{
    kiemidi::test::run_bounded([](asio::io_context& ioc) -> asio::awaitable<void> {
        rate_limiter lim(ioc.get_executor(), {.enabled = true, .submissions_per_window = 1, .window = 20ms});
        std::vector<std::pair<int, error_code>> results;
        progress done(ioc);
        asio::cancellation_signal sig;
        auto answered = [&](int i, error_code ec) {
            results.emplace_back(i, ec);
            if (!ec) lim.release();
            done.tick();
        };
        lim.async_acquire([&](error_code ec) { answered(0, ec); });
        lim.async_acquire([&](error_code ec) { answered(1, ec); });
        lim.async_acquire(asio::bind_cancellation_slot(sig.slot(), [&](error_code ec) { answered(2, ec); }));
        lim.async_acquire([&](error_code ec) { answered(3, ec); });
        BOOST_TEST(lim.stats().waiting == 3u);
        sig.emit(asio::cancellation_type::terminal);
        BOOST_TEST(lim.stats().waiting == 2u);
        co_await done.wait(4);
        BOOST_REQUIRE(results.size() == 4u);
        BOOST_TEST(results[0].first == 0);
        BOOST_TEST(results[1].first == 2);  // the cancelled one completes first, with an error
        BOOST_TEST((results[1].second == asio::error::operation_aborted));
        BOOST_TEST(results[2].first == 1);
        BOOST_TEST(!results[2].second);
        BOOST_TEST(results[3].first == 3);
        BOOST_TEST(!results[3].second);
        BOOST_TEST(lim.stats().cancelled == 1u);
        BOOST_TEST(lim.stats().granted == 3u);
    });
}

BOOST_AUTO_TEST_CASE(penalize_holds_back_even_a_full_bucket_and_cancel_aborts_waiters)
{
    kiemidi::test::run_bounded([](asio::io_context& ioc) -> asio::awaitable<void> {
        rate_limiter lim(ioc.get_executor(), {.enabled = true, .submissions_per_window = 10, .window = 50ms});
        lim.penalize(std::chrono::hours(1));
        std::vector<error_code> results;
        progress done(ioc);
        for (int i = 0; i < 3; ++i) lim.async_acquire([&](error_code ec) { results.push_back(ec); done.tick(); });
        auto s = lim.stats();
        BOOST_TEST(s.penalties == 1u);
        BOOST_TEST(s.granted == 0u);
        BOOST_TEST(s.waiting == 3u);
        lim.cancel();
        co_await done.wait(3);
        for (auto& ec : results) BOOST_TEST((ec == asio::error::operation_aborted));
        BOOST_TEST(lim.stats().cancelled == 3u);
    });
}

BOOST_AUTO_TEST_CASE(disabled_limiter_grants_everything_at_once)
{
    kiemidi::test::run_bounded([](asio::io_context& ioc) -> asio::awaitable<void> {
        rate_limiter lim(ioc.get_executor(), {.enabled = false, .submissions_per_window = 1, .window = 1h});
        progress done(ioc);
        for (int i = 0; i < 100; ++i) lim.async_acquire([&](error_code ec) { if (!ec) done.tick(); });
        BOOST_TEST(lim.stats().granted_immediately == 100u);
        co_await done.wait(100);
    });
}

BOOST_AUTO_TEST_CASE(destroying_the_limiter_aborts_waiters)
{
    kiemidi::test::run_bounded([](asio::io_context& ioc) -> asio::awaitable<void> {
        std::vector<error_code> results;
        progress done(ioc);
        {
            rate_limiter lim(ioc.get_executor(), {.enabled = true, .submissions_per_window = 1, .window = 1h});
            for (int i = 0; i < 3; ++i) lim.async_acquire([&](error_code ec) { results.push_back(ec); done.tick(); });
        }
        co_await done.wait(3);
        BOOST_TEST(!results[0]);
        BOOST_TEST((results[1] == asio::error::operation_aborted));
        BOOST_TEST((results[2] == asio::error::operation_aborted));
    });
}

BOOST_AUTO_TEST_CASE(acquire_works_with_awaitable_tokens)
{
    kiemidi::test::run_bounded([](asio::io_context& ioc) -> asio::awaitable<void> {
        rate_limiter lim(ioc.get_executor(), {.enabled = true, .submissions_per_window = 2, .window = 10ms});
        for (int i = 0; i < 6; ++i)
        {
            co_await lim.async_acquire(asio::use_awaitable);
            lim.release();
        }
        BOOST_TEST(lim.stats().granted == 6u);
    });
}

BOOST_AUTO_TEST_CASE(finishing_work_is_granted_before_new_work)
{
    kiemidi::test::run_bounded([](asio::io_context& ioc) -> asio::awaitable<void> {
        rate_limiter lim(ioc.get_executor(), {.enabled = true, .submissions_per_window = 1, .window = 1ms});
        std::vector<int> order;
        progress done(ioc);
        bool first = true;
        // the first holds the only token until everything below is queued
        lim.async_acquire([&](error_code) { first = false; done.tick(); });
        co_await done.wait(1);
        BOOST_TEST(!first);
        for (int i = 0; i < 3; ++i)
            lim.async_acquire(kiemidi::admission_priority::start, [&, i](error_code) { order.push_back(i); lim.release(); done.tick(); });
        for (int i = 10; i < 13; ++i)
            lim.async_acquire(kiemidi::admission_priority::finish, [&, i](error_code) { order.push_back(i); lim.release(); done.tick(); });
        BOOST_TEST(lim.stats().waiting == 6u);
        lim.release();
        co_await done.wait(7);
        BOOST_TEST((order == std::vector<int>{10, 11, 12, 0, 1, 2}));
    });
}

BOOST_AUTO_TEST_CASE(a_request_asking_again_after_a_429_goes_to_the_front_of_its_class)
{
    kiemidi::test::run_bounded([](asio::io_context& ioc) -> asio::awaitable<void> {
        using kiemidi::admission_priority;
        using kiemidi::admission_turn;
        rate_limiter lim(ioc.get_executor(), {.enabled = true, .submissions_per_window = 1, .window = 1ms});
        std::vector<int> order;
        progress done(ioc);
        // The first request holds the only token while the others queue, then draws a 429.
        lim.async_acquire([&](error_code) { done.tick(); });
        co_await done.wait(1);
        auto granted = [&](int i) { return [&, i](error_code) { order.push_back(i); lim.release(); done.tick(); }; };
        for (int i = 0; i < 2; ++i) lim.async_acquire(admission_priority::start, granted(i));
        for (int i = 10; i < 12; ++i) lim.async_acquire(admission_priority::finish, granted(i));
        lim.throttled(std::nullopt);
        // Two start requests ask again, in this order, and one finish request.
        lim.async_acquire(admission_priority::start, admission_turn::again, granted(98));
        lim.async_acquire(admission_priority::start, admission_turn::again, granted(99));
        lim.async_acquire(admission_priority::finish, admission_turn::again, granted(19));
        BOOST_TEST(lim.stats().waiting == 7u);
        co_await done.wait(8);
        // Each at the front of its class, in the order they asked again; finishing work still first.
        BOOST_TEST((order == std::vector<int>{19, 10, 11, 98, 99, 0, 1}));
    });
}

BOOST_AUTO_TEST_SUITE_END()
