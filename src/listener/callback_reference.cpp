// Callback references in callback URLs; see callback_reference.hpp.
#include <kiemidi/callback_reference.hpp>

#include "../crypto/crypto.hpp"

#include <boost/url/parse.hpp>
#include <boost/url/url.hpp>

#include <algorithm>
#include <string>

namespace kiemidi {

bool is_valid_callback_reference(std::string_view reference) noexcept
{
    if (reference.empty() || reference.size() > max_callback_reference_size) return false;
    return std::all_of(reference.begin(), reference.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
    });
}

namespace {

// For a URL that is not a URI reference (RFC 3986): `ref=` added after the last query parameter,
// before a fragment, as text.
std::string append_reference_as_text(std::string_view url, std::string_view reference)
{
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

}  // namespace

std::string with_callback_reference(std::string_view url, std::string_view reference)
{
    if (!is_valid_callback_reference(reference)) return std::string(url);
    const auto parsed = boost::urls::parse_uri_reference(url);
    if (!parsed) return append_reference_as_text(url, reference);
    boost::urls::url out(*parsed);
    // An empty query ("?") or a trailing '&' would read as an empty parameter before ours: the
    // reference takes its place rather than following it.
    if (std::string query(out.encoded_query()); query.empty())
        out.remove_query();
    else if (query.back() == '&')
    {
        query.pop_back();
        out.set_encoded_query(query);
    }
    // One `ref` only: callback_reference_of() names nothing when the target carries two.
    out.params().set("ref", reference);
    return std::string(out.buffer());
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
