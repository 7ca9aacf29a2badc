/// @file
/// Errors of kiemidi's Redis connection, in their own category so that a failure says it came
/// from Redis (or from the way to it), not from KIE or the rest of kiemidi.
#ifndef KIEMIDI_REDIS_ERROR_HPP
#define KIEMIDI_REDIS_ERROR_HPP

#include <kiemidi/config.hpp>
#include <kiemidi/error.hpp>

#include <boost/system/error_code.hpp>

#include <type_traits>

namespace kiemidi::redis {

/// Failures of a redis::connection. diagnostics::client_message() says more (hiredis' words);
/// diagnostics::server_message() holds Redis' own error reply for server_error.
enum class redis_errc : int
{
    not_connected = 1,   ///< No connection right now (connecting or waiting to reconnect); the command was not sent. Retry later or fall back.
    connect_failed,      ///< The TCP connection, AUTH or SELECT failed; the connection retries with backoff.
    connection_lost,     ///< The connection dropped while the command was pending; it may or may not have run.
    timeout,             ///< No answer within connection_options::command_timeout (or connect_timeout); it may still run.
    server_error,        ///< Redis answered with an error reply; see diagnostics::server_message().
    closed,              ///< close() was called or the connection was destroyed.
    subscribed,          ///< This connection is in subscriber mode, where Redis accepts no ordinary command; use another connection.
    invalid_argument,    ///< The command was empty or could not be formatted.
};

/// The category of redis_errc ("kiemidi.redis"): the failure came from Redis or the way to it.
KIEMIDI_DECL const boost::system::error_category& get_redis_category() noexcept;

/// Makes redis_errc values error_codes (found by argument-dependent lookup).
inline error_code make_error_code(redis_errc e) noexcept { return {static_cast<int>(e), get_redis_category()}; }

}  // namespace kiemidi::redis

namespace boost::system {
template <> struct is_error_code_enum<kiemidi::redis::redis_errc> : std::true_type {};
}  // namespace boost::system

#endif
