// The admission window for paid submissions: sans-I/O token bookkeeping plus an async FIFO queue.
#include <kiemidi/transport/rate_limiter.hpp>

#include <boost/asio/append.hpp>
#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include <algorithm>
#include <list>
#include <mutex>

namespace kiemidi {

namespace asio = boost::asio;

// ---- token_window ----

token_window::token_window(unsigned tokens, std::chrono::milliseconds window)
    : window_(window), due_(std::max(tokens, 1u), clock::time_point::min())
{
}

bool token_window::try_take(clock::time_point now)
{
    if (due_.front() > now) return false;
    due_.pop_front();
    const auto back = now + window_;
    due_.insert(std::upper_bound(due_.begin(), due_.end(), back), back);
    return true;
}

token_window::clock::time_point token_window::next_available(clock::time_point) const { return due_.front(); }

void token_window::block_until(clock::time_point until)
{
    for (auto& d : due_) d = std::max(d, until);  // stays sorted
}

unsigned token_window::available(clock::time_point now) const
{
    return static_cast<unsigned>(std::upper_bound(due_.begin(), due_.end(), now) - due_.begin());
}

// ---- rate_limiter ----

namespace {

void complete_later(const asio::any_io_executor& fallback, asio::any_completion_handler<void(error_code)> h,
                    error_code ec)
{
    // post runs the handler through its associated executor (fallback when it has none)
    asio::post(fallback, asio::append(std::move(h), ec));
}

}  // namespace

struct rate_limiter::impl : std::enable_shared_from_this<impl>
{
    struct waiter
    {
        std::uint64_t id;
        asio::any_completion_handler<void(error_code)> handler;
    };

    impl(asio::any_io_executor ex, rate_limit_options opts)
        : ex_(ex), opts_(opts), window_(opts.submissions_per_window, opts.window), timer_(ex)
    {
    }

    void acquire(asio::any_completion_handler<void(error_code)> h)
    {
        std::lock_guard lock(mu_);
        const auto now = token_window::clock::now();
        if (!opts_.enabled || (queue_.empty() && window_.try_take(now)))
        {
            ++stats_.granted;
            ++stats_.granted_immediately;
            complete_later(ex_, std::move(h), {});
            return;
        }
        const std::uint64_t id = next_id_++;
        auto slot = asio::get_associated_cancellation_slot(h);
        if (slot.is_connected())
        {
            slot.assign([w = weak_from_this(), id](asio::cancellation_type) {
                if (auto self = w.lock()) self->cancel_one(id);
            });
        }
        queue_.push_back(waiter{id, std::move(h)});
        ++stats_.queued;
        arm_timer_locked(now);
    }

    void cancel_one(std::uint64_t id)
    {
        std::lock_guard lock(mu_);
        auto it = std::find_if(queue_.begin(), queue_.end(), [id](const waiter& w) { return w.id == id; });
        if (it == queue_.end()) return;  // already granted or cancelled
        auto h = std::move(it->handler);
        queue_.erase(it);
        ++stats_.cancelled;
        complete_later(ex_, std::move(h), asio::error::operation_aborted);
        grant_ready_locked(token_window::clock::now());
    }

    void cancel_all()
    {
        std::lock_guard lock(mu_);
        for (auto& w : queue_)
        {
            ++stats_.cancelled;
            complete_later(ex_, std::move(w.handler), asio::error::operation_aborted);
        }
        queue_.clear();
        ++timer_gen_;
        timer_armed_ = false;
        timer_.cancel();
    }

    void penalize(std::chrono::milliseconds d)
    {
        std::lock_guard lock(mu_);
        const auto now = token_window::clock::now();
        window_.block_until(now + d);
        ++stats_.penalties;
        arm_timer_locked(now);
    }

    void grant_ready_locked(token_window::clock::time_point now)
    {
        while (!queue_.empty() && window_.try_take(now))
        {
            ++stats_.granted;
            complete_later(ex_, std::move(queue_.front().handler), {});
            queue_.pop_front();
        }
        arm_timer_locked(now);
    }

    void arm_timer_locked(token_window::clock::time_point now)
    {
        if (queue_.empty()) return;
        const auto at = std::max(window_.next_available(now), now);
        if (timer_armed_ && armed_at_ == at) return;
        timer_armed_ = true;
        armed_at_ = at;
        const auto gen = ++timer_gen_;
        timer_.expires_at(at);
        timer_.async_wait([w = weak_from_this(), gen](error_code) {
            if (auto self = w.lock()) self->on_timer(gen);
        });
    }

    void on_timer(std::uint64_t gen)
    {
        std::lock_guard lock(mu_);
        if (gen != timer_gen_) return;  // superseded by a re-arm or cancel
        timer_armed_ = false;
        grant_ready_locked(token_window::clock::now());
    }

    rate_limiter_stats stats() const
    {
        std::lock_guard lock(mu_);
        auto s = stats_;
        s.waiting = queue_.size();
        return s;
    }

    asio::any_io_executor ex_;
    rate_limit_options opts_;
    mutable std::mutex mu_;
    token_window window_;
    // A list, not a deque: Boost 1.81's any_completion_handler move assignment recurses forever,
    // so waiters must never be move-assigned (erasing from a deque's middle would).
    std::list<waiter> queue_;
    asio::steady_timer timer_;
    bool timer_armed_ = false;
    token_window::clock::time_point armed_at_{};
    std::uint64_t timer_gen_ = 0;
    std::uint64_t next_id_ = 1;
    rate_limiter_stats stats_;
};

rate_limiter::rate_limiter(executor_type ex, rate_limit_options opts)
    : impl_(std::make_shared<impl>(std::move(ex), opts))
{
}

rate_limiter::~rate_limiter()
{
    if (impl_) impl_->cancel_all();
}

rate_limiter::executor_type rate_limiter::get_executor() const noexcept { return impl_->ex_; }

void rate_limiter::initiate_acquire(asio::any_completion_handler<acquire_signature> h) { impl_->acquire(std::move(h)); }

void rate_limiter::penalize(std::chrono::milliseconds d) { impl_->penalize(d); }

void rate_limiter::cancel() { impl_->cancel_all(); }

rate_limiter_stats rate_limiter::stats() const { return impl_->stats(); }

const rate_limit_options& rate_limiter::options() const noexcept { return impl_->opts_; }

}  // namespace kiemidi
