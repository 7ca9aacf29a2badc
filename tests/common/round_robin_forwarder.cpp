// Each accepted connection becomes two copy loops (client → target, target → client) on one
// strand; a half-close is passed on, so HTTP/1.1 with Connection: close works end to end.
#include "round_robin_forwarder.hpp"
#include "nothrow_awaitable.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <boost/system/error_code.hpp>

#include <array>
#include <list>
#include <mutex>

namespace asio = boost::asio;

namespace kiemidi::test {

using boost::system::error_code;
using tcp = asio::ip::tcp;

namespace {
}

struct round_robin_forwarder::state : std::enable_shared_from_this<state>
{
    asio::any_io_executor ex;
    tcp::acceptor acceptor;
    std::vector<std::uint16_t> targets;
    mutable std::mutex mtx;
    std::vector<std::uint64_t> counts;
    std::uint64_t next = 0;
    bool stopped = false;
    // Every open socket, so stop() can close them; entries are removed when a connection ends.
    std::list<std::weak_ptr<tcp::socket>> sockets;

    state(asio::any_io_executor e, std::vector<std::uint16_t> t)
        : ex(e), acceptor(asio::make_strand(e)), targets(std::move(t)), counts(targets.size(), 0)
    {
    }

    static asio::awaitable<void> copy(std::shared_ptr<tcp::socket> from, std::shared_ptr<tcp::socket> to)
    {
        std::array<char, 16384> buf;
        for (;;)
        {
            auto [rec, n] = co_await from->async_read_some(asio::buffer(buf), use_nothrow_awaitable);
            if (n > 0)
            {
                auto [wec, w] = co_await asio::async_write(*to, asio::buffer(buf.data(), n), use_nothrow_awaitable);
                if (wec) break;
            }
            if (rec) break;
        }
        error_code ignored;
        to->shutdown(tcp::socket::shutdown_send, ignored);
    }

    static asio::awaitable<void> session(std::shared_ptr<state> self, std::shared_ptr<tcp::socket> in, std::uint16_t port)
    {
        auto out = std::make_shared<tcp::socket>(in->get_executor());
        {
            std::lock_guard lk(self->mtx);
            if (self->stopped) co_return;
            self->sockets.push_back(out);
        }
        auto [cec] = co_await out->async_connect(tcp::endpoint(asio::ip::address_v4::loopback(), port), use_nothrow_awaitable);
        if (cec) co_return;
        auto both = std::make_shared<int>(2);
        auto finish = [in, out, both](std::exception_ptr) {
            if (--*both == 0)
            {
                error_code ignored;
                in->close(ignored);
                out->close(ignored);
            }
        };
        asio::co_spawn(in->get_executor(), copy(in, out), finish);
        asio::co_spawn(in->get_executor(), copy(out, in), finish);
    }

    static asio::awaitable<void> accept_loop(std::shared_ptr<state> self)
    {
        for (;;)
        {
            auto in = std::make_shared<tcp::socket>(asio::make_strand(self->ex));
            auto [ec] = co_await self->acceptor.async_accept(*in, use_nothrow_awaitable);
            if (ec) co_return;
            std::uint16_t port = 0;
            {
                std::lock_guard lk(self->mtx);
                if (self->stopped) co_return;
                const auto i = self->next++ % self->targets.size();
                ++self->counts[i];
                port = self->targets[i];
                self->sockets.push_back(in);
                self->sockets.remove_if([](const std::weak_ptr<tcp::socket>& w) { return w.expired(); });
            }
            asio::co_spawn(in->get_executor(), session(self, in, port), asio::detached);
        }
    }
};

round_robin_forwarder::round_robin_forwarder(asio::any_io_executor ex, std::vector<std::uint16_t> targets)
    : state_(std::make_shared<state>(ex, std::move(targets)))
{
    tcp::endpoint ep(asio::ip::address_v4::loopback(), 0);
    state_->acceptor.open(ep.protocol());
    state_->acceptor.set_option(tcp::acceptor::reuse_address(true));
    state_->acceptor.bind(ep);
    state_->acceptor.listen();
    port_ = state_->acceptor.local_endpoint().port();
    asio::co_spawn(state_->acceptor.get_executor(), state::accept_loop(state_), asio::detached);
}

round_robin_forwarder::~round_robin_forwarder() { stop(); }

std::vector<std::uint64_t> round_robin_forwarder::forwarded() const
{
    std::lock_guard lk(state_->mtx);
    return state_->counts;
}

void round_robin_forwarder::stop()
{
    auto st = state_;
    std::list<std::weak_ptr<tcp::socket>> socks;
    {
        std::lock_guard lk(st->mtx);
        if (st->stopped) return;
        st->stopped = true;
        socks.swap(st->sockets);
    }
    asio::post(st->acceptor.get_executor(), [st] {
        error_code ignored;
        st->acceptor.close(ignored);
    });
    for (auto& w : socks)
        if (auto s = w.lock())
            asio::post(s->get_executor(), [s] {
                error_code ignored;
                s->close(ignored);
            });
}

}  // namespace kiemidi::test
