// The client's pending operations and its graceful shutdown (see client_life.hpp).
#include "client_life.hpp"

#include <boost/asio/append.hpp>
#include <boost/asio/post.hpp>

namespace asio = boost::asio;

namespace kiemidi::detail {

namespace {
// Completes a shutdown handler on its own executor, never inline (the caller may hold locks).
void complete_later(const asio::any_io_executor& ex, client_life::shutdown_handler h)
{
    // post runs the handler through its associated executor (`ex` when it has none).
    asio::post(ex, asio::append(std::move(h), error_code{}));
}
}  // namespace

client_life::ticket client_life::enter(std::function<void()> stop)
{
    std::lock_guard lock(mtx_);
    if (shutting_down_) return ticket{};
    const auto id = next_id_++;
    pending_.emplace(id, std::move(stop));
    return ticket(shared_from_this(), id);
}

void client_life::shut_down(shutdown_handler h)
{
    std::vector<std::function<void()>> stops;
    {
        std::lock_guard lock(mtx_);
        if (!pending_.empty())
        {
            waiters_.push_back(std::move(h));
            if (shutting_down_) return;
        }
        if (!shutting_down_)
            for (auto& [id, stop] : pending_)
                if (stop) stops.push_back(stop);
        shutting_down_ = true;
    }
    if (h) complete_later(ex_, std::move(h));  // nothing was pending
    for (auto& stop : stops) stop();
}

void client_life::leave(std::uint64_t id) noexcept
{
    std::vector<shutdown_handler> done;
    {
        std::lock_guard lock(mtx_);
        pending_.erase(id);
        if (pending_.empty()) done.swap(waiters_);
    }
    for (auto& h : done) complete_later(ex_, std::move(h));
}

bool client_life::shutting_down() const
{
    std::lock_guard lock(mtx_);
    return shutting_down_;
}

std::size_t client_life::pending() const
{
    std::lock_guard lock(mtx_);
    return pending_.size();
}

}  // namespace kiemidi::detail
