// Path-tracking JSON reader used by every KIE mapping.
#include "json_reader.hpp"

#include <boost/json/basic_parser_impl.hpp>
#include <boost/json/error.hpp>
#include <boost/json/parse_options.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value_stack.hpp>

#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <system_error>

namespace kiemidi::detail {
namespace {

std::string_view trim(std::string_view s) noexcept
{
    auto blank = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; };
    while (!s.empty() && blank(s.front())) s.remove_prefix(1);
    while (!s.empty() && blank(s.back())) s.remove_suffix(1);
    return s;
}

std::string_view kind_name(const boost::json::value& v) noexcept
{
    switch (v.kind())
    {
    case boost::json::kind::null: return "null";
    case boost::json::kind::bool_: return "a boolean";
    case boost::json::kind::int64:
    case boost::json::kind::uint64:
    case boost::json::kind::double_: return "a number";
    case boost::json::kind::string: return "a string";
    case boost::json::kind::array: return "an array";
    case boost::json::kind::object: return "an object";
    }
    return "a value";
}

// Quotes a short excerpt of the offending value so the message shows what KIE sent.
std::string describe(const boost::json::value& v)
{
    if (v.is_string())
    {
        std::string_view s = v.get_string();
        constexpr std::size_t max = 40;
        std::string out = "\"";
        out.append(s.substr(0, max));
        if (s.size() > max) out += "...";
        out += '"';
        return out;
    }
    if (v.is_array() || v.is_object()) return std::string(kind_name(v));
    return boost::json::serialize(v);
}

// Exact decimal → double without from_chars for the literals KIE sends. Clinger's fast
// path: when the digits form an integer m < 2^53 and |exponent| <= 22, m and 10^|e| are exact
// doubles and the one IEEE multiplication or division is correctly rounded. With up to 19
// digits, the same operation in x87 extended precision (64-bit mantissa, m and 10^|e| <= 10^27
// still exact) is correctly rounded to 64 bits; rounding that to double is exact too unless the
// 64-bit result lies within one unit of a double's rounding midpoint, which is left to from_chars.
bool short_decimal(std::string_view t, double& out) noexcept
{
    static constexpr double pow10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
                                       1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
    std::size_t i = 0;
    const bool negative = i < t.size() && t[i] == '-';
    if (negative) ++i;
    std::uint64_t m = 0;
    int digits = 0, exponent = 0;
    bool any = false;
    for (; i < t.size() && t[i] >= '0' && t[i] <= '9'; ++i, any = true)
    {
        if (m == 0 && t[i] == '0') continue;  // leading zeros add no precision
        if (++digits > 19) return false;
        m = m * 10 + static_cast<unsigned>(t[i] - '0');
    }
    if (i < t.size() && t[i] == '.')
    {
        for (++i; i < t.size() && t[i] >= '0' && t[i] <= '9'; ++i, any = true)
        {
            --exponent;
            if (m == 0 && t[i] == '0') continue;
            if (++digits > 19) return false;
            m = m * 10 + static_cast<unsigned>(t[i] - '0');
        }
    }
    if (!any) return false;
    if (i < t.size() && (t[i] == 'e' || t[i] == 'E'))
    {
        ++i;
        bool eneg = false;
        if (i < t.size() && (t[i] == '+' || t[i] == '-')) eneg = t[i++] == '-';
        int e = 0;
        bool edigits = false;
        for (; i < t.size() && t[i] >= '0' && t[i] <= '9'; ++i, edigits = true)
        {
            if (e > 1000) return false;
            e = e * 10 + (t[i] - '0');
        }
        if (!edigits) return false;
        exponent += eneg ? -e : e;
    }
    if (i != t.size()) return false;
    double v = 0;
    if (m == 0)
        v = 0;
    else if (digits <= 15)
    {
        // 15 digits keep m below 2^53, so the conversion to double is exact.
        if (exponent < -22 || exponent > 22) return false;
        v = static_cast<double>(m);
        v = exponent < 0 ? v / pow10[-exponent] : v * pow10[exponent];
    }
    else
    {
        if constexpr (std::numeric_limits<long double>::digits != 64 || std::numeric_limits<long double>::radix != 2)
            return false;
        else
        {
            if (exponent < -27 || exponent > 27) return false;
            // 10^27 = 5^27 * 2^27 with 5^27 < 2^64: every entry is exact.
            static constexpr long double lpow10[] = {1e0L, 1e1L, 1e2L, 1e3L, 1e4L, 1e5L, 1e6L, 1e7L, 1e8L, 1e9L, 1e10L, 1e11L, 1e12L, 1e13L, 1e14L, 1e15L, 1e16L, 1e17L, 1e18L, 1e19L, 1e20L, 1e21L, 1e22L, 1e23L, 1e24L, 1e25L, 1e26L, 1e27L};
            const long double p = lpow10[exponent < 0 ? -exponent : exponent];
            const long double x = exponent < 0 ? static_cast<long double>(m) / p : static_cast<long double>(m) * p;
            std::uint64_t bits = 0;
            std::memcpy(&bits, &x, sizeof bits);  // x87 layout: the 64-bit significand comes first
            const auto low = bits & 0x7FF;        // the 11 bits rounding to double drops
            if (low >= 0x3FF && low <= 0x401) return false;
            v = static_cast<double>(x);
        }
    }
    out = negative ? -v : v;
    return true;
}

std::optional<std::int64_t> to_int64(double d) noexcept
{
    // 2^63 is exactly representable; anything at or beyond it does not fit.
    constexpr double limit = 9223372036854775808.0;
    if (!std::isfinite(d) || d != std::trunc(d) || d >= limit || d < -limit) return std::nullopt;
    return static_cast<std::int64_t>(d);
}

std::string number_text(const boost::json::value& v)
{
    if (v.is_int64()) return std::to_string(v.get_int64());
    if (v.is_uint64()) return std::to_string(v.get_uint64());
    char buf[32];
    auto res = std::to_chars(buf, buf + sizeof buf, v.get_double());
    return std::string(buf, res.ptr);
}

}  // namespace

std::optional<double> parse_double_text(std::string_view text) noexcept
{
    text = trim(text);
    if (text.empty()) return std::nullopt;
    if (text.front() == '+') text.remove_prefix(1);  // from_chars rejects a leading '+'
    double d = 0;
    if (short_decimal(text, d)) return d;
    auto res = std::from_chars(text.data(), text.data() + text.size(), d, std::chars_format::general);
    if (res.ec != std::errc{} || res.ptr != text.data() + text.size() || !std::isfinite(d)) return std::nullopt;
    return d;
}

std::optional<std::int64_t> parse_int64_text(std::string_view text) noexcept
{
    std::string_view t = trim(text);
    if (!t.empty() && t.front() == '+') t.remove_prefix(1);
    std::int64_t i = 0;
    auto res = std::from_chars(t.data(), t.data() + t.size(), i);
    if (!t.empty() && res.ec == std::errc{} && res.ptr == t.data() + t.size()) return i;
    if (auto d = parse_double_text(text)) return to_int64(*d);
    return std::nullopt;
}

// ---- json_path ----

void json_path::append_to(std::string& out) const
{
    if (parent_) parent_->append_to(out);
    switch (kind_)
    {
    case kind::root: break;
    case kind::key:
        if (!out.empty()) out += '.';
        out.append(key_);
        break;
    case kind::index:
        out += '[';
        out += std::to_string(index_);
        out += ']';
        break;
    }
}

std::string json_path::to_string() const
{
    std::string out;
    append_to(out);
    if (out.empty()) out = "(body)";
    return out;
}

// ---- json_status ----

void json_status::fail(client_errc e, const json_path& at, std::string_view detail)
{
    if (error_) return;
    error_ = e;
    message_ = e == client_errc::missing_field ? "missing field " : "invalid field ";
    message_ += at.to_string();
    if (!detail.empty())
    {
        message_ += ": ";
        message_.append(detail);
    }
}

// ---- json_document ----

namespace {

// Builds a value like boost::json::parser, except that doubles are re-read exactly from their
// text (short_decimal, else std::from_chars): Boost.JSON 1.81 can be one ULP off, and note times
// must survive a round trip.
class exact_number_handler
{
public:
    static constexpr std::size_t max_object_size = boost::json::object::max_size();
    static constexpr std::size_t max_array_size = boost::json::array::max_size();
    static constexpr std::size_t max_key_size = boost::json::string::max_size();
    static constexpr std::size_t max_string_size = boost::json::string::max_size();

    boost::json::value_stack st;
    // Set when the notes are read while parsing: the values inside a captured `notes` array go
    // to it instead of the DOM, which gets a placeholder for the array.
    api::detail::note_captures* notes = nullptr;

    bool on_document_begin(error_code&) { return true; }
    bool on_document_end(error_code&) { return true; }
    bool on_object_begin(error_code&)
    {
        if (capturing()) notes->begin(true);
        return true;
    }
    bool on_object_end(std::size_t n, error_code&)
    {
        if (capturing())
            notes->end();
        else
            st.push_object(n);
        return true;
    }
    bool on_array_begin(error_code&)
    {
        if (notes)
        {
            if (notes->capturing())
                notes->begin(false);
            else
                notes->begin_array();
        }
        return true;
    }
    bool on_array_end(std::size_t n, error_code&)
    {
        if (notes && notes->capturing())
        {
            if (notes->end())
            {
                st.push_uint64(notes->last_index());
                st.push_array(1);
            }
        }
        else
            st.push_array(n);
        return true;
    }
    bool on_key_part(boost::json::string_view s, std::size_t, error_code&)
    {
        if (notes && notes->capturing())
            notes->key_part(s);
        else
        {
            st.push_chars(s);
            if (notes) notes->outer_key_part(s);
        }
        return true;
    }
    bool on_key(boost::json::string_view s, std::size_t, error_code&)
    {
        if (notes && notes->capturing())
            notes->key(s);
        else
        {
            st.push_key(s);
            if (notes) notes->outer_key(s);
        }
        return true;
    }
    bool on_string_part(boost::json::string_view s, std::size_t, error_code&)
    {
        if (notes && notes->capturing())
            notes->string_part(s);
        else
            st.push_chars(s);
        return true;
    }
    bool on_string(boost::json::string_view s, std::size_t, error_code&)
    {
        if (capturing())
            notes->string(s);
        else
            st.push_string(s);
        return true;
    }
    bool on_number_part(boost::json::string_view s, error_code&)
    {
        number_.append(s.data(), s.size());
        return true;
    }
    bool on_int64(std::int64_t i, boost::json::string_view, error_code&)
    {
        number_.clear();
        if (capturing())
            notes->scalar(i);
        else
            st.push_int64(i);
        return true;
    }
    bool on_uint64(std::uint64_t u, boost::json::string_view, error_code&)
    {
        number_.clear();
        if (capturing())
            notes->scalar(u);
        else
            st.push_uint64(u);
        return true;
    }
    bool on_double(double d, boost::json::string_view s, error_code&)
    {
        std::string_view text(s.data(), s.size());
        if (!number_.empty())
        {
            number_.append(text);
            text = number_;
        }
        double exact = 0;
        if (!short_decimal(text, exact))
        {
            auto res = std::from_chars(text.data(), text.data() + text.size(), exact);
            // Out-of-range literals keep Boost's value (e.g. infinity); the readers reject those.
            if (res.ec != std::errc{}) exact = d;
        }
        if (capturing())
            notes->scalar(exact);
        else
            st.push_double(exact);
        number_.clear();
        return true;
    }
    bool on_bool(bool b, error_code&)
    {
        if (capturing())
            notes->scalar(b);
        else
            st.push_bool(b);
        return true;
    }
    bool on_null(error_code&)
    {
        if (capturing())
            notes->null();
        else
            st.push_null();
        return true;
    }
    bool on_comment_part(boost::json::string_view, error_code&) { return true; }
    bool on_comment(boost::json::string_view, error_code&) { return true; }

private:
    // Inside a captured array; outside, a value other than an array ends the wait for one after
    // a `notes` key.
    bool capturing() const
    {
        if (!notes) return false;
        if (notes->capturing()) return true;
        notes->outer_value();
        return false;
    }

    std::string number_;
};

}  // namespace

json_document::json_document(std::string_view body, api::detail::note_reading notes)
    : capturing_(notes == api::detail::note_reading::captured),
      arena_(initial_buffer_, sizeof initial_buffer_),
      // root_ must use the arena too: assigning a value from another memory resource is a deep
      // copy (Boost.JSON moves only between equal resources), which doubled the cost of parsing.
      root_(boost::json::storage_ptr(&arena_))
{
    boost::json::parse_options opts;
    // Text fields (titles, prompts) come from users; a stray invalid byte must not cost the answer.
    opts.allow_invalid_utf8 = true;
    boost::json::basic_parser<exact_number_handler> parser(opts);
    parser.handler().st.reset(boost::json::storage_ptr(&arena_));
    if (capturing_) parser.handler().notes = &notes_;
    boost::system::error_code ec;
    const std::size_t used = parser.write_some(false, body.data(), body.size(), ec);
    if (!ec && used < body.size()) ec = boost::json::error::extra_data;
    if (!ec && !parser.done()) ec = boost::json::error::incomplete;
    if (!ec)
    {
        root_ = parser.handler().st.release();
        return;
    }
    error_ = client_errc::bad_json;
    // An excerpt helps when a proxy or CDN answered with text or HTML instead of KIE's JSON.
    constexpr std::size_t excerpt = 60;
    message_ = "body is not valid JSON (" + ec.message() + "); it starts with \"";
    message_.append(body.substr(0, excerpt));
    if (body.size() > excerpt) message_ += "...";
    message_ += '"';
}

// ---- json_reader ----

json_reader json_reader::operator[](std::string_view key) const noexcept
{
    const boost::json::value* child = nullptr;
    if (value_ && value_->is_object()) child = value_->get_object().if_contains(key);
    return json_reader(child, json_path(path_, key), *status_, notes_);
}

json_reader json_reader::any_of(std::initializer_list<std::string_view> keys) const noexcept
{
    if (value_ && value_->is_object())
    {
        const auto& obj = value_->get_object();
        for (std::string_view key : keys)
        {
            const boost::json::value* child = obj.if_contains(key);
            if (child && !child->is_null()) return json_reader(child, json_path(path_, key), *status_, notes_);
        }
    }
    return (*this)[*keys.begin()];
}

json_reader json_reader::operator[](std::size_t i) const noexcept
{
    const boost::json::value* child = nullptr;
    if (value_ && value_->is_array() && i < value_->get_array().size()) child = &value_->get_array()[i];
    return json_reader(child, json_path(path_, i), *status_, notes_);
}

bool json_reader::require_object() const
{
    if (is_object()) return true;
    if (missing_or_null())
        fail_missing();
    else
        fail_invalid("expected an object, got " + describe(*value_));
    return false;
}

bool json_reader::optional_object() const
{
    if (is_object()) return true;
    if (!missing_or_null()) fail_invalid("expected an object, got " + describe(*value_));
    return false;
}

bool json_reader::optional_array() const
{
    if (is_array()) return true;
    if (!missing_or_null()) fail_invalid("expected an array, got " + describe(*value_));
    return false;
}

std::optional<std::string> json_reader::opt_string() const
{
    if (missing_or_null()) return std::nullopt;
    if (value_->is_string()) return std::string(value_->get_string());
    fail_invalid("expected a string, got " + describe(*value_));
    return std::nullopt;
}

std::optional<std::string> json_reader::opt_text() const
{
    if (missing_or_null()) return std::nullopt;
    if (value_->is_string()) return std::string(value_->get_string());
    if (value_->is_number()) return number_text(*value_);
    fail_invalid("expected a string or a number, got " + describe(*value_));
    return std::nullopt;
}

std::optional<std::int64_t> json_reader::opt_int64() const
{
    if (missing_or_null()) return std::nullopt;
    const auto& v = *value_;
    std::optional<std::int64_t> out;
    if (v.is_int64())
        out = v.get_int64();
    else if (v.is_uint64())
    {
        if (v.get_uint64() <= static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
            out = static_cast<std::int64_t>(v.get_uint64());
    }
    else if (v.is_double())
        out = to_int64(v.get_double());
    else if (v.is_string())
        out = parse_int64_text(v.get_string());
    if (!out) fail_invalid("expected an integer, got " + describe(v));
    return out;
}

std::optional<double> json_reader::opt_double() const
{
    if (missing_or_null()) return std::nullopt;
    const auto& v = *value_;
    std::optional<double> out;
    if (v.is_number())
        out = v.to_number<double>();
    else if (v.is_string())
        out = parse_double_text(v.get_string());
    if (!out) fail_invalid("expected a number, got " + describe(v));
    return out;
}

std::string json_reader::as_string() const
{
    if (missing_or_null())
    {
        fail_missing();
        return {};
    }
    return opt_string().value_or(std::string());
}

std::int64_t json_reader::as_int64() const
{
    if (missing_or_null())
    {
        fail_missing();
        return 0;
    }
    return opt_int64().value_or(0);
}

double json_reader::as_double() const
{
    if (missing_or_null())
    {
        fail_missing();
        return 0;
    }
    return opt_double().value_or(0);
}

}  // namespace kiemidi::detail
