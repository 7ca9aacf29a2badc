// The state behind kiemidi::redis::connection: hiredis' asynchronous API on Asio. hiredis owns
// the socket and the RESP parsing; it tells us through its ev hooks when it wants to read or
// write, and we watch the descriptor with stream_descriptor::async_wait and call
// redisAsyncHandleRead/Write when it is ready.
//
// Everything that touches the hiredis context runs on one strand. hiredis invokes our reply
// callbacks from inside redisAsyncHandleRead (and with a null reply when the context is freed),
// so those callbacks only record and post: no user code, and no freeing of the context, ever
// runs inside hiredis. A context is freed only from our own handlers (close, timeouts, failed
// handshake) or by hiredis itself on I/O errors; either way the ev cleanup hook tells us, and a
// generation counter makes the stale socket waits of a freed context harmless.
//
// Those rules hold only if every piece of code that can touch the context keeps them, so every
// such function is declared here, in one struct, with the file that defines it:
//   hiredis_adapter.cpp   the ev hooks, the socket waits, the context going away
//   connect_attempts.cpp  one attempt (resolve, TCP, AUTH/SELECT/PING) and the backoff between them
//   commands.cpp          handing a command to hiredis, its reply, timeout and completion
//   subscription.cpp      SUBSCRIBE and the pub/sub messages
//   connection.cpp        the public members, connect waiters, up/down, close, cancellation
// Only files compiled with hiredis' flags include this header (see src/CMakeLists.txt).
#ifndef KIEMIDI_SRC_REDIS_CONNECTION_IMPL_HPP
#define KIEMIDI_SRC_REDIS_CONNECTION_IMPL_HPP

#include "connection.hpp"

#include <boost/asio/any_completion_executor.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>

#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

namespace kiemidi::redis {

struct connection::impl : std::enable_shared_from_this<impl>
{
    using command_handler = boost::asio::any_completion_handler<connection::command_signature>;
    using connect_handler = boost::asio::any_completion_handler<connection::connect_signature>;

    // privdata of SUBSCRIBE: hiredis calls that callback for the confirmation and every message.
    static constexpr std::uintptr_t subscription_tag = 0;

    enum class phase
    {
        idle,         // never started
        connecting,   // resolving, TCP connect, AUTH/SELECT/PING
        subscribing,  // connected, (re)subscribing the channels
        connected,
        backoff,      // waiting before the next attempt
        closed,
    };

    struct pending_command
    {
        command_handler handler;  // user handler, or an internal one bound to the strand
        diagnostics* diag = nullptr;
        std::string name;  // the command, for diagnostics
        std::unique_ptr<boost::asio::steady_timer> timer;
        boost::asio::any_completion_executor work;
        bool internal = false;
    };
    struct connect_waiter
    {
        connect_handler handler;
        diagnostics* diag = nullptr;
        boost::asio::any_completion_executor work;
    };

    boost::asio::any_io_executor ex;
    boost::asio::strand<boost::asio::any_io_executor> strand;
    connection_options opts;

    // ---- strand-only state ----
    phase ph = phase::idle;
    redisAsyncContext* ac = nullptr;
    std::optional<boost::asio::posix::stream_descriptor> sd;
    std::uint64_t gen = 0;  // bumped whenever a context goes away
    bool want_read = false, want_write = false, read_armed = false, write_armed = false;
    bool attempt_timed_out = false;
    std::string attempt_error;  // hiredis' or Redis' words about the last failed attempt
    unsigned failed_attempts = 0;
    boost::asio::ip::tcp::resolver resolver;
    boost::asio::steady_timer connect_timer;
    boost::asio::steady_timer backoff_timer;
    std::minstd_rand rng{std::random_device{}()};
    std::uint64_t next_id = 1;
    std::unordered_map<std::uint64_t, pending_command> commands;
    std::unordered_map<std::uint64_t, connect_waiter> connect_waiters;
    std::unordered_map<std::uint64_t, connect_waiter> subscribe_waiters;
    std::set<std::string> channels;     // subscribed (or to subscribe) for good
    std::set<std::string> unconfirmed;  // sent on this connection, not yet confirmed
    message_handler on_message;
    state_handler on_state;

    // ---- readable from any thread ----
    std::atomic<bool> subscriber{false};
    std::atomic<bool> up{false};
    mutable std::mutex stats_mtx;
    connection_stats counters;

    impl(boost::asio::any_io_executor e, connection_options o);
    ~impl();

    template <class F>
    void bump(F f)
    {
        std::lock_guard lk(stats_mtx);
        f(counters);
    }

    // ---- completions (always posted); connection.cpp, commands.cpp ----
    void complete_command(pending_command p, error_code ec, reply r);
    void complete_connect(connect_waiter w, error_code ec);
    void complete_all_connect_waiters(error_code ec);
    void complete_all_subscribe_waiters(error_code ec);
    void set_up(bool v);

    // ---- the hiredis event hooks; hiredis_adapter.cpp ----
    static void ev_add_read(void* p);
    static void ev_del_read(void* p);
    static void ev_add_write(void* p);
    static void ev_del_write(void* p);
    static void ev_cleanup(void* p);
    void arm_read();
    void arm_write();
    void context_freed();

    // ---- hiredis reply callback and sending; commands.cpp ----
    static void on_reply(redisAsyncContext* c, void* r, void* priv);
    void on_command_reply(std::uint64_t id, redisReply* r, redisAsyncContext* c);
    void send(std::vector<std::string> args, pending_command p, bool subscription = false);
    void finish_early(std::uint64_t id, error_code ec);

    // ---- pub/sub; subscription.cpp ----
    void on_subscription_reply(redisReply* r);
    void subscribe_now(std::vector<std::string> chans);

    // ---- connecting; connect_attempts.cpp ----
    void start();
    void attempt();
    void fail_without_context();
    void abort_attempt();
    void open(const std::string& address);
    void send_handshake(std::vector<std::string> args, std::uint64_t g, bool last);
    void connected();
    void after_context_gone();
    void schedule_reconnect();

    // ---- closing and cancellation; connection.cpp ----
    void do_close();
    template <class Handler>
    void watch_cancellation(Handler& h, std::uint64_t id, int which);
    void cancel_op(std::uint64_t id, int which);
};

}  // namespace kiemidi::redis

#endif
