#include "emulator_urls.hpp"

#include <boost/url/parse.hpp>
#include <boost/url/parse_query.hpp>
#include <boost/url/rfc/pchars.hpp>

#include <algorithm>
#include <cctype>

namespace kiemidi::emulator::detail {

namespace {

std::optional<std::string> task_id_of(const boost::urls::params_view& params)
{
    auto it = params.find("taskId");
    if (it == params.end()) return std::nullopt;
    return std::string((*it).value);
}

bool is_hex(char c) noexcept
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/// A query as a client may send it (characters RFC 3986 does not allow there, a "%" that starts
/// no escape) made valid by escaping just those, so it decodes to what was sent.
std::string escaped_query(std::string_view q)
{
    static constexpr char digits[] = "0123456789ABCDEF";
    constexpr auto allowed = boost::urls::pchars + '/' + '?';
    std::string out;
    out.reserve(q.size() + 16);
    for (std::size_t i = 0; i < q.size(); ++i)
    {
        const char c = q[i];
        if (c == '%' ? i + 2 < q.size() && is_hex(q[i + 1]) && is_hex(q[i + 2]) : allowed(c)) out.push_back(c);
        else
        {
            const auto u = static_cast<unsigned char>(c);
            out.push_back('%');
            out.push_back(digits[u >> 4]);
            out.push_back(digits[u & 15]);
        }
    }
    return out;
}

}  // namespace

parsed_target parse_target(std::string_view target)
{
    parsed_target out;
    if (auto u = boost::urls::parse_origin_form(target))
    {
        out.path = u->encoded_path();
        out.task_id = task_id_of(u->params());
        return out;
    }
    // Not an origin-form target (an absolute URL, a character or "%" RFC 3986 does not allow
    // there): still answered as before, the path as sent and the query as sent, decoded.
    const auto qpos = target.find('?');
    out.path = target.substr(0, qpos);
    if (qpos == std::string_view::npos) return out;
    const auto query = escaped_query(target.substr(qpos + 1));
    if (boost::urls::parse_query(query))  // always, once escaped; the view's constructor would throw otherwise
        out.task_id = task_id_of(boost::urls::params_view(query, boost::urls::encoding_opts(true, false, false)));
    return out;
}

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
