// Callback references in callback URLs; see callback_reference.hpp.
#include <kiemidi/callback_reference.hpp>

#include "../crypto/crypto.hpp"

#include <boost/url/parse.hpp>

#include <algorithm>

namespace kiemidi {

bool is_valid_callback_reference(std::string_view reference) noexcept
{
    if (reference.empty() || reference.size() > max_callback_reference_size) return false;
    return std::all_of(reference.begin(), reference.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
    });
}

std::string with_callback_reference(std::string_view url, std::string_view reference)
{
    if (!is_valid_callback_reference(reference)) return std::string(url);
    const auto hash = url.find('#');
    std::string out(url.substr(0, hash));
    const auto q = out.find('?');
    if (q == std::string::npos) out += '?';
    else if (q + 1 != out.size() && out.back() != '&') out += '&';
    out += "ref=";
    out += reference;
    if (hash != std::string_view::npos) out += url.substr(hash);
    return out;
}

std::string callback_reference_of(std::string_view target)
{
    // The request target as a URI reference (path, query, fragment), split by Boost.URL. A target
    // that is not one was not made by with_callback_reference() and names no reference.
    const auto parsed = boost::urls::parse_uri_reference(target);
    if (!parsed) return {};
    std::string_view found;
    int seen = 0;
    // Keys compared as sent: only "ref=" names the reference (not "r%65f=", not a bare "ref").
    for (const auto param : parsed->encoded_params())
    {
        if (param.key != "ref" || !param.has_value) continue;
        found = std::string_view(param.value.data(), param.value.size());
        ++seen;
    }
    if (seen != 1 || !is_valid_callback_reference(found)) return {};
    return std::string(found);
}

std::string make_callback_reference() { return detail::random_hex(12, "make a callback reference"); }

}  // namespace kiemidi
