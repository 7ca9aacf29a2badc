// The origin of an http_client and the request head written for it (see origin.hpp).
#include "origin.hpp"

#include <boost/asio/ip/address.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/url/parse.hpp>

namespace asio = boost::asio;

namespace kiemidi::detail {

namespace beast = boost::beast;

namespace {

bool is_loopback_host(const std::string& host)
{
    if (beast::iequals(host, "localhost")) return true;
    error_code ec;
    auto addr = asio::ip::make_address(host, ec);
    return !ec && addr.is_loopback();
}

}  // namespace

error_code parse_origin(const transport_options& opts, origin& o, std::string& why)
{
    auto parsed = boost::urls::parse_absolute_uri(opts.base_url);
    if (!parsed)
    {
        why = "base URL is not an absolute URL";
        return client_errc::invalid_url;
    }
    const auto& u = *parsed;
    const std::string scheme(u.scheme());
    if (beast::iequals(scheme, "https"))
        o.tls = true;
    else if (beast::iequals(scheme, "http"))
        o.tls = false;
    else
    {
        why = "base URL scheme must be http or https";
        return client_errc::invalid_url;
    }
    if (u.has_userinfo())
    {
        why = "base URL must not contain user information";  // credentials belong in bearer_token
        return client_errc::invalid_url;
    }
    if (u.has_query() || u.has_fragment())
    {
        why = "base URL must not have a query or fragment";
        return client_errc::invalid_url;
    }
    const auto ht = u.host_type();
    if (ht == boost::urls::host_type::ipv4 || ht == boost::urls::host_type::ipv6)
    {
        o.host = u.host_address();
        o.host_is_ip = true;
    }
    else if (ht == boost::urls::host_type::name)
        o.host = u.host_name();
    if (o.host.empty())
    {
        why = "base URL has no usable host";
        return client_errc::invalid_url;
    }
    const std::string default_port = o.tls ? "443" : "80";
    o.port = u.has_port() && !u.port().empty() ? std::string(u.port()) : default_port;
    const std::string bracketed = ht == boost::urls::host_type::ipv6 ? "[" + o.host + "]" : o.host;
    o.host_header = o.port == default_port ? bracketed : bracketed + ":" + o.port;
    o.display = bracketed + ":" + o.port;
    o.prefix = std::string(u.encoded_path());
    while (!o.prefix.empty() && o.prefix.back() == '/') o.prefix.pop_back();
    if (!o.tls && !opts.allow_plain_http_to_non_loopback && !is_loopback_host(o.host))
    {
        why = "plain http:// to non-loopback host " + o.display +
              " refused (use https, or set allow_plain_http_to_non_loopback)";
        return client_errc::insecure_scheme;
    }
    return {};
}

// Built per attempt, once a connection is ours: a request queued for a connection holds nothing
// but its http_request.
std::string request_head(const http_request& req, const origin& o, const transport_options& opts)
{
    const std::string_view target = req.target.empty() ? std::string_view("/") : std::string_view(req.target);
    const std::string_view agent = opts.user_agent.empty() ? std::string_view("kiemidi") : std::string_view(opts.user_agent);
    const bool with_body = !req.body.empty() || req.method == http_method::post;
    std::string h;
    h.reserve(160 + o.prefix.size() + target.size() + o.host_header.size() + agent.size() +
              opts.bearer_token.size());
    h.append(to_string(req.method)).append(" ").append(o.prefix).append(target).append(" HTTP/1.1\r\nHost: ");
    h.append(o.host_header).append("\r\nUser-Agent: ").append(agent).append("\r\nAccept: application/json\r\n");
    if (!opts.bearer_token.empty()) h.append("Authorization: Bearer ").append(opts.bearer_token).append("\r\n");
    if (with_body)
        h.append("Content-Type: application/json\r\nContent-Length: ").append(std::to_string(req.body.size())).append("\r\n");
    h.append("\r\n");
    return h;
}

}  // namespace kiemidi::detail
