// The origin every request of an http_client goes to (scheme, host, port, path prefix), read once
// from transport_options::base_url, and the request head written for it. Pure functions, no I/O.
#ifndef KIEMIDI_SRC_TRANSPORT_ORIGIN_HPP
#define KIEMIDI_SRC_TRANSPORT_ORIGIN_HPP

#include <kiemidi/error.hpp>
#include <kiemidi/http_message.hpp>
#include <kiemidi/transport_options.hpp>

#include <string>

namespace kiemidi::detail {

/// The scheme, host and port every request of a client goes to.
struct origin
{
    bool tls = false;
    std::string host;         ///< For connecting, SNI and certificate checks (IPv6 without brackets).
    bool host_is_ip = false;
    std::string port;         ///< Service string.
    std::string host_header;  ///< Value of the Host header.
    std::string prefix;       ///< Base URL path, without trailing '/'.
    std::string display;      ///< "host:port" for messages (never userinfo).
};

/// Reads `opts.base_url` into `o`. Refuses userinfo (credentials belong in the bearer token), a
/// query or fragment, schemes other than http(s), and plain http to a host that is not loopback
/// unless the options allow it; `why` then says which.
error_code parse_origin(const transport_options& opts, origin& o, std::string& why);

/// The request head (request line and headers, ending with the blank line), written as text next
/// to the caller's body: no copy of the body, no per-field allocations. Carries the bearer token.
std::string request_head(const http_request& req, const origin& o, const transport_options& opts);

}  // namespace kiemidi::detail

#endif
