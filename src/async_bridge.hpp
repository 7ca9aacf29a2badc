// Bridges a coroutine compiled in src/ to a type-erased completion handler, preserving the
// handler's associated executor and cancellation slot (so per-operation cancellation reaches
// the coroutine through co_spawn). Internal: used only inside kiemidi's .cpp files.
#ifndef KIEMIDI_SRC_ASYNC_BRIDGE_HPP
#define KIEMIDI_SRC_ASYNC_BRIDGE_HPP

#include <kiemidi/error.hpp>

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/strand.hpp>
#include <boost/system/system_error.hpp>

#include <exception>
#include <tuple>
#include <utility>

namespace kiemidi::detail {

/// The error_code an exception stands for: a system_error's own code (e.g. operation_aborted
/// thrown by a cancelled coroutine), otherwise errc::state_not_recoverable.
inline error_code exception_code(std::exception_ptr e) noexcept
{
    try { std::rethrow_exception(e); }
    catch (const boost::system::system_error& se) { return se.code(); }
    catch (...) { return make_error_code(boost::system::errc::state_not_recoverable); }
}

/// Runs `op` (an awaitable<std::tuple<error_code, T>>) on `ex` and completes `handler` with its
/// result. An escaping exception (kiemidi code throws none on purpose; a cancelled coroutine may)
/// is reported through exception_code() rather than lost.
template <class T, class Executor>
void spawn_with_handler(Executor ex, boost::asio::awaitable<std::tuple<error_code, T>> op,
                        boost::asio::any_completion_handler<void(error_code, T)> handler)
{
    auto slot = boost::asio::get_associated_cancellation_slot(handler);
    auto handler_ex = boost::asio::get_associated_executor(handler, ex);
    // Each operation runs on its own strand: its inner `||` races and the cancellation signals
    // they emit then never run concurrently with the operation's own steps, even when the
    // io_context runs on several threads (cancellation slots are not thread-safe).
    boost::asio::co_spawn(
        boost::asio::make_strand(ex), std::move(op),
        boost::asio::bind_cancellation_slot(
            slot, boost::asio::bind_executor(handler_ex, [h = std::move(handler)](std::exception_ptr e, std::tuple<error_code, T> r) mutable {
                if (e) std::move(h)(exception_code(e), T{});
                else std::move(h)(std::get<0>(r), std::move(std::get<1>(r)));
            })));
}

}  // namespace kiemidi::detail

#endif
