// Small helpers shared by the batch runner's files: completion tokens, blocking calls on the
// runner's pool, and the "what: diagnostics" text of journals and events. Internal.
#ifndef KIEMIDI_SRC_BATCH_BATCH_SUPPORT_HPP
#define KIEMIDI_SRC_BATCH_BATCH_SUPPORT_HPP

#include "../nothrow_awaitable.hpp"

#include <kiemidi/diagnostics.hpp>
#include <kiemidi/error.hpp>

#include "../async_bridge.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <string>

namespace kiemidi::detail {



/// A completion token whose operation ignores cancellation (paid POSTs, journal writes).
inline auto shielded() { return boost::asio::bind_cancellation_slot(boost::asio::cancellation_slot(), use_nothrow_awaitable); }

using strand_type = boost::asio::strand<boost::asio::any_io_executor>;
using pool_executor = boost::asio::thread_pool::executor_type;

/// "what: diagnostics" for the journal and events; KIE's message is in the diagnostics.
inline std::string describe(const error_code& ec, const diagnostics& diag)
{
    std::string m = ec.message();
    auto d = diag.to_string();
    if (!d.empty()) m += ": " + d;
    return m;
}

/// Runs `f` (returning error_code) on the pool thread; resumes on the caller's executor. Not
/// cancellable: a journal write, once started, completes. Callers pass a named closure: g++ 12
/// would destroy a temporary one inside the co_await twice.
template <class F>
boost::asio::awaitable<error_code> on_pool(pool_executor pool, F f)
{
    // Named, not a temporary inside co_await: g++ 12 would destroy the closure twice.
    auto body = [fn = std::move(f)]() mutable -> boost::asio::awaitable<error_code> { co_return fn(); };
    auto [ep, ec] = co_await boost::asio::co_spawn(pool, std::move(body), shielded());
    if (ep) co_return detail::exception_code(ep);
    co_return ec;
}

}  // namespace kiemidi::detail

#endif
