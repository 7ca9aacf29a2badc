// kiemidi callback hub: routes verified KIE callbacks to the coroutine waiting for that task.
//
// The listener hands every verified callback to deliver(); a client waits with async_wait(task_id).
// KIE may call back before the submit answer has even been read, so a callback nobody waits for
// yet is buffered (bounded, with a TTL) and handed to the first later waiter. KIE may also call
// back more than once: a callback for a task already delivered is reported duplicate and dropped.
// The hub knows nothing about HTTP; a Redis-backed hub can implement the same small interface.
#ifndef KIEMIDI_CALLBACK_HUB_HPP
#define KIEMIDI_CALLBACK_HUB_HPP

#include <kiemidi/config.hpp>
#include <kiemidi/error.hpp>

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/async_result.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

namespace kiemidi {

namespace asio = boost::asio;

/// Which KIE callback URL a callback arrived on.
enum class callback_kind
{
    separation,  ///< POSTed to the separation callback URL (stem separation finished or failed).
    midi,        ///< POSTed to the MIDI callback URL (MIDI generation finished or failed).
};

/// One verified callback, as the listener received it.
struct callback_message
{
    callback_kind kind = callback_kind::separation;          ///< Which callback URL it arrived on.
    std::string task_id;                                      ///< KIE's task id, taken from the body.
    std::string body;                                         ///< The raw verified JSON body (parse it with kiemidi::api).
    std::chrono::system_clock::time_point received_at{};      ///< When the listener received it.
};

/// What deliver() did with a callback.
enum class deliver_result
{
    delivered,  ///< A waiter was registered for the task; its handler has been posted.
    buffered,   ///< Nobody waits yet; kept for the first later async_wait (until buffer_ttl).
    duplicate,  ///< The task was already delivered or buffered; this callback was dropped.
};

/// Limits of the hub's memory. All bounds are enforced lazily, on each call.
struct callback_hub_options
{
    /// How long a callback nobody waits for is kept.
    std::chrono::milliseconds buffer_ttl{std::chrono::minutes(10)};
    /// At most this many buffered callbacks; beyond it the oldest is evicted.
    std::size_t max_buffered = 100000;
    /// How long a delivered task id is remembered to recognise KIE's repeated callbacks.
    std::chrono::milliseconds remember_delivered_ttl{std::chrono::hours(1)};
    /// At most this many remembered task ids; beyond it the oldest is forgotten.
    std::size_t max_remembered_delivered = 100000;
    /// Monotonic clock used for the TTLs; empty means std::chrono::steady_clock::now (tests inject one).
    std::function<std::chrono::steady_clock::time_point()> clock;
};

/// Counters and sizes, a consistent snapshot.
struct callback_hub_stats
{
    std::size_t waiting = 0;                 ///< Registered waiters right now.
    std::size_t buffered = 0;                ///< Buffered callbacks right now.
    std::size_t remembered = 0;              ///< Delivered task ids remembered right now.
    std::uint64_t delivered_total = 0;       ///< Callbacks handed to a waiter (directly or from the buffer).
    std::uint64_t buffered_total = 0;        ///< Callbacks that were buffered on arrival.
    std::uint64_t duplicates_total = 0;      ///< Callbacks dropped as duplicates.
    std::uint64_t expired_total = 0;         ///< Buffered callbacks dropped because buffer_ttl elapsed.
    std::uint64_t overflowed_total = 0;      ///< Buffered callbacks dropped because max_buffered was reached.
    std::uint64_t cancelled_total = 0;       ///< Waits that ended with operation_aborted.
};

/// In-process task id → waiter map with an early-callback buffer and duplicate suppression.
///
/// @par Thread safety
/// Every member function may be called concurrently from any thread (state is behind a mutex).
/// Handlers are never invoked from inside deliver() or async_wait(): they are posted to the
/// handler's associated executor (default: the hub's executor), so the listener never runs user code.
///
/// @par Object lifetimes
/// The hub must outlive calls to its member functions; pending handlers hold only a reference
/// to internal shared state, so destroying the hub completes pending waits with client_errc::shut_down.
class callback_hub
{
public:
    using executor_type = asio::any_io_executor;
    using wait_signature = void(error_code, callback_message);

    /// Creates an empty hub; handlers without an associated executor run on `ex`.
    KIEMIDI_DECL explicit callback_hub(asio::any_io_executor ex, callback_hub_options opts = {});
    /// Completes every pending wait with client_errc::shut_down.
    KIEMIDI_DECL ~callback_hub();
    callback_hub(const callback_hub&) = delete;
    callback_hub& operator=(const callback_hub&) = delete;

    /// The hub's default executor.
    KIEMIDI_DECL executor_type get_executor() const noexcept;

    /// Waits for the callback of `task_id`.
    ///
    /// @par Handler signature
    /// void(error_code, callback_message). Completes at once (posted) when a callback for the task
    /// was buffered. Errors: asio::error::operation_aborted (cancelled), asio::error::already_started
    /// (another wait for the same task id is pending: at most one waiter per task),
    /// client_errc::shut_down (close() was called or the hub was destroyed).
    /// @par Object lifetimes
    /// `task_id` is copied.
    /// @par Cancellation
    /// terminal, partial and total: the wait completes with operation_aborted and its registration
    /// is removed, so a later callback for the task is buffered again.
    template <asio::completion_token_for<wait_signature> Token = asio::default_completion_token_t<executor_type>>
    auto async_wait(std::string task_id, Token&& token = {})
    {
        return asio::async_initiate<Token, wait_signature>(
            [this](auto handler, std::string id) {
                start_wait(std::move(id), asio::any_completion_handler<wait_signature>(std::move(handler)));
            },
            token, std::move(task_id));
    }

    /// Hands a verified callback to its waiter, or buffers it, or drops it as a duplicate.
    /// Never runs user code: a waiter's handler is posted.
    KIEMIDI_DECL deliver_result deliver(callback_message msg);

    /// Completes every pending wait with client_errc::shut_down; later waits fail the same way.
    KIEMIDI_DECL void close();

    /// A snapshot of sizes and counters.
    KIEMIDI_DECL callback_hub_stats stats() const;

private:
    struct state;
    KIEMIDI_DECL void start_wait(std::string task_id, asio::any_completion_handler<wait_signature> handler);

    std::shared_ptr<state> state_;
};

}  // namespace kiemidi

#endif
