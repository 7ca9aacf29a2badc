/// @file
/// kiemidi Redis callback hub: several kiemidi instances behind one callback URL share callbacks.
///
/// KIE calls the one public callback URL, so behind a load balancer a callback often lands on an
/// instance other than the one whose coroutine waits for that task. Each instance's listener hands
/// its callbacks to this hub, which stores each one in Redis under its kind and task id (SET NX with a TTL)
/// and publishes it on a channel; every instance delivers published callbacks to its own waiters,
/// and a wait that starts later (or after a restart) finds the stored callback with a GET.
/// When Redis is away the hub keeps working locally; waits elsewhere then fall back to polling.
#ifndef KIEMIDI_REDIS_CALLBACK_HUB_HPP
#define KIEMIDI_REDIS_CALLBACK_HUB_HPP

#include <kiemidi/default_token.hpp>
#include <kiemidi/callback_hub.hpp>
#include <kiemidi/in_process_callback_hub.hpp>
#include <kiemidi/redis/connection_options.hpp>
#include <kiemidi/redis/error.hpp>

#include <boost/asio/any_completion_handler.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

namespace kiemidi {

/// Where the Redis hub keeps callbacks and how long.
struct redis_callback_hub_options
{
    /// The Redis server (both the command and the subscriber connection use it).
    redis::connection_options redis;
    /// Prefix of every key and of the channel, so several deployments can share one Redis:
    /// callbacks are kept under "<prefix>cb:<kind>:<task id>" with kind `separation` or `midi` (and
    /// "<prefix>ref:<reference>" names that key for callbacks with a reference), and published on
    /// "<prefix>callbacks".
    std::string key_prefix = "kiemidi:";
    /// How long Redis keeps a callback. Longer than the longest time between a callback and the
    /// wait that picks it up (e.g. an instance restart plus journal resume).
    std::chrono::milliseconds key_ttl{std::chrono::hours(1)};
    /// Limits of the local part (waiters, duplicate memory, callbacks kept while Redis is away).
    callback_hub_options local;
    /// How long async_stop lets Redis commands in flight (callbacks being stored) finish before
    /// it closes the connections (cancelling the stop closes them at once).
    std::chrono::milliseconds stop_grace{5000};
};

/// What the Redis side of the hub did, a snapshot.
struct redis_callback_hub_stats
{
    bool connected = false;                 ///< The command connection is up.
    bool subscribed = false;                ///< The subscriber connection is up and subscribed.
    std::uint64_t stored_total = 0;         ///< Callbacks this instance stored in Redis (first copy of a kind and task).
    std::uint64_t published_total = 0;      ///< Of those, published because no local waiter took them.
    std::uint64_t already_stored_total = 0; ///< Callbacks Redis already had (KIE's repeats, possibly via other instances).
    std::uint64_t messages_total = 0;       ///< Callbacks received on the channel (from any instance).
    std::uint64_t remote_delivered_total = 0; ///< Waits completed by a callback another instance received (channel or GET).
    std::uint64_t lookups_total = 0;        ///< GETs made when a wait started or after a reconnect.
    std::uint64_t store_failures_total = 0; ///< Callbacks that could not be stored (Redis away or erroring); kept locally and stored after reconnect.
    std::uint64_t malformed_total = 0;      ///< Stored or published values that were not a kiemidi callback (ignored).
    redis::connection_stats commands;       ///< The command connection's counters.
    redis::connection_stats subscriber;     ///< The subscriber connection's counters.
};

/// A callback_hub shared by several instances through Redis.
///
/// Composed of an in_process_callback_hub (local waiters, duplicate suppression, the buffer used
/// while Redis is away) and two Redis connections of its own (commands; pub/sub). Construction starts
/// connecting; async_connect waits until both connections are up.
///
/// @par Delivery
/// Everything is keyed by kind and task id (see callback_hub::async_wait).
/// deliver(): a local waiter gets the callback at once; in any case it is stored in Redis with
/// SET NX PX (so a repeated callback costs one command and is not published again) and, when no
/// local waiter took it, published. A wait registers locally, then GETs the stored callback, so
/// a callback that arrived before the wait started is found; the race with the channel is
/// harmless because the local hub hands a callback to a waiter at most once. After either
/// connection comes back, every local waiter looks its task up again, and callbacks that could
/// not be stored meanwhile are stored and published.
///
/// @par Thread safety
/// Every member function may be called concurrently from any thread; handlers are posted.
///
/// @par Object lifetimes
/// The io_context must outlive the hub. Destroying the hub completes pending waits with
/// client_errc::shut_down and closes both connections without waiting; after async_stop
/// completed nothing of the hub runs any more.
class redis_callback_hub final : public callback_hub
{
public:
    /// Starts connecting to Redis (without waiting); handlers without an associated executor run on `ex`.
    KIEMIDI_DECL explicit redis_callback_hub(boost::asio::any_io_executor ex, redis_callback_hub_options opts = {});
    /// Closes both connections and completes pending waits with client_errc::shut_down.
    KIEMIDI_DECL ~redis_callback_hub() override;

    /// Waits until the command connection is up and the subscriber is subscribed.
    ///
    /// @par Handler signature
    /// void(error_code): the first failure of either connection (redis_errc::connect_failed,
    /// timeout, closed, ...); the hub keeps retrying in the background and works locally meanwhile.
    /// @par Cancellation
    /// terminal, partial and total: completes with boost::asio::error::operation_aborted.
    template <boost::asio::completion_token_for<void(error_code)> Token = kiemidi::default_token_t<executor_type>>
    auto async_connect(Token&& token = {})
    {
        return boost::asio::async_initiate<Token, void(error_code)>(
            [this](auto handler) { start_connect(boost::asio::any_completion_handler<void(error_code)>(std::move(handler))); },
            token);
    }

    KIEMIDI_DECL executor_type get_executor() const noexcept override;
    KIEMIDI_DECL deliver_result deliver(callback_message msg) override;
    KIEMIDI_DECL void close() override;
    /// The local part's sizes and counters (waits, local deliveries, local buffer).
    KIEMIDI_DECL callback_hub_stats stats() const override;

    /// The Redis part's counters and connection state.
    KIEMIDI_DECL redis_callback_hub_stats redis_stats() const;

protected:
    KIEMIDI_DECL void start_wait(callback_kind kind, std::string task_id,
                                 boost::asio::any_completion_handler<wait_signature> handler) override;
    /// Waits by reference: locally, and through the "<prefix>ref:<reference>" index kept in Redis
    /// next to each stored callback, so a callback that landed on another instance is found too.
    KIEMIDI_DECL void start_wait_reference(std::string reference,
                                           boost::asio::any_completion_handler<wait_signature> handler) override;
    /// Refuses new waits and deliveries, lets the Redis commands in flight finish (within
    /// stop_grace), then closes both connections.
    KIEMIDI_DECL void start_stop(boost::asio::any_completion_handler<void(error_code)> handler) override;

private:
    KIEMIDI_DECL void start_connect(boost::asio::any_completion_handler<void(error_code)> handler);

    struct state;
    std::shared_ptr<state> state_;
};

/// The JSON form of a callback kept in Redis (every field, `reference` included).
KIEMIDI_DECL std::string serialize_callback(const callback_message& msg);
/// Parses serialize_callback's output; false when `text` is not one.
KIEMIDI_DECL bool parse_callback(std::string_view text, callback_message& out);

}  // namespace kiemidi

#endif
