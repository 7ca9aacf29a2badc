// What a client's pending operations share with it: how many are pending, how to stop each one,
// and who waits for none to be left (client::async_shutdown). Owned jointly by the client and by
// every pending operation (through its ticket), so an operation that ends after the client is
// gone touches nothing freed. Internal.
#ifndef KIEMIDI_SRC_CLIENT_CLIENT_LIFE_HPP
#define KIEMIDI_SRC_CLIENT_CLIENT_LIFE_HPP

#include <kiemidi/error.hpp>

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/any_io_executor.hpp>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <vector>

namespace kiemidi::detail {

class client_life : public std::enable_shared_from_this<client_life>
{
public:
    using shutdown_handler = boost::asio::any_completion_handler<void(error_code)>;

    /// Held by one pending operation: counted from creation to destruction.
    class ticket
    {
    public:
        ticket() = default;
        ticket(std::shared_ptr<client_life> life, std::uint64_t id) noexcept : life_(std::move(life)), id_(id) {}
        ticket(ticket&& o) noexcept : life_(std::move(o.life_)), id_(o.id_) {}
        ticket& operator=(ticket&& o) noexcept
        {
            if (this != &o)
            {
                if (life_) life_->leave(id_);
                life_ = std::move(o.life_);
                id_ = o.id_;
            }
            return *this;
        }
        ~ticket()
        {
            if (life_) life_->leave(id_);
        }
        /// False when the client was shutting down: the operation must not start.
        explicit operator bool() const noexcept { return life_ != nullptr; }

    private:
        std::shared_ptr<client_life> life_;
        std::uint64_t id_ = 0;
    };

    explicit client_life(boost::asio::any_io_executor ex) : ex_(std::move(ex)) {}

    /// Counts an operation in; `stop` (may be empty) is called, from any thread, when a shutdown
    /// begins while it is pending. An empty ticket once shutting down.
    ticket enter(std::function<void()> stop);

    /// Starts the shutdown (once; later calls only add their handler): stops every pending
    /// operation, then completes `h` once none is left.
    void shut_down(shutdown_handler h);

    bool shutting_down() const;
    std::size_t pending() const;

private:
    void leave(std::uint64_t id) noexcept;

    boost::asio::any_io_executor ex_;
    mutable std::mutex mtx_;
    bool shutting_down_ = false;
    std::uint64_t next_id_ = 1;
    std::map<std::uint64_t, std::function<void()>> pending_;  // id → how to stop it
    std::vector<shutdown_handler> waiters_;
};

}  // namespace kiemidi::detail

#endif
