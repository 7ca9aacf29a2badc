// hiredis' asynchronous API on Asio. hiredis owns the socket and the RESP parsing; it tells us
// through its ev hooks when it wants to read or write, and we watch the descriptor with
// stream_descriptor::async_wait and call redisAsyncHandleRead/Write when it is ready.
//
// Everything that touches the hiredis context runs on one strand. hiredis invokes our reply
// callbacks from inside redisAsyncHandleRead (and with a null reply when the context is freed),
// so those callbacks only record and post: no user code, and no freeing of the context, ever
// runs inside hiredis. A context is freed only from our own handlers (close, timeouts, failed
// handshake) or by hiredis itself on I/O errors; either way the ev cleanup hook tells us, and a
// generation counter makes the stale socket waits of a freed context harmless.
#include "connection.hpp"

#include <boost/asio/append.hpp>
#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/cancellation_type.hpp>
#include <boost/asio/execution/outstanding_work.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/prefer.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>

#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <unordered_map>
#include <utility>

namespace kiemidi::redis {

namespace {

using command_handler = asio::any_completion_handler<connection::command_signature>;
using connect_handler = asio::any_completion_handler<connection::connect_signature>;

// privdata of SUBSCRIBE: hiredis calls that callback for the confirmation and every message.
constexpr std::uintptr_t subscription_tag = 0;

reply copy_reply(const redisReply* r)
{
    reply out;
    switch (r->type)
    {
    case REDIS_REPLY_STRING: out.type = reply_type::string; out.str.assign(r->str, r->len); break;
    case REDIS_REPLY_STATUS: out.type = reply_type::status; out.str.assign(r->str, r->len); break;
    case REDIS_REPLY_ERROR: out.type = reply_type::error; out.str.assign(r->str, r->len); break;
    case REDIS_REPLY_INTEGER: out.type = reply_type::integer; out.integer = r->integer; break;
    case REDIS_REPLY_ARRAY:
        out.type = reply_type::array;
        out.elements.reserve(r->elements);
        for (std::size_t i = 0; i < r->elements; ++i) out.elements.push_back(copy_reply(r->element[i]));
        break;
    default: out.type = reply_type::nil; break;
    }
    return out;
}

template <class Handler>
asio::any_completion_executor track_work(const Handler& h, const asio::any_io_executor& fallback)
{
    return asio::prefer(asio::get_associated_executor(h, asio::any_completion_executor(fallback)),
                        asio::execution::outstanding_work.tracked);
}

constexpr auto honoured_cancellation =
    asio::cancellation_type::terminal | asio::cancellation_type::partial | asio::cancellation_type::total;

}  // namespace

struct connection::impl : std::enable_shared_from_this<impl>
{
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
        std::unique_ptr<asio::steady_timer> timer;
        asio::any_completion_executor work;
        bool internal = false;
    };
    struct connect_waiter
    {
        connect_handler handler;
        diagnostics* diag = nullptr;
        asio::any_completion_executor work;
    };

    asio::any_io_executor ex;
    asio::strand<asio::any_io_executor> strand;
    connection_options opts;

    // ---- strand-only state ----
    phase ph = phase::idle;
    redisAsyncContext* ac = nullptr;
    std::optional<asio::posix::stream_descriptor> sd;
    std::uint64_t gen = 0;  // bumped whenever a context goes away
    bool want_read = false, want_write = false, read_armed = false, write_armed = false;
    bool attempt_timed_out = false;
    std::string attempt_error;  // hiredis' or Redis' words about the last failed attempt
    unsigned failed_attempts = 0;
    asio::ip::tcp::resolver resolver;
    asio::steady_timer connect_timer;
    asio::steady_timer backoff_timer;
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

    impl(asio::any_io_executor e, connection_options o)
        : ex(std::move(e)), strand(asio::make_strand(ex)), opts(std::move(o)), resolver(strand), connect_timer(strand),
          backoff_timer(strand)
    {
    }

    ~impl()
    {
        // Only reached when close() never ran (the io_context stopped first): free quietly.
        if (ac)
        {
            ac->data = nullptr;
            ac->ev.cleanup = nullptr;
            if (sd) sd->release();
            redisAsyncFree(ac);
        }
    }

    template <class F>
    void bump(F f)
    {
        std::lock_guard lk(stats_mtx);
        f(counters);
    }

    // ---- completions (always posted) ----

    void complete_command(pending_command p, error_code ec, reply r)
    {
        if (p.timer) p.timer->cancel();
        if (ec) bump([](connection_stats& s) { ++s.failed_commands_total; });
        if (p.diag && ec)
        {
            p.diag->set_endpoint("redis " + p.name);
            if (r.type == reply_type::error) p.diag->set_server_message(r.str);
            else if (!attempt_error.empty() && ec == redis_errc::connection_lost) p.diag->set_client_message(attempt_error);
        }
        if (p.internal) asio::post(strand, asio::append(std::move(p.handler), ec, std::move(r)));
        else asio::post(ex, asio::append(std::move(p.handler), ec, std::move(r)));
    }

    void complete_connect(connect_waiter w, error_code ec)
    {
        if (w.diag && ec)
        {
            w.diag->set_endpoint("redis " + opts.host + ":" + std::to_string(opts.port));
            if (!attempt_error.empty()) w.diag->set_client_message(attempt_error);
        }
        asio::post(ex, asio::append(std::move(w.handler), ec));
    }

    void complete_all_connect_waiters(error_code ec)
    {
        auto waiters = std::move(connect_waiters);
        connect_waiters.clear();
        for (auto& [id, w] : waiters) complete_connect(std::move(w), ec);
    }

    void complete_all_subscribe_waiters(error_code ec)
    {
        auto waiters = std::move(subscribe_waiters);
        subscribe_waiters.clear();
        for (auto& [id, w] : waiters) complete_connect(std::move(w), ec);
    }

    void set_up(bool v)
    {
        const bool was = up.exchange(v);
        if (was == v) return;
        if (!v) bump([](connection_stats& s) { ++s.disconnects_total; });
        if (on_state && ph != phase::closed)
            asio::post(strand, [self = shared_from_this(), v] {
                if (self->on_state && self->ph != phase::closed) self->on_state(v);
            });
    }

    // ---- the hiredis event hooks ----

    static void ev_add_read(void* p)
    {
        auto* self = static_cast<impl*>(p);
        self->want_read = true;
        self->arm_read();
    }
    static void ev_del_read(void* p) { static_cast<impl*>(p)->want_read = false; }
    static void ev_add_write(void* p)
    {
        auto* self = static_cast<impl*>(p);
        self->want_write = true;
        self->arm_write();
    }
    static void ev_del_write(void* p) { static_cast<impl*>(p)->want_write = false; }
    static void ev_cleanup(void* p) { static_cast<impl*>(p)->context_freed(); }

    void arm_read()
    {
        if (!sd || read_armed) return;
        read_armed = true;
        sd->async_wait(asio::posix::stream_descriptor::wait_read,
                       asio::bind_executor(strand, [self = shared_from_this(), g = gen](error_code ec) {
                           if (g != self->gen) return;  // the context this wait was for is gone
                           self->read_armed = false;
                           if (ec || !self->ac) return;
                           if (self->want_read) redisAsyncHandleRead(self->ac);
                           if (g == self->gen && self->ac && self->want_read) self->arm_read();
                       }));
    }

    void arm_write()
    {
        if (!sd || write_armed) return;
        write_armed = true;
        sd->async_wait(asio::posix::stream_descriptor::wait_write,
                       asio::bind_executor(strand, [self = shared_from_this(), g = gen](error_code ec) {
                           if (g != self->gen) return;
                           self->write_armed = false;
                           if (ec || !self->ac) return;
                           if (self->want_write) redisAsyncHandleWrite(self->ac);
                           if (g == self->gen && self->ac && self->want_write) self->arm_write();
                       }));
    }

    // hiredis is freeing the context (it closes the descriptor itself right after).
    void context_freed()
    {
        if (ac && ac->errstr && ac->err && attempt_error.empty()) attempt_error = ac->errstr;
        if (sd)
        {
            sd->release();  // hiredis owns the descriptor; outstanding waits end with operation_aborted
            sd.reset();
        }
        ac = nullptr;
        ++gen;
        want_read = want_write = read_armed = write_armed = false;
        // Not from inside hiredis: the state change runs as its own strand handler.
        asio::post(strand, [self = shared_from_this()] { self->after_context_gone(); });
    }

    void after_context_gone()
    {
        if (ph == phase::closed) return;
        const bool was_connecting = ph == phase::connecting;
        connect_timer.cancel();
        unconfirmed.clear();
        set_up(false);
        if (was_connecting)
        {
            bump([](connection_stats& s) { ++s.connect_failures_total; });
            const auto ec = attempt_timed_out ? make_error_code(redis_errc::timeout) : make_error_code(redis_errc::connect_failed);
            complete_all_connect_waiters(ec);
            complete_all_subscribe_waiters(ec);
        }
        else
        {
            complete_all_subscribe_waiters(make_error_code(redis_errc::connection_lost));
        }
        schedule_reconnect();
    }

    // ---- hiredis reply callback ----

    static void on_reply(redisAsyncContext* c, void* r, void* priv)
    {
        auto* self = static_cast<impl*>(c->data);
        if (!self) return;
        const auto id = reinterpret_cast<std::uintptr_t>(priv);
        if (id == subscription_tag) self->on_subscription_reply(static_cast<redisReply*>(r));
        else self->on_command_reply(id, static_cast<redisReply*>(r), c);
    }

    void on_command_reply(std::uint64_t id, redisReply* r, redisAsyncContext* c)
    {
        auto it = commands.find(id);
        if (it == commands.end()) return;  // timed out or cancelled earlier: drop the late reply
        auto p = std::move(it->second);
        commands.erase(it);
        if (!r)
        {
            if (c->err && c->errstr && attempt_error.empty()) attempt_error = c->errstr;
            complete_command(std::move(p),
                             ph == phase::closed ? make_error_code(redis_errc::closed) : make_error_code(redis_errc::connection_lost),
                             {});
            return;
        }
        auto rep = copy_reply(r);
        const error_code ec = rep.type == reply_type::error ? make_error_code(redis_errc::server_error) : error_code{};
        complete_command(std::move(p), ec, std::move(rep));
    }

    void on_subscription_reply(redisReply* r)
    {
        if (!r || r->type != REDIS_REPLY_ARRAY || r->elements < 3) return;
        const auto* kind = r->element[0];
        const auto* chan = r->element[1];
        if (kind->type != REDIS_REPLY_STRING || chan->type != REDIS_REPLY_STRING) return;
        const std::string_view k(kind->str, kind->len);
        std::string channel(chan->str, chan->len);
        if (k == "message")
        {
            const auto* payload = r->element[2];
            if (payload->type != REDIS_REPLY_STRING) return;
            bump([](connection_stats& s) { ++s.messages_total; });
            asio::post(strand, [self = shared_from_this(), channel = std::move(channel),
                                msg = std::string(payload->str, payload->len)] {
                if (self->on_message && self->ph != phase::closed) self->on_message(channel, msg);
            });
        }
        else if (k == "subscribe")
        {
            unconfirmed.erase(channel);
            if (unconfirmed.empty() && ph == phase::subscribing)
            {
                ph = phase::connected;
                set_up(true);
                complete_all_subscribe_waiters({});
            }
        }
    }

    // ---- sending ----

    // Hands a command to hiredis; completes p at once when that is impossible.
    void send(std::vector<std::string> args, pending_command p, bool subscription = false)
    {
        if (args.empty())
        {
            complete_command(std::move(p), make_error_code(redis_errc::invalid_argument), {});
            return;
        }
        if (!ac)
        {
            // The context is gone and the state change is still queued behind this handler.
            if (!subscription) complete_command(std::move(p), make_error_code(redis_errc::not_connected), {});
            return;
        }
        std::vector<const char*> argv;
        std::vector<std::size_t> argvlen;
        argv.reserve(args.size());
        argvlen.reserve(args.size());
        for (const auto& a : args)
        {
            argv.push_back(a.data());
            argvlen.push_back(a.size());
        }
        const std::uint64_t id = subscription ? subscription_tag : next_id++;
        if (!subscription)
        {
            p.name = args.front();
            if (opts.command_timeout.count() > 0 && !p.internal)
            {
                p.timer = std::make_unique<asio::steady_timer>(strand, opts.command_timeout);
                p.timer->async_wait([self = shared_from_this(), id](error_code ec) {
                    if (ec) return;
                    self->finish_early(id, make_error_code(redis_errc::timeout));
                });
            }
            commands.emplace(id, std::move(p));
        }
        bump([](connection_stats& s) { ++s.commands_total; });
        const int rc = redisAsyncCommandArgv(ac, &impl::on_reply, reinterpret_cast<void*>(static_cast<std::uintptr_t>(id)),
                                             static_cast<int>(argv.size()), argv.data(), argvlen.data());
        if (rc != REDIS_OK && !subscription)
        {
            if (auto it = commands.find(id); it != commands.end())
            {
                auto q = std::move(it->second);
                commands.erase(it);
                complete_command(std::move(q), make_error_code(redis_errc::connection_lost), {});
            }
        }
    }

    // Completes a pending command before its reply (timeout, cancellation); the reply is dropped later.
    void finish_early(std::uint64_t id, error_code ec)
    {
        auto it = commands.find(id);
        if (it == commands.end()) return;
        auto p = std::move(it->second);
        commands.erase(it);
        complete_command(std::move(p), ec, {});
    }

    // ---- connecting ----

    void start()
    {
        if (ph == phase::idle) attempt();
    }

    void attempt()
    {
        ph = phase::connecting;
        attempt_timed_out = false;
        attempt_error.clear();
        connect_timer.expires_after(opts.connect_timeout);
        connect_timer.async_wait([self = shared_from_this(), g = gen](error_code ec) {
            if (ec || self->ph != phase::connecting || g != self->gen) return;
            self->attempt_timed_out = true;
            self->attempt_error = "no answer within the connect timeout";
            self->abort_attempt();
        });
        error_code ec;
        auto addr = asio::ip::make_address(opts.host, ec);
        if (!ec)
        {
            open(addr.to_string());
            return;
        }
        resolver.async_resolve(opts.host, std::to_string(opts.port),
                               [self = shared_from_this(), g = gen](error_code rec, asio::ip::tcp::resolver::results_type rs) {
                                   if (self->ph != phase::connecting || g != self->gen) return;
                                   if (rec || rs.empty())
                                   {
                                       if (self->attempt_error.empty())
                                           self->attempt_error = "cannot resolve " + self->opts.host + ": " + rec.message();
                                       self->fail_without_context();
                                       return;
                                   }
                                   self->open(rs.begin()->endpoint().address().to_string());
                               });
    }

    // A failed attempt that never created a hiredis context.
    void fail_without_context()
    {
        ++gen;
        asio::post(strand, [self = shared_from_this()] { self->after_context_gone(); });
    }

    void abort_attempt()
    {
        if (ac) redisAsyncFree(ac);  // runs the null-reply callbacks, then ev_cleanup
        else
        {
            resolver.cancel();
            fail_without_context();
        }
    }

    void open(const std::string& address)
    {
        // address is numeric, so hiredis' getaddrinfo does not touch DNS; connect() is non-blocking.
        redisAsyncContext* c = redisAsyncConnect(address.c_str(), opts.port);
        if (!c)
        {
            attempt_error = "out of memory";
            fail_without_context();
            return;
        }
        ac = c;
        c->data = this;
        c->ev.data = this;
        c->ev.addRead = &impl::ev_add_read;
        c->ev.delRead = &impl::ev_del_read;
        c->ev.addWrite = &impl::ev_add_write;
        c->ev.delWrite = &impl::ev_del_write;
        c->ev.cleanup = &impl::ev_cleanup;
        if (c->err)
        {
            attempt_error = c->errstr;
            redisAsyncFree(c);  // → ev_cleanup
            return;
        }
        error_code ec;
        sd.emplace(strand);
        sd->assign(c->c.fd, ec);
        if (ec)
        {
            sd.reset();
            attempt_error = "cannot watch the socket: " + ec.message();
            redisAsyncFree(c);
            return;
        }
        // hiredis buffers these until the TCP connect completes; the PING's answer proves the
        // server is there and answering.
        const auto g = gen;
        if (!opts.password.empty())
        {
            std::vector<std::string> auth{"AUTH"};
            if (!opts.username.empty()) auth.push_back(opts.username);
            auth.push_back(opts.password);
            send_handshake(std::move(auth), g, false);
        }
        if (opts.database != 0) send_handshake({"SELECT", std::to_string(opts.database)}, g, false);
        send_handshake({"PING"}, g, true);
    }

    void send_handshake(std::vector<std::string> args, std::uint64_t g, bool last)
    {
        // (any_completion_handler is only ever constructed, never assigned: Boost 1.81's move
        // assignment recurses without end.)
        pending_command p{command_handler(asio::bind_executor(strand, [self = shared_from_this(), g, last](error_code ec, reply r) {
            if (g != self->gen || self->ph != phase::connecting) return;
            if (ec && self->attempt_error.empty())
                self->attempt_error = r.type == reply_type::error ? "Redis refused: " + r.str : ec.message();
            if (!last) return;
            if (!self->attempt_error.empty()) self->abort_attempt();
            else self->connected();
        }))};
        p.internal = true;
        send(std::move(args), std::move(p));
    }

    void connected()
    {
        connect_timer.cancel();
        failed_attempts = 0;
        bump([](connection_stats& s) { ++s.connects_total; });
        complete_all_connect_waiters({});
        if (channels.empty())
        {
            ph = phase::connected;
            set_up(true);
        }
        else
        {
            ph = phase::subscribing;
            subscribe_now(std::vector<std::string>(channels.begin(), channels.end()));
        }
    }

    void subscribe_now(std::vector<std::string> chans)
    {
        for (auto& ch : chans) unconfirmed.insert(ch);
        std::vector<std::string> args{"SUBSCRIBE"};
        args.insert(args.end(), chans.begin(), chans.end());
        send(std::move(args), pending_command{command_handler()}, true);
    }

    void schedule_reconnect()
    {
        if (!opts.reconnect)
        {
            ph = phase::backoff;  // and stays there
            return;
        }
        ph = phase::backoff;
        const auto shift = std::min(failed_attempts, 16u);
        ++failed_attempts;
        auto base = opts.reconnect_min_delay * (1LL << shift);
        if (base > opts.reconnect_max_delay) base = opts.reconnect_max_delay;
        // Full jitter on the upper half, so a fleet of instances does not reconnect in lockstep.
        std::uniform_int_distribution<long long> d(base.count() / 2, std::max<long long>(base.count(), 1));
        backoff_timer.expires_after(std::chrono::milliseconds(d(rng)));
        backoff_timer.async_wait([self = shared_from_this()](error_code ec) {
            if (ec || self->ph != phase::backoff) return;
            self->attempt();
        });
    }

    void do_close()
    {
        if (ph == phase::closed) return;
        const bool was_up = up.exchange(false);
        if (was_up) bump([](connection_stats& s) { ++s.disconnects_total; });
        ph = phase::closed;
        connect_timer.cancel();
        backoff_timer.cancel();
        resolver.cancel();
        if (ac) redisAsyncFree(ac);  // pending commands complete with closed
        auto rest = std::move(commands);
        commands.clear();
        for (auto& [id, p] : rest) complete_command(std::move(p), make_error_code(redis_errc::closed), {});
        complete_all_connect_waiters(make_error_code(redis_errc::closed));
        complete_all_subscribe_waiters(make_error_code(redis_errc::closed));
        on_message = nullptr;
        on_state = nullptr;
    }

    // ---- cancellation ----

    template <class Handler>
    void watch_cancellation(Handler& h, std::uint64_t id, int which)
    {
        auto slot = asio::get_associated_cancellation_slot(h);
        if (!slot.is_connected()) return;
        std::weak_ptr<impl> weak = shared_from_this();
        slot.assign([weak, id, which](asio::cancellation_type type) {
            if ((type & honoured_cancellation) == asio::cancellation_type::none) return;
            auto self = weak.lock();
            if (!self) return;
            asio::post(self->strand, [self, id, which] { self->cancel_op(id, which); });
        });
    }

    void cancel_op(std::uint64_t id, int which)
    {
        const auto aborted = make_error_code(asio::error::operation_aborted);
        if (which == 0) finish_early(id, aborted);
        auto& waiters = which == 1 ? connect_waiters : subscribe_waiters;
        if (which != 0)
            if (auto it = waiters.find(id); it != waiters.end())
            {
                auto w = std::move(it->second);
                waiters.erase(it);
                complete_connect(std::move(w), aborted);
            }
    }
};

connection::connection(executor_type ex, connection_options opts)
    : ex_(ex), impl_(std::make_shared<impl>(std::move(ex), std::move(opts)))
{
}

connection::~connection() { close(); }

void connection::start()
{
    asio::post(impl_->strand, [self = impl_] { self->start(); });
}

void connection::start_connect(diagnostics* diag, asio::any_completion_handler<connect_signature> handler)
{
    if (diag) diag->clear();
    asio::post(impl_->strand, [self = impl_, diag, h = std::move(handler)]() mutable {
        if (self->ph == impl::phase::closed)
        {
            self->complete_connect(impl::connect_waiter{std::move(h), diag, {}}, make_error_code(redis_errc::closed));
            return;
        }
        if (self->ph == impl::phase::connected || self->ph == impl::phase::subscribing)
        {
            self->complete_connect(impl::connect_waiter{std::move(h), diag, {}}, {});
            return;
        }
        const auto id = self->next_id++;
        self->watch_cancellation(h, id, 1);
        auto work = track_work(h, self->ex);
        self->connect_waiters.emplace(id, impl::connect_waiter{std::move(h), diag, std::move(work)});
        if (self->ph == impl::phase::idle) self->attempt();
        else if (self->ph == impl::phase::backoff && !self->opts.reconnect) self->attempt();
    });
}

void connection::start_command(std::vector<std::string> args, diagnostics* diag,
                               asio::any_completion_handler<command_signature> handler)
{
    if (diag) diag->clear();
    asio::post(impl_->strand, [self = impl_, args = std::move(args), diag, h = std::move(handler)]() mutable {
        error_code refuse;
        if (self->ph == impl::phase::closed) refuse = redis_errc::closed;
        else if (!self->channels.empty()) refuse = redis_errc::subscribed;
        else if (self->ph != impl::phase::connected) refuse = redis_errc::not_connected;
        if (!refuse)
        {
            const auto id = self->next_id;  // the id send() will use
            self->watch_cancellation(h, id, 0);
        }
        auto work = refuse ? asio::any_completion_executor() : track_work(h, self->ex);
        impl::pending_command p{std::move(h), diag, args.empty() ? std::string() : args.front(), nullptr, std::move(work)};
        if (refuse) self->complete_command(std::move(p), refuse, {});
        else self->send(std::move(args), std::move(p));
    });
}

void connection::start_subscribe(std::vector<std::string> chans, asio::any_completion_handler<connect_signature> handler)
{
    impl_->subscriber = true;
    asio::post(impl_->strand, [self = impl_, chans = std::move(chans), h = std::move(handler)]() mutable {
        if (self->ph == impl::phase::closed)
        {
            self->complete_connect(impl::connect_waiter{std::move(h), nullptr, {}}, make_error_code(redis_errc::closed));
            return;
        }
        std::vector<std::string> fresh;
        for (auto& c : chans)
            if (self->channels.insert(c).second) fresh.push_back(c);
        const auto id = self->next_id++;
        self->watch_cancellation(h, id, 2);
        auto work = track_work(h, self->ex);
        self->subscribe_waiters.emplace(id, impl::connect_waiter{std::move(h), nullptr, std::move(work)});
        if (self->ph == impl::phase::connected)
        {
            if (fresh.empty())
            {
                self->complete_all_subscribe_waiters({});
                return;
            }
            // Confirmed again only once the new channels are.
            self->ph = impl::phase::subscribing;
            self->subscribe_now(std::move(fresh));
        }
        else if (self->ph == impl::phase::idle)
        {
            self->attempt();
        }
        else if (self->ph == impl::phase::subscribing && !fresh.empty())
        {
            self->subscribe_now(std::move(fresh));
        }
        // connecting / backoff: the channels are subscribed after the next connect.
    });
}

void connection::set_message_handler(message_handler h)
{
    asio::post(impl_->strand, [self = impl_, h = std::move(h)]() mutable { self->on_message = std::move(h); });
}

void connection::set_state_handler(state_handler h)
{
    asio::post(impl_->strand, [self = impl_, h = std::move(h)]() mutable { self->on_state = std::move(h); });
}

void connection::close()
{
    asio::post(impl_->strand, [self = impl_] { self->do_close(); });
}

bool connection::is_connected() const noexcept { return impl_->up.load(); }

connection_stats connection::stats() const
{
    std::lock_guard lk(impl_->stats_mtx);
    auto s = impl_->counters;
    s.connected = impl_->up.load();
    return s;
}

}  // namespace kiemidi::redis
