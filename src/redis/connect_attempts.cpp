// Connecting and reconnecting: one attempt (resolve unless numeric, TCP connect, AUTH/SELECT/PING
// through hiredis, under the connect timeout), what follows when a context goes away, and the
// jittered exponential backoff before the next attempt.
#include "connection_impl.hpp"

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/post.hpp>

#include <algorithm>
#include <chrono>
#include <utility>

namespace asio = boost::asio;

namespace kiemidi::redis {

void connection::impl::after_context_gone()
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

void connection::impl::start()
{
    if (ph == phase::idle) attempt();
}

void connection::impl::attempt()
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
void connection::impl::fail_without_context()
{
    ++gen;
    asio::post(strand, [self = shared_from_this()] { self->after_context_gone(); });
}

void connection::impl::abort_attempt()
{
    if (ac) redisAsyncFree(ac);  // runs the null-reply callbacks, then ev_cleanup
    else
    {
        resolver.cancel();
        fail_without_context();
    }
}

void connection::impl::open(const std::string& address)
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

void connection::impl::send_handshake(std::vector<std::string> args, std::uint64_t g, bool last)
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

void connection::impl::connected()
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

void connection::impl::schedule_reconnect()
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

}  // namespace kiemidi::redis
