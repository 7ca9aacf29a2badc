/// @file
/// kiemidi callback hub: routes verified KIE callbacks to the coroutine waiting for that task.
///
/// The listener hands every verified callback to deliver(); a client waits with
/// async_wait(kind, task_id). A callback is named by its kind (the callback URL it arrived on) and
/// its task id together: KIE may give a MIDI task the id of the separation it transcribes (its MIDI
/// page's own example does), so an id alone does not say which result a body carries.
/// KIE may call back before the submit answer has even been read, so a callback nobody waits for
/// yet is buffered (bounded, with a TTL) and handed to the first later waiter. KIE may also call
/// back more than once: a callback for a task already delivered is reported duplicate and dropped.
/// The hub knows nothing about HTTP. This header is the interface and its vocabulary; the
/// implementations are in_process_callback_hub.hpp and redis_callback_hub.hpp.
#ifndef KIEMIDI_CALLBACK_HUB_HPP
#define KIEMIDI_CALLBACK_HUB_HPP

#include <kiemidi/default_token.hpp>
#include <kiemidi/config.hpp>
#include <kiemidi/error.hpp>

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/async_result.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>

namespace kiemidi {

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
    std::string reference;                                    ///< The `ref` query parameter of the callback URL it arrived on; empty when none.
};

/// What deliver() did with a callback.
enum class deliver_result
{
    delivered,  ///< A waiter was registered for the kind and task; its handler has been posted.
    buffered,   ///< Nobody waits yet; kept for the first later async_wait (until buffer_ttl).
    duplicate,  ///< A callback of the same kind and task was already delivered or buffered (or the hub is closed); this one was dropped.
};

/// Limits of a hub's local memory. All bounds are enforced lazily, on each call.
struct callback_hub_options
{
    /// How long a callback nobody waits for is kept.
    std::chrono::milliseconds buffer_ttl{std::chrono::minutes(10)};
    /// At most this many buffered callbacks; beyond it the oldest is evicted.
    std::size_t max_buffered = 100000;
    /// How long a delivered (kind, task id) is remembered to recognise KIE's repeated callbacks.
    std::chrono::milliseconds remember_delivered_ttl{std::chrono::hours(1)};
    /// At most this many remembered (kind, task id) pairs; beyond it the oldest is forgotten.
    std::size_t max_remembered_delivered = 100000;
    /// Monotonic clock used for the TTLs; empty means std::chrono::steady_clock::now (tests inject one).
    std::function<std::chrono::steady_clock::time_point()> clock;
};

/// Counters and sizes, a consistent snapshot.
struct callback_hub_stats
{
    std::size_t waiting = 0;                 ///< Registered waiters right now.
    std::size_t buffered = 0;                ///< Buffered callbacks right now.
    std::size_t remembered = 0;              ///< Delivered (kind, task id) pairs remembered right now.
    std::uint64_t delivered_total = 0;       ///< Callbacks handed to a waiter (directly or from the buffer).
    std::uint64_t buffered_total = 0;        ///< Callbacks that were buffered on arrival.
    std::uint64_t duplicates_total = 0;      ///< Callbacks dropped as duplicates.
    std::uint64_t expired_total = 0;         ///< Buffered callbacks dropped because buffer_ttl elapsed.
    std::uint64_t overflowed_total = 0;      ///< Buffered callbacks dropped because max_buffered was reached.
    std::uint64_t cancelled_total = 0;       ///< Waits that ended with operation_aborted.
    std::size_t waiting_references = 0;      ///< Registered waits by callback reference right now.
};

/// Where verified callbacks go, and where waits pick them up: the seam between the listener
/// (which only verifies) and the client (which only waits).
///
/// Two implementations ship: in_process_callback_hub (one process, no dependency) and, when
/// built with Redis, redis_callback_hub (several instances behind one callback URL). Any other
/// store can implement the same four operations.
///
/// @par Thread safety
/// Implementations allow every member function to be called concurrently from any thread and
/// never invoke a handler from inside deliver() or async_wait(): handlers are posted.
class callback_hub
{
public:
    /// The executor type of the hub's handlers.
    using executor_type = boost::asio::any_io_executor;
    /// Handler signature of async_wait (and the waits by reference).
    using wait_signature = void(error_code, callback_message);

    /// Destroys the hub; no wait may be pending.
    virtual ~callback_hub() = default;

    /// The executor handlers without an associated executor run on.
    virtual executor_type get_executor() const noexcept = 0;

    /// Waits for the callback of kind `kind` (the callback URL it arrives on) for task `task_id`.
    ///
    /// @par Routing
    /// By kind and task id together: a callback of the other kind for the same id (KIE may give a
    /// MIDI task its separation's id) never completes this wait, and duplicates are recognised
    /// per kind.
    /// @par Handler signature
    /// void(error_code, callback_message). Completes at once (posted) when a callback of that kind
    /// for the task was buffered. Errors: boost::asio::error::operation_aborted (cancelled),
    /// boost::asio::error::already_started (another wait for the same kind and task id is pending: at most
    /// one waiter per kind and task), client_errc::shut_down (close() was called or the hub was destroyed).
    /// @par Object lifetimes
    /// `task_id` is copied.
    /// @par Cancellation
    /// terminal, partial and total: the wait completes with operation_aborted and its registration
    /// is removed, so a later callback for the task is buffered again.
    template <boost::asio::completion_token_for<wait_signature> Token = kiemidi::default_token_t<executor_type>>
    auto async_wait(callback_kind kind, std::string task_id, Token&& token = {})
    {
        return boost::asio::async_initiate<Token, wait_signature>(
            [this](auto handler, callback_kind k, std::string id) {
                start_wait(k, std::move(id), boost::asio::any_completion_handler<wait_signature>(std::move(handler)));
            },
            token, kind, std::move(task_id));
    }

    /// Waits for a callback whose `callback_message::reference` equals `reference` (the `ref`
    /// query parameter of its callback URL, see callback_reference.hpp). This finds the task of
    /// a paid submission whose answer was lost: the callback names the task id.
    ///
    /// @par Handler signature
    /// void(error_code, callback_message): a copy of the callback, of either kind (a reference is
    /// made for one submission; check callback_message::kind). It stays available to
    /// async_wait(kind, task_id) as usual (a buffered callback is not consumed). Completes at once when
    /// such a callback is buffered. Errors: boost::asio::error::operation_aborted (cancelled),
    /// boost::asio::error::already_started (another wait for the same reference is pending),
    /// boost::asio::error::operation_not_supported (this hub cannot look up references),
    /// client_errc::shut_down (closed). It has no timeout of its own: bound it with a timer.
    /// @par Cancellation
    /// terminal, partial and total, as async_wait.
    template <boost::asio::completion_token_for<wait_signature> Token = kiemidi::default_token_t<executor_type>>
    auto async_wait_reference(std::string reference, Token&& token = {})
    {
        return boost::asio::async_initiate<Token, wait_signature>(
            [this](auto handler, std::string ref) {
                start_wait_reference(std::move(ref), boost::asio::any_completion_handler<wait_signature>(std::move(handler)));
            },
            token, std::move(reference));
    }

    /// Hands a verified callback to its waiter, or keeps it for a later one, or drops it as a
    /// duplicate. Never runs user code: a waiter's handler is posted.
    virtual deliver_result deliver(callback_message msg) = 0;

    /// Completes every pending wait with client_errc::shut_down; later waits fail the same way.
    /// Returns at once; what the hub still has in flight (e.g. a Redis store) ends later.
    virtual void close() = 0;

    /// Graceful stop, in the shape every embedded server of kiemidi shares (see callback_listener):
    /// as close() (pending waits complete with client_errc::shut_down, later waits and deliveries
    /// are refused), then what the hub still has in flight finishes within its grace period (a
    /// Redis hub: callbacks being stored in Redis, so other instances find them) and is cut after it.
    /// Stop the listener first: callbacks it hands over after this began are refused.
    ///
    /// @par Handler signature
    /// void(error_code), once nothing of the hub runs any more (the hub may then be destroyed at
    /// once): success, boost::asio::error::timed_out (the grace ran out and the rest was cut) or
    /// boost::asio::error::operation_aborted (this stop was cancelled).
    /// @par Cancellation
    /// terminal, partial and total: cuts what is left at once; still completes only when nothing
    /// of the hub runs.
    template <boost::asio::completion_token_for<void(error_code)> Token = kiemidi::default_token_t<executor_type>>
    auto async_stop(Token&& token = {})
    {
        return boost::asio::async_initiate<Token, void(error_code)>(
            [this](auto handler) { start_stop(boost::asio::any_completion_handler<void(error_code)>(std::move(handler))); },
            token);
    }

    /// A snapshot of sizes and counters.
    virtual callback_hub_stats stats() const = 0;

protected:
    /// For implementations (in_process_callback_hub, redis_callback_hub, or one's own).
    callback_hub() = default;
    /// Not copyable.
    callback_hub(const callback_hub&) = delete;
    /// Not copy-assignable.
    callback_hub& operator=(const callback_hub&) = delete;

    /// Registers `handler` as the waiter of callbacks of `kind` for `task_id` (the type-erased body of async_wait).
    virtual void start_wait(callback_kind kind, std::string task_id,
                            boost::asio::any_completion_handler<wait_signature> handler) = 0;

    /// Starts async_stop. This default, for hubs that run nothing of their own: close(), then
    /// completes (posted) with success.
    KIEMIDI_DECL virtual void start_stop(boost::asio::any_completion_handler<void(error_code)> handler);

    /// Registers `handler` as the waiter of callbacks tagged `reference` (the body of
    /// async_wait_reference). This default completes with boost::asio::error::operation_not_supported.
    KIEMIDI_DECL virtual void start_wait_reference(std::string reference,
                                                   boost::asio::any_completion_handler<wait_signature> handler);
};

}  // namespace kiemidi

#endif
