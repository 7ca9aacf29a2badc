// Which HTTP proxy an origin is reached through: the proxy URL, the environment's variables and
// the NO_PROXY rules (curl's, which most SDKs share). Pure functions, no I/O: the environment is
// read through a lookup the caller passes (tests give their own).
#ifndef KIEMIDI_SRC_TRANSPORT_PROXY_SETTINGS_HPP
#define KIEMIDI_SRC_TRANSPORT_PROXY_SETTINGS_HPP

#include <kiemidi/error.hpp>
#include <kiemidi/transport_options.hpp>

#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace kiemidi::detail {

/// A proxy to connect to. `authorization` is a secret: it is sent, never shown.
struct proxy_endpoint
{
    std::string host;           ///< For connecting (an IPv6 literal without brackets).
    std::string port;           ///< Service string.
    std::string display;        ///< "http://host:port": how messages name the proxy (never the credentials).
    std::string authorization;  ///< "Basic <base64(user:password)>" when the URL has credentials, else empty.
    std::string credentials;    ///< The decoded "user:password", only to scrub it from messages; empty without.
};

/// Parses "http://[user[:password]@]host[:port][/]" ("host:port" alone is taken as http://). The
/// port is 1080 when absent (as curl). Only http proxies: https:// and socks are refused, as is
/// anything with a path, query or fragment. On failure `why` says what is wrong, without credentials.
KIEMIDI_DECL error_code parse_proxy_url(std::string_view url, proxy_endpoint& out, std::string& why);

/// True when the NO_PROXY-style `list` exempts `host` (an IPv6 literal without brackets) on
/// `port`. Entries are comma- or space-separated: "*" (everything), a host name (itself and its
/// subdomains; a leading "." or "*." is ignored), an IP literal, a CIDR range ("10.0.0.0/8"),
/// each optionally with ":port" ("[::1]:8443" for IPv6). Names compare case-insensitively.
KIEMIDI_DECL bool no_proxy_matches(std::string_view list, std::string_view host, std::string_view port);

/// Reads one environment variable; nullopt when unset. (Tests pass a map; the client, getenv.)
using environment_lookup = std::function<std::optional<std::string>(const char* name)>;

/// The process environment (std::getenv).
KIEMIDI_DECL environment_lookup process_environment();

/// Where the proxy settings for one origin came from, and what they say.
struct proxy_choice
{
    std::optional<proxy_endpoint> proxy;  ///< Empty: connect directly.
    std::string source;                   ///< "HTTPS_PROXY", "proxy_options::url", ... (for messages; empty when direct).
};

/// Chooses the proxy for an origin (`tls` for https://, `host` without brackets, `port`) from
/// `opts` and, where they leave it open and opts.use_environment, from `env`: https origins take
/// https_proxy / HTTPS_PROXY, http origins http_proxy / HTTP_PROXY, both fall back to all_proxy /
/// ALL_PROXY (lower case first, as curl; an empty value counts as unset). opts.no_proxy, else
/// no_proxy / NO_PROXY, exempts the origin. A malformed proxy URL is an error (invalid_url, `why`
/// names the variable), never a silent direct connection.
KIEMIDI_DECL error_code choose_proxy(const proxy_options& opts, bool tls, std::string_view host, std::string_view port,
                                     const environment_lookup& env, proxy_choice& out, std::string& why);

}  // namespace kiemidi::detail

#endif
