// The keep-alive connections of one http_client: each connection (plain or TLS, its read
// buffer), and the pool that lends them out, bounded by transport_options::pool_size, with a
// queue of operations waiting for one. Strand-only: the pool is touched on the client's strand;
// its counts are atomics so stats() can be read from any thread.
#ifndef KIEMIDI_SRC_TRANSPORT_CONNECTION_POOL_HPP
#define KIEMIDI_SRC_TRANSPORT_CONNECTION_POOL_HPP

#include <kiemidi/error.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <vector>

namespace kiemidi::detail {

/// One keep-alive connection (plain or TLS). Its streams run on the client's strand.
struct connection
{
    std::unique_ptr<boost::beast::tcp_stream> tcp;
    std::unique_ptr<boost::beast::ssl_stream<boost::beast::tcp_stream>> tls;
    boost::beast::flat_buffer buffer;
    bool keep = true;  ///< The last answer allowed keep-alive.

    boost::beast::tcp_stream& lowest() { return tls ? boost::beast::get_lowest_layer(*tls) : *tcp; }

    /// True when the peer has not closed the idle connection and sent nothing unsolicited.
    bool still_open();
    /// Shuts the socket down and closes it (errors ignored: the connection is discarded).
    void close();
};

/// The connections of one client, at most `limit` open at once.
class connection_pool
{
public:
    using strand_type = boost::asio::strand<boost::asio::any_io_executor>;

    connection_pool(strand_type strand, std::size_t limit);

    /// Gives `out` an idle connection that is still open, or leaves it null with a slot reserved
    /// for a new one (the caller opens it, and calls hand_over(nullptr) if that fails). Waits in
    /// line when every slot is taken. `stopped` says why waiting must end (the client closed,
    /// the operation cancelled); its error is returned as soon as it is set.
    boost::asio::awaitable<error_code> checkout(std::unique_ptr<connection>& out, const std::function<error_code()>& stopped);

    /// Passes a connection (or, when null, a free slot) to the first waiter, else keeps it idle
    /// (or frees the slot).
    void hand_over(std::unique_ptr<connection> c);

    /// Returns a connection after an exchange: kept when `reusable` and the answer allowed
    /// keep-alive, otherwise closed and its slot handed over.
    void release(std::unique_ptr<connection> c, bool reusable);

    /// Closes the idle connections and wakes every waiter; what is returned later is closed.
    void close();

    std::size_t open_count() const noexcept { return open_count_; }  ///< Open or being opened.
    std::size_t idle_count() const noexcept { return idle_count_; }  ///< Open and unused.
    std::uint64_t stale_discarded() const noexcept { return stale_discarded_; }  ///< Found closed by the peer.

private:
    struct waiter;

    strand_type strand_;
    std::size_t limit_;
    std::vector<std::unique_ptr<connection>> idle_;
    std::deque<waiter*> waiters_;
    std::size_t open_ = 0;
    bool closed_ = false;
    std::atomic<std::size_t> open_count_{0}, idle_count_{0};
    std::atomic<std::uint64_t> stale_discarded_{0};
};

}  // namespace kiemidi::detail

#endif
