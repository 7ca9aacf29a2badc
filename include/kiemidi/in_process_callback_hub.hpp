/// @file
/// kiemidi in-process callback hub: the default hub, for one process (no dependency).
///
/// A (kind, task id) → waiter map with an early-callback buffer (bounded, with a TTL) and duplicate
/// suppression per kind, all behind one mutex. Waits by callback reference scan the buffer: they are rare
/// (only after a lost submission answer), so the buffer carries no second index.
#ifndef KIEMIDI_IN_PROCESS_CALLBACK_HUB_HPP
#define KIEMIDI_IN_PROCESS_CALLBACK_HUB_HPP

#include <kiemidi/callback_hub.hpp>

#include <memory>

namespace kiemidi {

/// In-process (kind, task id) → waiter map with an early-callback buffer and duplicate suppression.
///
/// @par Thread safety
/// Every member function may be called concurrently from any thread (state is behind a mutex).
/// Handlers are never invoked from inside deliver() or async_wait(): they are posted to the
/// handler's associated executor (default: the hub's executor), so the listener never runs user code.
///
/// @par Object lifetimes
/// The hub must outlive calls to its member functions; pending handlers hold only a reference
/// to internal shared state, so destroying the hub completes pending waits with client_errc::shut_down.
class in_process_callback_hub final : public callback_hub
{
public:
    /// Creates an empty hub; handlers without an associated executor run on `ex`.
    KIEMIDI_DECL explicit in_process_callback_hub(boost::asio::any_io_executor ex, callback_hub_options opts = {});
    /// Completes every pending wait with client_errc::shut_down.
    KIEMIDI_DECL ~in_process_callback_hub() override;

    KIEMIDI_DECL executor_type get_executor() const noexcept override;
    KIEMIDI_DECL deliver_result deliver(callback_message msg) override;
    KIEMIDI_DECL void close() override;
    KIEMIDI_DECL callback_hub_stats stats() const override;

    /// Delivers `msg` only when a waiter for its kind and task is registered here; otherwise does
    /// nothing and returns false. A wait for its reference (async_wait_reference) gets a copy either
    /// way. A hub shared between instances uses this for callbacks another instance received, so
    /// each instance does not buffer every callback of the fleet.
    KIEMIDI_DECL bool deliver_if_waiting(callback_message& msg);

    /// True when a wait for the callback of `kind` for `task_id` is registered here.
    KIEMIDI_DECL bool is_waiting(callback_kind kind, const std::string& task_id) const;

    /// True when a wait for `reference` (async_wait_reference) is registered here.
    KIEMIDI_DECL bool is_waiting_reference(const std::string& reference) const;

protected:
    KIEMIDI_DECL void start_wait(callback_kind kind, std::string task_id,
                                 boost::asio::any_completion_handler<wait_signature> handler) override;
    KIEMIDI_DECL void start_wait_reference(std::string reference,
                                           boost::asio::any_completion_handler<wait_signature> handler) override;

private:
    struct state;
    std::shared_ptr<state> state_;
};

}  // namespace kiemidi

#endif
