// Counts the completions of operations a test started concurrently; wait(n) resumes on the
// completions themselves (no polling), bounded like every test by run_bounded's limit.
#ifndef KIEMIDI_TESTS_COMMON_PROGRESS_HPP
#define KIEMIDI_TESTS_COMMON_PROGRESS_HPP

#include "nothrow_awaitable.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <cstddef>

namespace kiemidi::test {

struct progress
{
    explicit progress(boost::asio::io_context& ioc) : timer(ioc) {}
    std::size_t done = 0;
    boost::asio::steady_timer timer;

    /// One more operation completed: wakes wait().
    void tick()
    {
        ++done;
        timer.cancel();
    }

    /// Resumes once `n` operations have completed.
    boost::asio::awaitable<void> wait(std::size_t n)
    {
        while (done < n)
        {
            timer.expires_after(std::chrono::hours(1));  // cancelled by tick(); never runs out
            co_await timer.async_wait(use_nothrow_awaitable);
        }
    }
};

}  // namespace kiemidi::test

#endif
