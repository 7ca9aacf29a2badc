#include "json_writer.hpp"

#include <charconv>

namespace kiemidi::emulator::detail {

std::string number_text(double v)
{
    char buf[64];
    auto r = std::to_chars(buf, buf + sizeof buf, v);
    return std::string(buf, r.ptr);
}

void json_writer::separate()
{
    if (after_key_) { after_key_ = false; return; }  // the key wrote the separator
    if (has_items_.empty()) return;
    if (has_items_.back()) out_.push_back(',');
    has_items_.back() = true;
}

json_writer& json_writer::key(std::string_view k)
{
    separate();
    quote(k);
    out_.push_back(':');
    after_key_ = true;
    return *this;
}

void json_writer::quote(std::string_view s)
{
    static constexpr char digits[] = "0123456789abcdef";
    out_.push_back('"');
    for (char c : s)
    {
        switch (c)
        {
        case '"': out_ += "\\\""; break;
        case '\\': out_ += "\\\\"; break;
        case '\n': out_ += "\\n"; break;
        case '\r': out_ += "\\r"; break;
        case '\t': out_ += "\\t"; break;
        default:
            if (const auto u = static_cast<unsigned char>(c); u < 0x20)
            {
                out_ += "\\u00";
                out_.push_back(digits[u >> 4]);
                out_.push_back(digits[u & 15]);
            }
            else out_.push_back(c);
        }
    }
    out_.push_back('"');
}

}  // namespace kiemidi::emulator::detail
