// What an embedded server (listener, hub, metrics endpoint, emulator) still runs, and its graceful
// stop. Each piece of work (an accept loop, a connection, a timer, an outgoing call) holds a
// ticket from creation to its very end, with a way to wind it down: gently (finish what is in
// hand, take nothing new) or at once. A stop first winds everything down gently, then, when the
// grace period ends or the stop operation is cancelled, at once; it completes only when no ticket
// is left, so nothing of the server runs any more and its object may be destroyed right away.
// Shared by the server object and every ticket, so work that ends after the server object is
// gone touches nothing freed. Internal.
#ifndef KIEMIDI_SRC_SERVER_WORK_HPP
#define KIEMIDI_SRC_SERVER_WORK_HPP

#include <kiemidi/config.hpp>
#include <kiemidi/error.hpp>

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <vector>

namespace kiemidi::detail {

// Exported: the emulator library (its own shared object) counts its work with it too.
class KIEMIDI_DECL server_work : public std::enable_shared_from_this<server_work>
{
public:
    using stop_handler = boost::asio::any_completion_handler<void(error_code)>;
    /// Winds one piece of work down; `at_once` false: finish what is in hand, start nothing new;
    /// true: close everything now. Called from any thread, at most once with each value (false
    /// first, unless the stop is at once from the start); it must tolerate work that already ended.
    using wind_down = std::function<void(bool at_once)>;

    /// Held by one piece of work: counted from creation to destruction.
    class ticket
    {
    public:
        ticket() = default;
        ticket(std::shared_ptr<server_work> owner, std::uint64_t id) noexcept : owner_(std::move(owner)), id_(id) {}
        ticket(ticket&& o) noexcept : owner_(std::move(o.owner_)), id_(o.id_) {}
        ticket& operator=(ticket&& o) noexcept
        {
            if (this != &o)
            {
                release();
                owner_ = std::move(o.owner_);
                id_ = o.id_;
            }
            return *this;
        }
        ticket(const ticket&) = delete;
        ticket& operator=(const ticket&) = delete;
        ~ticket() { release(); }
        /// False when the server was stopping: the work must not start.
        explicit operator bool() const noexcept { return owner_ != nullptr; }
        /// Ends the count early (the work has finished everything that touches the server).
        void release() noexcept
        {
            if (owner_) owner_->leave(id_);
            owner_.reset();
        }

    private:
        std::shared_ptr<server_work> owner_;
        std::uint64_t id_ = 0;
    };

    /// `ex`: where stop handlers without an executor of their own complete, and the grace timer
    /// runs. `on_finished` (may be empty) runs once, when a stop finds nothing left, before any
    /// stop handler completes: the server closes there what it keeps open for its work (e.g. the
    /// connections its work used).
    explicit server_work(boost::asio::any_io_executor ex, std::function<void()> on_finished = {});

    /// Counts a piece of work in. An empty ticket (and `down` is dropped) once a stop began.
    ticket enter(wind_down down);

    /// Starts a stop (the first call) or joins it (later calls): every piece of work is wound down
    /// gently, then at once after `grace` (zero: at once from the start) or when this stop's
    /// cancellation slot is emitted (any type). `h` completes, never inline, once no piece of work
    /// is left: success when everything ended within the grace, boost::asio::error::timed_out when the
    /// grace ran out and the rest was cut, boost::asio::error::operation_aborted when this stop was cancelled.
    void stop(std::chrono::milliseconds grace, stop_handler h);

    /// Winds everything down at once and returns (the work ends as its executors run).
    void stop_now();

    /// True once a stop began.
    bool stopping() const;
    /// True once the work was told to wind down at once.
    bool cut() const;
    /// Pieces of work not ended yet.
    std::size_t running() const;

private:
    struct waiter
    {
        stop_handler handler;
        bool cancelled = false;
    };

    void leave(std::uint64_t id) noexcept;
    void cut_all(bool by_grace);
    void cancel_waiter(std::uint64_t id);
    // Moves out the waiters to complete when nothing is left. Caller holds mtx_.
    std::vector<std::pair<waiter, error_code>> take_finished_locked();
    void complete(std::vector<std::pair<waiter, error_code>> done);

    boost::asio::any_io_executor ex_;
    std::function<void()> on_finished_;  // moved out when it runs
    boost::asio::steady_timer grace_timer_;
    mutable std::mutex mtx_;
    bool stopping_ = false;
    bool cut_ = false;
    bool cut_by_grace_ = false;
    bool timer_armed_ = false;
    std::uint64_t next_id_ = 1;
    std::map<std::uint64_t, wind_down> running_;
    std::map<std::uint64_t, waiter> waiters_;
};

}  // namespace kiemidi::detail

#endif
