// Callback references in callback URLs; see callback_reference.hpp.
#include <kiemidi/callback_reference.hpp>

#include "../crypto/crypto.hpp"

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
    const auto q = target.find('?');
    if (q == std::string_view::npos) return {};
    auto query = target.substr(q + 1);
    if (auto hash = query.find('#'); hash != std::string_view::npos) query = query.substr(0, hash);
    std::string_view found;
    int seen = 0;
    while (!query.empty())
    {
        const auto amp = query.find('&');
        const auto part = query.substr(0, amp);
        if (part.size() >= 4 && part.substr(0, 4) == "ref=")
        {
            found = part.substr(4);
            ++seen;
        }
        if (amp == std::string_view::npos) break;
        query.remove_prefix(amp + 1);
    }
    if (seen != 1 || !is_valid_callback_reference(found)) return {};
    return std::string(found);
}

std::string make_callback_reference() { return detail::random_hex(12, "make a callback reference"); }

}  // namespace kiemidi
