// A tiny TCP load balancer for tests: accepts on 127.0.0.1 and hands each connection, in turn,
// to the next of several loopback ports, copying bytes both ways. Several kiemidi instances
// behind it share one callback address, as behind a real load balancer.
#ifndef KIEMIDI_TESTS_COMMON_ROUND_ROBIN_FORWARDER_HPP
#define KIEMIDI_TESTS_COMMON_ROUND_ROBIN_FORWARDER_HPP

#include <boost/asio/any_io_executor.hpp>

#include <cstdint>
#include <memory>
#include <vector>

namespace kiemidi::test {

class round_robin_forwarder
{
public:
    /// Binds 127.0.0.1 on a free port and starts accepting; connection i goes to targets[i % n].
    round_robin_forwarder(boost::asio::any_io_executor ex, std::vector<std::uint16_t> targets);
    /// Calls stop().
    ~round_robin_forwarder();
    round_robin_forwarder(const round_robin_forwarder&) = delete;
    round_robin_forwarder& operator=(const round_robin_forwarder&) = delete;

    std::uint16_t port() const noexcept { return port_; }
    /// Connections handed to each target so far.
    std::vector<std::uint64_t> forwarded() const;
    /// Stops accepting and closes every forwarded connection (their copies end as the executor runs).
    void stop();

private:
    struct state;
    std::shared_ptr<state> state_;
    std::uint16_t port_ = 0;
};

}  // namespace kiemidi::test

#endif
