// Runs one client operation (an awaitable<std::tuple<error_code, T>>) as detail::spawn_with_handler
// does, and also counts it in the client's pending operations (client_life) so that
// client::async_shutdown stops it and waits for it. Internal.
#ifndef KIEMIDI_SRC_CLIENT_TRACKED_SPAWN_HPP
#define KIEMIDI_SRC_CLIENT_TRACKED_SPAWN_HPP

#include "../async_bridge.hpp"
#include "client_life.hpp"

#include <boost/asio/append.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>

#include <memory>
#include <tuple>
#include <utility>

namespace kiemidi::detail {

/// Completes `handler` with client_errc::shut_down, later, on its own executor: an operation
/// started while its client shuts down.
template <class T>
void refuse_after_shutdown(const boost::asio::any_io_executor& ex,
                           boost::asio::any_completion_handler<void(error_code, T)> handler)
{
    // post runs the handler through its associated executor (`ex` when it has none).
    boost::asio::post(ex, boost::asio::append(std::move(handler), error_code(client_errc::shut_down), T{}));
}

/// As spawn_tracked, with the strand the operation runs on given (an operation whose coroutine
/// shares that strand with work it spawns itself, e.g. a batch run and its workers).
template <class T>
void spawn_tracked_on(client_life& life, const boost::asio::any_io_executor& ex, boost::asio::any_io_executor strand_ex,
                      boost::asio::awaitable<std::tuple<error_code, T>> op,
                      boost::asio::any_completion_handler<void(error_code, T)> handler)
{
    // The operation's own signal, on its strand: the caller's cancellation and the shutdown both
    // reach the coroutine through it (cancellation slots are not thread-safe).
    struct state
    {
        explicit state(boost::asio::any_io_executor s) : strand(std::move(s)) {}
        boost::asio::any_io_executor strand;
        boost::asio::cancellation_signal signal;
        bool done = false;
        bool shut_down = false;
    };
    auto st = std::make_shared<state>(std::move(strand_ex));
    std::weak_ptr<state> w = st;
    auto ticket = life.enter([w] {
        if (auto s = w.lock())
            boost::asio::dispatch(s->strand, [s] {
                if (s->done) return;
                s->shut_down = true;
                s->signal.emit(boost::asio::cancellation_type::terminal);
            });
    });
    if (!ticket)
    {
        refuse_after_shutdown<T>(ex, std::move(handler));
        return;
    }
    auto slot = boost::asio::get_associated_cancellation_slot(handler);
    if (slot.is_connected())
        slot.assign([w](boost::asio::cancellation_type type) {
            if (auto s = w.lock())
                boost::asio::dispatch(s->strand, [s, type] {
                    if (!s->done) s->signal.emit(type);
                });
        });
    auto strand = st->strand;
    boost::asio::co_spawn(
        strand, std::move(op),
        boost::asio::bind_cancellation_slot(
            st->signal.slot(),
            [st, ex, t = std::move(ticket), h = std::move(handler)](std::exception_ptr e, std::tuple<error_code, T> r) mutable {
                st->done = true;
                error_code ec = e ? exception_code(e) : std::get<0>(r);
                if (st->shut_down && ec == boost::asio::error::operation_aborted) ec = client_errc::shut_down;
                // The caller's cancellation slot is cleared on the handler's own executor, where
                // the caller may emit.
                auto hex = boost::asio::get_associated_executor(h, ex);
                boost::asio::dispatch(hex, [h = std::move(h), ec, v = e ? T{} : std::move(std::get<1>(r))]() mutable {
                    auto slot = boost::asio::get_associated_cancellation_slot(h);
                    if (slot.is_connected()) slot.clear();
                    std::move(h)(ec, std::move(v));
                });
            }));
}

template <class T>
void spawn_tracked(client_life& life, const boost::asio::any_io_executor& ex,
                   boost::asio::awaitable<std::tuple<error_code, T>> op,
                   boost::asio::any_completion_handler<void(error_code, T)> handler)
{
    spawn_tracked_on<T>(life, ex, boost::asio::make_strand(ex), std::move(op), std::move(handler));
}

}  // namespace kiemidi::detail

#endif
