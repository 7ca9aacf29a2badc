// An embedded server's running work and its graceful stop (see server_work.hpp).
#include "server_work.hpp"

#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/post.hpp>

namespace asio = boost::asio;

namespace kiemidi::detail {

server_work::server_work(asio::any_io_executor ex, std::function<void()> on_finished)
    : ex_(ex), on_finished_(std::move(on_finished)), grace_timer_(ex)
{
}

server_work::ticket server_work::enter(wind_down down)
{
    std::lock_guard lock(mtx_);
    if (stopping_) return ticket{};
    const auto id = next_id_++;
    running_.emplace(id, std::move(down));
    return ticket(shared_from_this(), id);
}

void server_work::stop(std::chrono::milliseconds grace, stop_handler h)
{
    auto slot = asio::get_associated_cancellation_slot(h);
    std::vector<wind_down> gently;
    bool at_once = false;
    std::uint64_t wid = 0;
    std::vector<std::pair<waiter, error_code>> done;
    {
        std::lock_guard lock(mtx_);
        wid = next_id_++;
        waiters_.emplace(wid, waiter{std::move(h), false});
        if (!stopping_)
        {
            stopping_ = true;
            if (grace.count() <= 0) at_once = true;
            else
            {
                for (auto& [id, down] : running_)
                    if (down) gently.push_back(down);
                if (!running_.empty())
                {
                    timer_armed_ = true;
                    grace_timer_.expires_after(grace);
                    grace_timer_.async_wait([self = shared_from_this()](error_code ec) {
                        std::vector<std::pair<waiter, error_code>> finished;
                        {
                            std::lock_guard lock(self->mtx_);
                            self->timer_armed_ = false;
                            finished = self->take_finished_locked();
                        }
                        if (!ec) self->cut_all(true);  // the grace ran out
                        self->complete(std::move(finished));
                    });
                }
            }
        }
        // The slot is wired under the lock, before anything can complete this waiter.
        if (slot.is_connected())
        {
            std::weak_ptr<server_work> weak = shared_from_this();
            slot.assign([weak, wid](asio::cancellation_type) {
                if (auto self = weak.lock()) self->cancel_waiter(wid);
            });
        }
        done = take_finished_locked();
    }
    for (auto& down : gently) down(false);
    if (at_once) cut_all(false);
    complete(std::move(done));
}

void server_work::stop_now()
{
    {
        std::lock_guard lock(mtx_);
        stopping_ = true;
    }
    cut_all(false);
}

void server_work::cut_all(bool by_grace)
{
    std::vector<wind_down> now;
    {
        std::lock_guard lock(mtx_);
        if (cut_) return;
        cut_ = true;
        cut_by_grace_ = by_grace;
        for (auto& [id, down] : running_)
            if (down) now.push_back(down);
        if (timer_armed_) grace_timer_.cancel();
    }
    for (auto& down : now) down(true);
}

void server_work::cancel_waiter(std::uint64_t id)
{
    {
        std::lock_guard lock(mtx_);
        auto it = waiters_.find(id);
        if (it == waiters_.end()) return;  // already completed
        it->second.cancelled = true;
    }
    cut_all(false);
}

void server_work::leave(std::uint64_t id) noexcept
{
    std::vector<std::pair<waiter, error_code>> done;
    {
        std::lock_guard lock(mtx_);
        running_.erase(id);
        // The grace timer's handler completes the waiters: it must have run too before they do.
        if (running_.empty() && timer_armed_) grace_timer_.cancel();
        done = take_finished_locked();
    }
    complete(std::move(done));
}

std::vector<std::pair<server_work::waiter, error_code>> server_work::take_finished_locked()
{
    std::vector<std::pair<waiter, error_code>> done;
    if (!stopping_ || !running_.empty() || timer_armed_) return done;
    if (on_finished_ && !waiters_.empty())
    {
        // A first entry without a handler: complete() runs on_finished_ there, outside the lock,
        // before the handlers are posted.
        done.emplace_back(waiter{}, error_code{});
    }
    for (auto& [id, w] : waiters_)
    {
        error_code ec;
        if (w.cancelled) ec = asio::error::operation_aborted;
        else if (cut_by_grace_) ec = asio::error::timed_out;
        done.emplace_back(std::move(w), ec);
    }
    waiters_.clear();
    return done;
}

void server_work::complete(std::vector<std::pair<waiter, error_code>> done)
{
    if (!done.empty() && !done.front().first.handler)
    {
        std::function<void()> finish;
        {
            std::lock_guard lock(mtx_);
            finish.swap(on_finished_);
        }
        if (finish) finish();
    }
    for (auto& [w, ec] : done)
    {
        if (!w.handler) continue;
        // Completed on the handler's own executor (never inline), where its cancellation slot,
        // which the caller may emit, is cleared first.
        auto hex = asio::get_associated_executor(w.handler, ex_);
        asio::post(ex_, asio::bind_executor(hex, [h = std::move(w.handler), ec = ec]() mutable {
                       auto slot = asio::get_associated_cancellation_slot(h);
                       if (slot.is_connected()) slot.clear();
                       std::move(h)(ec);
                   }));
    }
}

bool server_work::stopping() const
{
    std::lock_guard lock(mtx_);
    return stopping_;
}

bool server_work::cut() const
{
    std::lock_guard lock(mtx_);
    return cut_;
}

std::size_t server_work::running() const
{
    std::lock_guard lock(mtx_);
    return running_.size();
}

}  // namespace kiemidi::detail
