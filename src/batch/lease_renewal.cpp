// The lease renewal of a batch whose tracks are claimed under a lease (a shared batch): while
// this worker holds tracks, their leases are renewed every third of the lease, so a lease
// outlives two failed renewals; a track another worker took over meanwhile is marked lost and
// its wait for KIE ends, freeing the worker's slot (the new owner waits for that task now).
#include "batch_worker.hpp"
#include "../nothrow_awaitable.hpp"

#include <boost/asio/this_coro.hpp>

#include <algorithm>

namespace asio = boost::asio;

namespace kiemidi::detail {

using std::chrono::milliseconds;

asio::awaitable<void> renew_leases(run_state* st_ptr)
{
    auto& st = *st_ptr;
    co_await asio::this_coro::throw_if_cancelled(false);
    asio::steady_timer timer(co_await asio::this_coro::executor);
    const auto period = std::max(milliseconds(10), st.state.lease().value_or(milliseconds(0)) / 3);
    for (;;)
    {
        timer.expires_after(period);
        auto [tec] = co_await timer.async_wait(use_nothrow_awaitable);
        if (tec) co_return;
        std::vector<std::int64_t> lost;
        diagnostics diag;
        auto ec = co_await st.state.renew(&lost, &diag);
        if (ec == asio::error::operation_aborted) co_return;
        if (ec) continue;  // the next period tries again; a lease outlives two failed renewals
        for (auto id : lost)
        {
            st.lost.insert(id);
            if (auto it = st.wait_timers.find(id); it != st.wait_timers.end()) it->second->cancel();
        }
    }
}

}  // namespace kiemidi::detail
