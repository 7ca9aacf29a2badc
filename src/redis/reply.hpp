// A Redis reply as a plain value: an owned copy of hiredis' reply tree, so it can outlive the
// connection and cross threads.
#ifndef KIEMIDI_SRC_REDIS_REPLY_HPP
#define KIEMIDI_SRC_REDIS_REPLY_HPP

#include <string>
#include <vector>

// hiredis' reply tree. Declared, not included: this header reaches files compiled without
// hiredis' flags; only reply.cpp and the connection's own files include hiredis.
struct redisReply;

namespace kiemidi::redis {

/// The RESP2 reply kinds.
enum class reply_type
{
    nil,      ///< Null bulk string or null array (e.g. GET of a missing key, SET NX that did not set).
    string,   ///< Bulk string; `str` holds it (binary-safe).
    status,   ///< Simple string such as "OK" or "PONG"; `str` holds it.
    integer,  ///< Integer; `integer` holds it.
    array,    ///< Array; `elements` holds the items.
    error,    ///< Error reply; `str` holds Redis' message. Commands report it as redis_errc::server_error too.
};

/// One reply (recursively, for arrays).
struct reply
{
    reply_type type = reply_type::nil;
    std::string str;
    long long integer = 0;
    std::vector<reply> elements;

    bool is_nil() const noexcept { return type == reply_type::nil; }
    bool is_string() const noexcept { return type == reply_type::string || type == reply_type::status; }
};

/// An owned copy of hiredis' reply `r` (not null), arrays included.
reply copy_reply(const redisReply* r);

}  // namespace kiemidi::redis

#endif
