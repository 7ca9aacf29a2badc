// Internal: the one writer of the emulator's JSON bodies. A streaming writer rather than
// boost::json::serialize because the bytes are part of what the emulator reproduces: doubles in
// their shortest round-trip form as KIE prints them ("0.036458333333333336", "1", "100"; never
// "1E0"), integers as integers, numbers written as strings where KIE mixes both, pre-rendered
// JSON spliced in unchanged, no whitespace.
#ifndef KIEMIDI_SRC_EMULATOR_JSON_WRITER_HPP
#define KIEMIDI_SRC_EMULATOR_JSON_WRITER_HPP

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kiemidi::emulator::detail {

/// Shortest round-trip text of a double, as KIE prints it ("0.036458333333333336", "1").
std::string number_text(double v);

class json_writer
{
public:
    explicit json_writer(std::size_t reserve = 256) { out_.reserve(reserve); }

    json_writer& begin_object() { open('{'); return *this; }
    json_writer& end_object() { close('}'); return *this; }
    json_writer& begin_array() { open('['); return *this; }
    json_writer& end_array() { close(']'); return *this; }

    /// The next member's key; its value follows.
    json_writer& key(std::string_view k);

    json_writer& string(std::string_view s) { separate(); quote(s); return *this; }
    json_writer& null() { return raw("null"); }
    json_writer& integer(std::int64_t v) { return raw(std::to_string(v)); }
    json_writer& unsigned_integer(std::uint64_t v) { return raw(std::to_string(v)); }
    json_writer& number(double v) { return raw(number_text(v)); }
    /// A number written as a JSON string ("0.5"), as KIE's MIDI callback sometimes does.
    json_writer& number_as_string(double v) { return string(number_text(v)); }
    json_writer& optional_string(const std::optional<std::string>& s) { return s ? string(*s) : null(); }
    json_writer& optional_integer(const std::optional<std::int64_t>& v) { return v ? integer(*v) : null(); }
    /// A value already rendered as JSON.
    json_writer& raw(std::string_view json) { separate(); out_.append(json); return *this; }

    std::string take() { return std::move(out_); }

private:
    void separate();
    void open(char c) { separate(); out_.push_back(c); has_items_.push_back(false); }
    void close(char c) { has_items_.pop_back(); out_.push_back(c); }
    void quote(std::string_view s);

    std::string out_;
    std::vector<bool> has_items_;  ///< per open object/array: something written already (a comma comes next)
    bool after_key_ = false;
};

}  // namespace kiemidi::emulator::detail

#endif
