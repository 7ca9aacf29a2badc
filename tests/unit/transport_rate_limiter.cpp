// rate_limiter: token bookkeeping against a manual clock, FIFO-fair queueing of bursts,
// cancellation, penalties. Assertions are on counts and order, never on durations.
#include <kiemidi/transport/rate_limiter.hpp>

#include "common/run_bounded.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/test/unit_test.hpp>

#include <vector>

namespace asio = boost::asio;
using namespace std::chrono_literals;
using kiemidi::error_code;
using kiemidi::rate_limiter;
using kiemidi::token_window;

namespace {

// Counts completed handlers; wait(n) resumes on the completion events themselves.
struct progress
{
    explicit progress(asio::io_context& ioc) : timer(ioc) {}
    std::size_t done = 0;
    asio::steady_timer timer;
    void tick()
    {
        ++done;
        timer.cancel();
    }
    asio::awaitable<void> wait(std::size_t n)
    {
        while (done < n)
        {
            timer.expires_after(std::chrono::hours(1));  // cancelled by tick(); never runs out
            co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
        }
    }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(transport_rate_limiter)

BOOST_AUTO_TEST_CASE(token_window_admits_n_per_window_with_a_manual_clock)
{
    const auto t0 = token_window::clock::time_point{} + 1h;
    token_window w(3, 1000ms);
    BOOST_TEST(w.available(t0) == 3u);
    BOOST_TEST(w.try_take(t0));
    BOOST_TEST(w.try_take(t0 + 100ms));
    BOOST_TEST(w.try_take(t0 + 200ms));
    BOOST_TEST(!w.try_take(t0 + 300ms));
    BOOST_TEST((w.next_available(t0 + 300ms) == t0 + 1000ms));
    BOOST_TEST(!w.try_take(t0 + 999ms));
    BOOST_TEST(w.try_take(t0 + 1000ms));   // the first token is back exactly one window later
    BOOST_TEST(!w.try_take(t0 + 1050ms));
    BOOST_TEST(w.available(t0 + 1150ms) == 1u);  // tokens due at 1100, 1200, 2000
    BOOST_TEST(w.available(t0 + 1200ms) == 2u);
    BOOST_TEST(w.available(t0 + 5000ms) == 3u);
}

BOOST_AUTO_TEST_CASE(token_window_never_admits_more_than_n_in_any_window)
{
    const auto t0 = token_window::clock::time_point{} + 1h;
    token_window w(19, 10000ms);
    std::vector<token_window::clock::time_point> grants;
    for (auto t = t0; t < t0 + 60000ms; t += 137ms)  // a greedy caller trying every 137 ms
        if (w.try_take(t)) grants.push_back(t);
    BOOST_TEST(grants.size() > 19u * 5);
    for (std::size_t i = 19; i < grants.size(); ++i) BOOST_TEST((grants[i] - grants[i - 19] >= 10000ms));
}

BOOST_AUTO_TEST_CASE(token_window_block_until_delays_every_token)
{
    const auto t0 = token_window::clock::time_point{} + 1h;
    token_window w(5, 100ms);
    BOOST_TEST(w.try_take(t0));
    w.block_until(t0 + 10000ms);
    BOOST_TEST(w.available(t0 + 9999ms) == 0u);
    BOOST_TEST((w.next_available(t0) == t0 + 10000ms));
    BOOST_TEST(w.available(t0 + 10000ms) == 5u);
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
                done.tick();
            });
        // counted, before anything ran: the first window's tokens were taken, the rest queue
        auto s = lim.stats();
        BOOST_TEST(s.granted == 50u);
        BOOST_TEST(s.granted_immediately == 50u);
        BOOST_TEST(s.queued == 950u);
        BOOST_TEST(s.waiting == 950u);
        co_await done.wait(1000);
        BOOST_TEST(failures == 0u);
        BOOST_TEST(order.size() == 1000u);
        bool fifo = true;
        for (int i = 0; i < 1000; ++i) fifo = fifo && order[static_cast<std::size_t>(i)] == i;
        BOOST_TEST(fifo);
        s = lim.stats();
        BOOST_TEST(s.granted == 1000u);
        BOOST_TEST(s.granted_immediately == 50u);
        BOOST_TEST(s.waiting == 0u);
        BOOST_TEST(s.cancelled == 0u);
    }, 30s);
}

BOOST_AUTO_TEST_CASE(new_arrivals_queue_behind_earlier_waiters)
{
    kiemidi::test::run_bounded([](asio::io_context& ioc) -> asio::awaitable<void> {
        rate_limiter lim(ioc.get_executor(), {.enabled = true, .submissions_per_window = 1, .window = 20ms});
        std::vector<int> order;
        progress done(ioc);
        for (int i = 0; i < 4; ++i) lim.async_acquire([&, i](error_code) { order.push_back(i); done.tick(); });
        co_await done.wait(2);
        lim.async_acquire([&](error_code) { order.push_back(99); done.tick(); });
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
        lim.async_acquire([&](error_code ec) { results.emplace_back(0, ec); done.tick(); });
        lim.async_acquire([&](error_code ec) { results.emplace_back(1, ec); done.tick(); });
        lim.async_acquire(asio::bind_cancellation_slot(sig.slot(), [&](error_code ec) {
            results.emplace_back(2, ec);
            done.tick();
        }));
        lim.async_acquire([&](error_code ec) { results.emplace_back(3, ec); done.tick(); });
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
        for (int i = 0; i < 6; ++i) co_await lim.async_acquire(asio::use_awaitable);
        BOOST_TEST(lim.stats().granted == 6u);
    });
}

BOOST_AUTO_TEST_SUITE_END()
