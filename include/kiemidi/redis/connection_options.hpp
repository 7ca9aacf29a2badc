/// @file
/// Where kiemidi's Redis connections (those of redis_callback_hub and redis_batch_claims) connect,
/// how they behave when Redis is slow or away, and their counters.
#ifndef KIEMIDI_REDIS_CONNECTION_OPTIONS_HPP
#define KIEMIDI_REDIS_CONNECTION_OPTIONS_HPP

#include <chrono>
#include <cstdint>
#include <string>

namespace kiemidi::redis {

/// Where and how a kiemidi Redis connection connects, its timeouts and its reconnection.
struct connection_options
{
    /// Host name or IP address; names are resolved asynchronously, so no thread blocks on DNS.
    std::string host = "127.0.0.1";
    std::uint16_t port = 6379;  ///< TCP port.
    /// @{
    /// Sent as AUTH [username] password after connecting when not empty.
    std::string username;
    std::string password;
    /// @}
    /// SELECTed after connecting when not 0.
    int database = 0;
    /// Resolve + TCP connect + AUTH/SELECT/PING must finish within this.
    std::chrono::milliseconds connect_timeout{std::chrono::seconds(2)};
    /// Each command must be answered within this; 0 means no limit.
    std::chrono::milliseconds command_timeout{std::chrono::seconds(5)};
    /// @{
    /// After a failed connect or a lost connection, wait reconnect_min_delay before the next
    /// attempt, doubling (with jitter) up to reconnect_max_delay. Commands fail with
    /// not_connected meanwhile.
    std::chrono::milliseconds reconnect_min_delay{std::chrono::milliseconds(50)};
    std::chrono::milliseconds reconnect_max_delay{std::chrono::seconds(2)};
    /// @}
    /// False: a lost connection stays lost (every later command fails with not_connected).
    bool reconnect = true;
};

/// Counters of one connection, a consistent snapshot.
struct connection_stats
{
    bool connected = false;               ///< Connected (and, in subscriber mode, subscribed) right now.
    std::uint64_t connects_total = 0;     ///< Successful connects, the first one included.
    std::uint64_t connect_failures_total = 0; ///< Connect attempts that failed.
    std::uint64_t disconnects_total = 0;  ///< Established connections that were lost.
    std::uint64_t commands_total = 0;     ///< Commands sent.
    std::uint64_t failed_commands_total = 0;  ///< Commands that completed with an error (server errors included).
    std::uint64_t messages_total = 0;     ///< Pub/sub messages received.
};

}  // namespace kiemidi::redis

#endif
