// Proxy URL, environment and NO_PROXY rules (see proxy_settings.hpp).
#include "proxy_settings.hpp"

#include <boost/asio/ip/address.hpp>
#include <boost/url/parse.hpp>

#include <openssl/evp.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <vector>

namespace kiemidi::detail {

namespace {

namespace ip = boost::asio::ip;

bool iequal(std::string_view a, std::string_view b)
{
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
           });
}

std::string base64(std::string_view in)
{
    std::string out(4 * ((in.size() + 2) / 3) + 1, '\0');
    const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                  reinterpret_cast<const unsigned char*>(in.data()), static_cast<int>(in.size()));
    out.resize(n > 0 ? static_cast<std::size_t>(n) : 0u);
    return out;
}

std::optional<ip::address> ip_literal(std::string_view s)
{
    boost::system::error_code ec;
    auto a = ip::make_address(std::string(s), ec);
    if (ec) return std::nullopt;
    if (a.is_v6() && a.to_v6().is_v4_mapped()) return ip::make_address_v4(ip::v4_mapped, a.to_v6());
    return a;
}

// True when the first `bits` bits of `a` and `b` (same family) agree.
bool same_prefix(const ip::address& a, const ip::address& b, unsigned bits)
{
    if (a.is_v4() != b.is_v4()) return false;
    std::vector<unsigned char> x, y;
    if (a.is_v4())
    {
        auto ba = a.to_v4().to_bytes(), bb = b.to_v4().to_bytes();
        x.assign(ba.begin(), ba.end());
        y.assign(bb.begin(), bb.end());
    }
    else
    {
        auto ba = a.to_v6().to_bytes(), bb = b.to_v6().to_bytes();
        x.assign(ba.begin(), ba.end());
        y.assign(bb.begin(), bb.end());
    }
    if (bits > x.size() * 8) return false;
    for (std::size_t i = 0; i < x.size() && bits > 0; ++i)
    {
        const unsigned take = bits >= 8 ? 8u : bits;
        const auto mask = static_cast<unsigned char>(0xFFu << (8u - take));
        if ((x[i] & mask) != (y[i] & mask)) return false;
        bits -= take;
    }
    return true;
}

// One NO_PROXY entry against the origin.
bool entry_matches(std::string_view e, std::string_view host, std::string_view port)
{
    if (e == "*") return true;
    // Split off ":port": "[v6]:port", "name:port", "v4:port"; a bare IPv6 literal has several colons.
    std::string_view entry_port;
    if (!e.empty() && e.front() == '[')
    {
        const auto close = e.find(']');
        if (close == std::string_view::npos) return false;
        if (close + 1 < e.size())
        {
            if (e[close + 1] != ':') return false;
            entry_port = e.substr(close + 2);
        }
        e = e.substr(1, close - 1);
    }
    else if (std::count(e.begin(), e.end(), ':') == 1)
    {
        const auto colon = e.find(':');
        entry_port = e.substr(colon + 1);
        e = e.substr(0, colon);
    }
    if (!entry_port.empty() && entry_port != port) return false;
    if (e.empty()) return false;

    if (const auto slash = e.find('/'); slash != std::string_view::npos)
    {
        const auto net = ip_literal(e.substr(0, slash));
        const auto addr = ip_literal(host);
        if (!net || !addr) return false;
        const std::string bits_text(e.substr(slash + 1));
        char* end = nullptr;
        const unsigned long bits = std::strtoul(bits_text.c_str(), &end, 10);
        if (bits_text.empty() || *end != '\0') return false;
        return same_prefix(*net, *addr, static_cast<unsigned>(bits));
    }
    if (const auto entry_ip = ip_literal(e))
    {
        const auto addr = ip_literal(host);
        return addr && *addr == *entry_ip;
    }
    if (e.starts_with("*.")) e.remove_prefix(2);
    else if (e.starts_with(".")) e.remove_prefix(1);
    if (host.ends_with('.')) host.remove_suffix(1);
    if (e.ends_with('.')) e.remove_suffix(1);
    if (iequal(host, e)) return true;
    return host.size() > e.size() && host[host.size() - e.size() - 1] == '.' &&
           iequal(host.substr(host.size() - e.size()), e);
}

std::optional<std::string> first_set(const environment_lookup& env, std::initializer_list<const char*> names,
                                     const char*& which)
{
    for (const char* n : names)
    {
        auto v = env(n);
        if (v && !v->empty())
        {
            which = n;
            return v;
        }
    }
    return std::nullopt;
}

}  // namespace

error_code parse_proxy_url(std::string_view url, proxy_endpoint& out, std::string& why)
{
    out = proxy_endpoint{};
    std::string text(url);
    if (text.find("://") == std::string::npos) text = "http://" + text;  // "host:port", as curl accepts
    auto parsed = boost::urls::parse_absolute_uri(text);
    if (!parsed)
    {
        why = "the proxy URL is not a URL";  // the text itself may hold a password: not repeated
        return client_errc::invalid_url;
    }
    const auto& u = *parsed;
    if (!iequal(u.scheme(), "http"))
    {
        why = "proxy scheme " + std::string(u.scheme()) + ":// is not supported (only http:// proxies)";
        return client_errc::invalid_url;
    }
    if (u.has_query() || u.has_fragment() || (!u.encoded_path().empty() && u.encoded_path() != "/"))
    {
        why = "the proxy URL must be http://[user:password@]host[:port] (no path, query or fragment)";
        return client_errc::invalid_url;
    }
    const auto ht = u.host_type();
    if (ht == boost::urls::host_type::ipv4 || ht == boost::urls::host_type::ipv6)
        out.host = u.host_address();
    else if (ht == boost::urls::host_type::name)
        out.host = u.host_name();
    if (out.host.empty())
    {
        why = "the proxy URL has no usable host";
        return client_errc::invalid_url;
    }
    out.port = u.has_port() && !u.port().empty() ? std::string(u.port()) : "1080";
    if (const auto p = std::strtoul(out.port.c_str(), nullptr, 10); p == 0 || p > 65535)
    {
        why = "the proxy URL's port is not a TCP port";
        return client_errc::invalid_url;
    }
    const std::string bracketed = ht == boost::urls::host_type::ipv6 ? "[" + out.host + "]" : out.host;
    out.display = "http://" + bracketed + ":" + out.port;
    if (u.has_userinfo())
    {
        // Percent-decoded, as sent (RFC 7617: user-id ":" password).
        out.credentials = u.user() + ":" + (u.has_password() ? std::string(u.password()) : std::string());
        out.authorization = "Basic " + base64(out.credentials);
    }
    return {};
}

bool no_proxy_matches(std::string_view list, std::string_view host, std::string_view port)
{
    std::size_t pos = 0;
    while (pos < list.size())
    {
        const auto end = list.find_first_of(", \t", pos);
        const auto entry = list.substr(pos, end == std::string_view::npos ? std::string_view::npos : end - pos);
        if (!entry.empty() && entry_matches(entry, host, port)) return true;
        if (end == std::string_view::npos) break;
        pos = end + 1;
    }
    return false;
}

environment_lookup process_environment()
{
    return [](const char* name) -> std::optional<std::string> {
        const char* v = std::getenv(name);  // read once, when a client is made: not on an I/O path
        return v ? std::optional<std::string>(v) : std::nullopt;
    };
}

error_code choose_proxy(const proxy_options& opts, bool tls, std::string_view host, std::string_view port,
                        const environment_lookup& env, proxy_choice& out, std::string& why)
{
    out = proxy_choice{};
    std::string url = opts.url;
    std::string source = "the proxy setting";
    if (url.empty() && opts.use_environment && env)
    {
        const char* which = nullptr;
        auto v = tls ? first_set(env, {"https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"}, which)
                     : first_set(env, {"http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"}, which);
        if (v)
        {
            url = std::move(*v);
            source = which;
        }
    }
    if (url.empty()) return {};

    std::string exempt = opts.no_proxy;
    if (exempt.empty() && opts.use_environment && env)
    {
        const char* which = nullptr;
        if (auto v = first_set(env, {"no_proxy", "NO_PROXY"}, which)) exempt = std::move(*v);
    }
    if (no_proxy_matches(exempt, host, port)) return {};

    proxy_endpoint p;
    if (auto ec = parse_proxy_url(url, p, why))
    {
        why = source + ": " + why;
        return ec;
    }
    out.proxy = std::move(p);
    out.source = std::move(source);
    return {};
}

}  // namespace kiemidi::detail

namespace kiemidi {

error_code check_proxy_url(std::string_view url, std::string& why)
{
    detail::proxy_endpoint parsed;
    return detail::parse_proxy_url(url, parsed, why);
}

}  // namespace kiemidi
