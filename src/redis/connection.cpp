// kiemidi::redis::connection's public members, which hand every operation to the strand, and
// the parts of its state shared by all operations: connect waiters, up/down reports, close and
// per-operation cancellation. The rest of connection::impl is in the files connection_impl.hpp lists.
#include "connection_impl.hpp"

#include <boost/asio/append.hpp>
#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/cancellation_type.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/execution/outstanding_work.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/prefer.hpp>

#include <utility>

namespace asio = boost::asio;

namespace kiemidi::redis {

namespace {

template <class Handler>
asio::any_completion_executor track_work(const Handler& h, const asio::any_io_executor& fallback)
{
    return asio::prefer(asio::get_associated_executor(h, asio::any_completion_executor(fallback)),
                        asio::execution::outstanding_work.tracked);
}

constexpr auto honoured_cancellation =
    asio::cancellation_type::terminal | asio::cancellation_type::partial | asio::cancellation_type::total;

}  // namespace

connection::impl::impl(asio::any_io_executor e, connection_options o)
    : ex(std::move(e)), strand(asio::make_strand(ex)), opts(std::move(o)), resolver(strand), connect_timer(strand),
      backoff_timer(strand)
{
}

// ---- completions (always posted) ----

void connection::impl::complete_connect(connect_waiter w, error_code ec)
{
    if (w.diag && ec)
    {
        w.diag->set_endpoint("redis " + opts.host + ":" + std::to_string(opts.port));
        if (!attempt_error.empty()) w.diag->set_client_message(attempt_error);
    }
    asio::post(ex, asio::append(std::move(w.handler), ec));
}

void connection::impl::complete_all_connect_waiters(error_code ec)
{
    auto waiters = std::move(connect_waiters);
    connect_waiters.clear();
    for (auto& [id, w] : waiters) complete_connect(std::move(w), ec);
}

void connection::impl::complete_all_subscribe_waiters(error_code ec)
{
    auto waiters = std::move(subscribe_waiters);
    subscribe_waiters.clear();
    for (auto& [id, w] : waiters) complete_connect(std::move(w), ec);
}

void connection::impl::set_up(bool v)
{
    const bool was = up.exchange(v);
    if (was == v) return;
    if (!v) bump([](connection_stats& s) { ++s.disconnects_total; });
    if (on_state && ph != phase::closed)
        asio::post(strand, [self = shared_from_this(), v] {
            if (self->on_state && self->ph != phase::closed) self->on_state(v);
        });
}

// ---- closing ----

void connection::impl::do_close()
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
void connection::impl::watch_cancellation(Handler& h, std::uint64_t id, int which)
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

void connection::impl::cancel_op(std::uint64_t id, int which)
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

// ---- the public members ----

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
