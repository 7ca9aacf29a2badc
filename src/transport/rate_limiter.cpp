// The admission window for paid submissions: sans-I/O token bookkeeping plus an async FIFO queue.
#include <kiemidi/rate_limiter.hpp>

#include <boost/asio/append.hpp>
#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include <algorithm>
#include <list>
#include <mutex>

namespace asio = boost::asio;

namespace kiemidi {

// ---- token_window ----

token_window::token_window(unsigned tokens, std::chrono::milliseconds window)
    : window_(window), limit_(std::max(tokens, 1u)), budget_(limit_)
{
}

void token_window::settle(clock::time_point now)
{
    while (!due_.empty() && due_.front() <= now) due_.pop_front();
    while (!clean_.empty() && clean_.front() <= now - window_) clean_.pop_front();
    if (epoch_ == clock::time_point::min()) epoch_ = now;
    if (window_.count() <= 0) return;
    // additive increase: one token per window without a throttled answer, short of a budget
    // known to draw 429s; that knowledge is dropped after hold_windows clean windows
    while (now - epoch_ >= window_)
    {
        epoch_ += window_;
        if (++clean_windows_ >= hold_windows) ceiling_ = 0;
        if (budget_ < limit_ && (ceiling_ == 0 || budget_ + 1 < ceiling_)) ++budget_;
    }
    if (clean_.size() >= budget_) confirmed_ = true;
}

unsigned token_window::returning(clock::time_point now) const
{
    return static_cast<unsigned>(due_.end() - std::upper_bound(due_.begin(), due_.end(), now));
}

unsigned token_window::in_flight_cap(clock::time_point now) const noexcept
{
    if (confirmed_) return budget_;
    // Unconfirmed (see the header): with `clean` answers in, the requests sent may number
    // half the budget + unconfirmed_in_flight, and two more for each clean answer past half.
    const auto clean = static_cast<unsigned>(clean_.end() - std::upper_bound(clean_.begin(), clean_.end(), now - window_));
    const unsigned half = budget_ / 2;
    const unsigned cap = clean <= half ? half - clean + unconfirmed_in_flight : unconfirmed_in_flight + (clean - half);
    return std::min(budget_, cap);
}

unsigned token_window::available(clock::time_point now) const
{
    if (now < blocked_until_) return 0;
    const unsigned used = in_use_ + returning(now);
    const unsigned free = budget_ > used ? budget_ - used : 0;
    const unsigned cap = in_flight_cap(now);
    return std::min(free, cap > in_use_ ? cap - in_use_ : 0u);
}

bool token_window::try_take(clock::time_point now)
{
    settle(now);
    if (available(now) == 0) return false;
    ++in_use_;
    return true;
}

void token_window::release(clock::time_point now)
{
    settle(now);
    if (in_use_ > 0) --in_use_;
    const auto back = now + window_;
    due_.insert(std::upper_bound(due_.begin(), due_.end(), back), back);
    clean_.insert(std::upper_bound(clean_.begin(), clean_.end(), now), now);
    if (clean_.size() >= budget_) confirmed_ = true;
}

void token_window::throttled(clock::time_point now, std::optional<std::chrono::milliseconds> retry_after)
{
    settle(now);
    if (in_use_ > 0) --in_use_;
    // the dropped request may not have counted at the server, but its token still waits a window
    const auto back = now + window_;
    due_.insert(std::upper_bound(due_.begin(), due_.end(), back), back);
    if (retry_after && retry_after->count() > 0) blocked_until_ = std::max(blocked_until_, now + *retry_after);
    epoch_ = now;
    clean_windows_ = 0;
    // Requests sent before the last decrease were sent under the old budget: their 429s say
    // nothing new, so the budget drops at most once per window.
    if (last_decrease_ != clock::time_point::min() && now - last_decrease_ < window_) return;
    last_decrease_ = now;
    // What the server accepted in the last window is the best estimate of the real limit;
    // never drop below half, never stay at the budget that drew the 429.
    const auto accepted = static_cast<unsigned>(clean_.size());
    unsigned next = std::max(accepted, budget_ / 2);
    next = std::max(1u, std::min(next, budget_ > 1 ? budget_ - 1 : 1u));
    // when the estimate was measured, hold it; when only halved, let clean windows climb back
    ceiling_ = accepted >= next ? next + 1 : budget_;
    budget_ = next;
}

void token_window::give_back()
{
    if (in_use_ > 0) --in_use_;
}

token_window::clock::time_point token_window::next_available(clock::time_point now) const
{
    if (available(now) > 0) return now;
    auto at = clock::time_point::max();
    const auto first = std::upper_bound(due_.begin(), due_.end(), now);
    const auto ret = static_cast<unsigned>(due_.end() - first);
    const unsigned used = in_use_ + ret;
    const unsigned cap = in_flight_cap(now);
    if (in_use_ < cap)
    {
        if (used < budget_)
            at = now;
        else if (in_use_ < budget_)
            at = *(first + (used - budget_));  // enough returning tokens are back
    }
    return at == clock::time_point::max() ? at : std::max(at, blocked_until_);
}

void token_window::block_until(clock::time_point until) { blocked_until_ = std::max(blocked_until_, until); }

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
        bool again = false;  // admission_turn::again
    };
    // A list, not a deque: Boost 1.81's any_completion_handler move assignment recurses forever,
    // so waiters must never be move-assigned (erasing from a deque's middle would).
    using queue = std::list<waiter>;

    impl(asio::any_io_executor ex, rate_limit_options opts)
        : ex_(ex), opts_(opts), window_(opts.submissions_per_window, opts.window), timer_(ex)
    {
    }

    bool empty_locked() const { return finish_.empty() && start_.empty(); }

    void acquire(asio::any_completion_handler<void(error_code)> h, admission_priority prio, admission_turn turn)
    {
        std::lock_guard lock(mu_);
        const auto now = token_window::clock::now();
        if (!opts_.enabled || (empty_locked() && window_.try_take(now)))
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
        auto& q = prio == admission_priority::finish ? finish_ : start_;
        const bool again = turn == admission_turn::again;
        // `again` waits behind earlier `again` waiters and ahead of those in line.
        auto at = again ? std::find_if(q.begin(), q.end(), [](const waiter& w) { return !w.again; }) : q.end();
        q.insert(at, waiter{id, std::move(h), again});
        ++stats_.queued;
        arm_timer_locked(now);
    }

    void cancel_one(std::uint64_t id)
    {
        std::lock_guard lock(mu_);
        for (auto* q : {&finish_, &start_})
        {
            auto it = std::find_if(q->begin(), q->end(), [id](const waiter& w) { return w.id == id; });
            if (it == q->end()) continue;
            auto h = std::move(it->handler);
            q->erase(it);
            ++stats_.cancelled;
            complete_later(ex_, std::move(h), asio::error::operation_aborted);
            grant_ready_locked(token_window::clock::now());
            return;
        }
    }

    void cancel_all()
    {
        std::lock_guard lock(mu_);
        for (auto* q : {&finish_, &start_})
        {
            for (auto& w : *q)
            {
                ++stats_.cancelled;
                complete_later(ex_, std::move(w.handler), asio::error::operation_aborted);
            }
            q->clear();
        }
        ++timer_gen_;
        timer_armed_ = false;
        timer_.cancel();
    }

    template <class F>
    void update(F f)
    {
        if (!opts_.enabled) return;
        std::lock_guard lock(mu_);
        f();
        grant_ready_locked(token_window::clock::now());
    }

    void grant_ready_locked(token_window::clock::time_point now)
    {
        while (!empty_locked() && window_.try_take(now))
        {
            auto& q = finish_.empty() ? start_ : finish_;
            ++stats_.granted;
            complete_later(ex_, std::move(q.front().handler), {});
            q.pop_front();
        }
        arm_timer_locked(now);
    }

    void arm_timer_locked(token_window::clock::time_point now)
    {
        if (empty_locked()) return;
        const auto next = window_.next_available(now);
        if (next == token_window::clock::time_point::max())
        {
            // only an answer frees a token: release() / throttled() grants then
            ++timer_gen_;
            timer_armed_ = false;
            return;
        }
        const auto at = std::max(next, now);
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
        s.waiting = finish_.size() + start_.size();
        s.in_use = window_.in_use();
        s.budget = window_.budget();
        return s;
    }

    asio::any_io_executor ex_;
    rate_limit_options opts_;
    mutable std::mutex mu_;
    token_window window_;
    queue finish_;
    queue start_;
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

void rate_limiter::initiate_acquire(asio::any_completion_handler<acquire_signature> h, admission_priority p,
                                    admission_turn t)
{
    impl_->acquire(std::move(h), p, t);
}

void rate_limiter::release(clock::time_point at)
{
    impl_->update([&] { impl_->window_.release(at); });
}

void rate_limiter::throttled(std::optional<std::chrono::milliseconds> retry_after, clock::time_point at)
{
    impl_->update([&] {
        ++impl_->stats_.penalties;
        impl_->window_.throttled(at, retry_after);
    });
}

void rate_limiter::give_back()
{
    impl_->update([&] { impl_->window_.give_back(); });
}

void rate_limiter::penalize(std::chrono::milliseconds d)
{
    impl_->update([&] {
        ++impl_->stats_.penalties;
        impl_->window_.block_until(token_window::clock::now() + d);
    });
}

void rate_limiter::cancel() { impl_->cancel_all(); }

rate_limiter_stats rate_limiter::stats() const { return impl_->stats(); }

const rate_limit_options& rate_limiter::options() const noexcept { return impl_->opts_; }

}  // namespace kiemidi
