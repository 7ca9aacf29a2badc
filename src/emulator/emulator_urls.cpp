#include "emulator_urls.hpp"

#include <boost/url/parse.hpp>

#include <algorithm>
#include <cctype>

namespace kiemidi::emulator::detail {

bool valid_callback_url(std::string_view url)
{
    auto r = boost::urls::parse_absolute_uri(url);
    if (!r) return false;
    auto scheme = r->scheme();
    return (scheme == "http" || scheme == "https") && !r->host().empty();
}

// ---------------------------------------------------------------------------------------------
// URL check for callbacks: only loopback targets are ever contacted.

std::optional<parsed_url> parse_loopback_url(std::string_view url, bool& is_loopback)
{
    is_loopback = false;
    auto r = boost::urls::parse_absolute_uri(url);
    if (!r) return std::nullopt;
    parsed_url out;
    if (r->scheme() == "https") out.tls = true;
    else if (r->scheme() != "http") return std::nullopt;
    out.port = r->has_port() ? std::string(r->port()) : (out.tls ? "443" : "80");
    out.target = std::string(r->encoded_path());
    if (out.target.empty()) out.target = "/";
    if (r->has_query()) { out.target += "?"; out.target += std::string(r->encoded_query()); }
    switch (r->host_type())
    {
    case boost::urls::host_type::ipv4:
        is_loopback = r->host_ipv4_address().to_bytes()[0] == 127;
        out.host = r->host_ipv4_address().to_string();
        break;
    case boost::urls::host_type::ipv6:
        is_loopback = r->host_ipv6_address().is_loopback();
        out.host = r->host_ipv6_address().to_string();
        break;
    case boost::urls::host_type::name:
    {
        std::string h = r->host_name();
        std::transform(h.begin(), h.end(), h.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
        is_loopback = (h == "localhost");
        out.server_name = h;
        out.host = is_loopback ? "127.0.0.1" : h;  // never resolved through DNS
        break;
    }
    default: return std::nullopt;
    }
    return out;
}

}  // namespace kiemidi::emulator::detail
