// Runs a test coroutine on its own io_context, bounded in time: if the coroutine has not
// finished within `limit`, it is cancelled and the test fails (never hangs CI). Also the small
// waits such coroutines use: sleep_for, eventually.
#ifndef KIEMIDI_TESTS_COMMON_RUN_BOUNDED_HPP
#define KIEMIDI_TESTS_COMMON_RUN_BOUNDED_HPP

#include "nothrow_awaitable.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <exception>
#include <functional>
#include <memory>
#include <type_traits>
#include <utility>
#include <vector>
#include <thread>
#include <atomic>

namespace kiemidi::test {

/// Runs `make_body(ioc)` (a function returning boost::asio::awaitable<void>) to completion on a fresh
/// io_context run by `threads` threads; fails the current test if it throws or exceeds `limit`.
/// Every thread is joined before it returns.
template <class MakeBody>
void run_bounded_on_threads(MakeBody make_body, int threads,
                            std::chrono::steady_clock::duration limit = std::chrono::seconds(20))
{
    using namespace boost::asio::experimental::awaitable_operators;
    boost::asio::io_context ioc(threads > 1 ? threads : BOOST_ASIO_CONCURRENCY_HINT_DEFAULT);
    std::atomic<bool> timed_out{false};
    std::exception_ptr failure;
    auto guarded = [&]() -> boost::asio::awaitable<void> {
        boost::asio::steady_timer timer(ioc, limit);
        auto which = co_await (make_body(ioc) || timer.async_wait(boost::asio::use_awaitable));
        if (which.index() == 1) timed_out = true;
    };
    boost::asio::co_spawn(ioc, guarded(), [&](std::exception_ptr e) { failure = e; });
    std::vector<std::thread> pool;
    for (int i = 1; i < threads; ++i) pool.emplace_back([&] { ioc.run(); });
    ioc.run();
    for (auto& t : pool) t.join();
    if (failure)
    {
        try { std::rethrow_exception(failure); }
        catch (const std::exception& e) { BOOST_FAIL(std::string("test coroutine threw: ") + e.what()); }
    }
    BOOST_TEST_REQUIRE(!timed_out, "test exceeded its time bound");
}

/// run_bounded_on_threads on the test's own thread alone.
template <class MakeBody>
void run_bounded(MakeBody make_body, std::chrono::steady_clock::duration limit = std::chrono::seconds(20))
{
    run_bounded_on_threads(std::move(make_body), 1, limit);
}

/// Suspends the calling test coroutine for `d` without blocking its io_context.
inline boost::asio::awaitable<void> sleep_for(std::chrono::milliseconds d)
{
    boost::asio::steady_timer t(co_await boost::asio::this_coro::executor, d);
    co_await t.async_wait(use_nothrow_awaitable);
}

/// eventually()'s loop. The predicate comes as a function pointer and its address, not as a
/// template argument: no coroutine frame holds the test's closure type, which g++ refuses
/// (-Wsubobject-linkage) when the closure is a test body's in a unity build's included file.
inline boost::asio::awaitable<void> poll_until(bool (*holds)(void*), void* pred)
{
    while (!holds(pred)) co_await sleep_for(std::chrono::milliseconds(10));
}

/// Waits until `pred()` holds, checking every 10 ms; bounded by run_bounded's limit. Awaited in
/// the expression that creates it (`co_await eventually(...)`), so `pred` outlives the wait.
template <class Pred>
boost::asio::awaitable<void> eventually(Pred&& pred)
{
    using pred_type = std::remove_reference_t<Pred>;
    return poll_until([](void* p) { return static_cast<bool>((*static_cast<pred_type*>(p))()); },
                      const_cast<void*>(static_cast<const void*>(std::addressof(pred))));
}

}  // namespace kiemidi::test

#endif
