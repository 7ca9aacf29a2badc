// Commands on the connection: handing one to hiredis, matching its reply (hiredis calls back from
// inside redisAsyncHandleRead, so the callback only records and posts), its timeout, and its
// completion with diagnostics.
#include "connection_impl.hpp"

#include <boost/asio/append.hpp>
#include <boost/asio/post.hpp>

#include <cstddef>
#include <utility>

namespace asio = boost::asio;

namespace kiemidi::redis {

void connection::impl::complete_command(pending_command p, error_code ec, reply r)
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

// ---- hiredis reply callback ----

void connection::impl::on_reply(redisAsyncContext* c, void* r, void* priv)
{
    auto* self = static_cast<impl*>(c->data);
    if (!self) return;
    const auto id = reinterpret_cast<std::uintptr_t>(priv);
    if (id == subscription_tag) self->on_subscription_reply(static_cast<redisReply*>(r));
    else self->on_command_reply(id, static_cast<redisReply*>(r), c);
}

void connection::impl::on_command_reply(std::uint64_t id, redisReply* r, redisAsyncContext* c)
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

// ---- sending ----

// Hands a command to hiredis; completes p at once when that is impossible.
void connection::impl::send(std::vector<std::string> args, pending_command p, bool subscription)
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
void connection::impl::finish_early(std::uint64_t id, error_code ec)
{
    auto it = commands.find(id);
    if (it == commands.end()) return;
    auto p = std::move(it->second);
    commands.erase(it);
    complete_command(std::move(p), ec, {});
}

}  // namespace kiemidi::redis
