// The keep-alive connections of one http_client (see connection_pool.hpp).
#include "connection_pool.hpp"

#include "../nothrow_awaitable.hpp"

#include <boost/asio/ip/tcp.hpp>

#include <openssl/ssl.h>

#include <algorithm>

#ifndef _WIN32
#include <cerrno>
#include <sys/socket.h>
#endif

namespace asio = boost::asio;

namespace kiemidi::detail {

bool connection::still_open()
{
    auto& sock = lowest().socket();
    if (!sock.is_open() || buffer.size() != 0) return false;
    if (tls && SSL_pending(tls->native_handle()) > 0) return false;
#ifndef _WIN32
    char c;
    const auto n = ::recv(sock.native_handle(), &c, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n == 0) return false;  // orderly close by the peer
    if (n > 0) return false;   // unsolicited bytes (close_notify, junk)
    return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
#else
    error_code ec;
    const auto avail = sock.available(ec);
    return !ec && avail == 0;
#endif
}

void connection::close()
{
    error_code ec;
    lowest().socket().shutdown(asio::ip::tcp::socket::shutdown_both, ec);
    lowest().close();
}

struct connection_pool::waiter
{
    explicit waiter(const strand_type& ex) : timer(ex, asio::steady_timer::time_point::max()) {}
    asio::steady_timer timer;
    bool granted = false;
    std::unique_ptr<connection> conn;  // null with granted: a reserved slot to open a new connection
};

connection_pool::connection_pool(strand_type strand, std::size_t limit) : strand_(std::move(strand)), limit_(limit) {}

asio::awaitable<error_code> connection_pool::checkout(std::unique_ptr<connection>& out, const std::function<error_code()>& stopped)
{
    for (;;)
    {
        if (auto ec = stopped()) co_return ec;
        while (!idle_.empty())
        {
            auto c = std::move(idle_.back());
            idle_.pop_back();
            idle_count_ = idle_.size();
            if (c->still_open())
            {
                out = std::move(c);
                co_return error_code{};
            }
            ++stale_discarded_;
            c->close();
            --open_;
            open_count_ = open_;
        }
        if (open_ < limit_)
        {
            ++open_;
            open_count_ = open_;
            co_return error_code{};
        }
        waiter w(strand_);
        waiters_.push_back(&w);
        co_await w.timer.async_wait(use_nothrow_awaitable);
        if (!w.granted)
        {
            waiters_.erase(std::remove(waiters_.begin(), waiters_.end(), &w), waiters_.end());
            continue;  // cancelled or closed: the loop reports it
        }
        if (stopped())
        {
            hand_over(std::move(w.conn));  // pass it on to the next in line
            continue;
        }
        if (w.conn && !w.conn->still_open())
        {
            ++stale_discarded_;
            w.conn->close();
            w.conn.reset();  // keep the slot: the caller opens a fresh connection
        }
        out = std::move(w.conn);
        co_return error_code{};
    }
}

void connection_pool::hand_over(std::unique_ptr<connection> c)
{
    if (closed_ && c)
    {
        c->close();
        c.reset();
    }
    if (!waiters_.empty() && !closed_)
    {
        waiter* w = waiters_.front();
        waiters_.pop_front();
        w->granted = true;
        w->conn = std::move(c);
        w->timer.cancel();
        return;
    }
    if (c)
    {
        idle_.push_back(std::move(c));
        idle_count_ = idle_.size();
    }
    else
    {
        --open_;
        open_count_ = open_;
    }
}

void connection_pool::release(std::unique_ptr<connection> c, bool reusable)
{
    if (!reusable || !c->keep || closed_)
    {
        c->close();
        c.reset();
    }
    hand_over(std::move(c));
}

void connection_pool::close()
{
    closed_ = true;
    for (auto& c : idle_)
    {
        c->close();
        --open_;
    }
    idle_.clear();
    idle_count_ = 0;
    open_count_ = open_;
    for (auto* w : waiters_) w->timer.cancel();
}

}  // namespace kiemidi::detail
