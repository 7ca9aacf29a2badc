// Reading the notes of a MIDI body while it is parsed (see note_capture.hpp).
#include "note_capture.hpp"

#include "note_rules.hpp"
#include "readers.hpp"

#include <cmath>
#include <limits>

namespace kiemidi::api::detail {

// ---- field ----
// The conversions of json_reader::opt_int64 / opt_double (and lenient_double's finiteness) for
// each kind, without building a boost::json::value per field.

std::optional<std::int64_t> note_captures::field::lenient_int64() const
{
    switch (k)
    {
    case kind::int64: return i;
    case kind::uint64:
        if (u <= static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) return static_cast<std::int64_t>(u);
        return std::nullopt;
    case kind::double_:
    {
        // 2^63 is exactly representable; anything at or beyond it does not fit (as to_int64).
        constexpr double limit = 9223372036854775808.0;
        if (!std::isfinite(d) || d != std::trunc(d) || d >= limit || d < -limit) return std::nullopt;
        return static_cast<std::int64_t>(d);
    }
    case kind::string: return kiemidi::detail::parse_int64_text(text);
    default: return std::nullopt;
    }
}

std::optional<double> note_captures::field::lenient_double() const
{
    std::optional<double> out;
    switch (k)
    {
    case kind::int64: out = static_cast<double>(i); break;
    case kind::uint64: out = static_cast<double>(u); break;
    case kind::double_: out = d; break;
    case kind::string: out = kiemidi::detail::parse_double_text(text); break;
    default: return std::nullopt;
    }
    if (out && !std::isfinite(*out)) return std::nullopt;
    return out;
}

std::optional<double> note_captures::field::infinite() const noexcept
{
    if (k == kind::double_ && std::isinf(d)) return d;
    return std::nullopt;
}

// ---- note_captures ----

const captured_notes* note_captures::find(const boost::json::value& v) const noexcept
{
    const auto* a = v.if_array();
    if (!a || a->size() != 1 || !(*a)[0].is_uint64()) return nullptr;
    const std::uint64_t i = (*a)[0].get_uint64();
    return i < lists_.size() ? &lists_[i] : nullptr;
}

void note_captures::outer_key(std::string_view s)
{
    if (key_.empty())
        notes_key_ = s == "notes";
    else
    {
        key_.append(s);
        notes_key_ = key_ == "notes";
        key_.clear();
    }
}

bool note_captures::begin_array()
{
    if (!notes_key_) return false;
    notes_key_ = false;
    lists_.emplace_back();
    depth_ = 0;
    count_ = 0;
    return true;
}

void note_captures::element_not_an_object()
{
    lists_.back().repairs.push_back({count_++, repair_kind::note_dropped, "note that is not an object"});
}

void note_captures::begin(bool object)
{
    if (depth_ == 0)
    {
        element_ = count_;
        in_note_ = object;
        if (object)
        {
            ++count_;
            slot_ = slot::none;
            for (field* f : {&pitch_, &start_, &end_, &velocity_}) f->k = field::kind::absent;
        }
        else
            element_not_an_object();
    }
    else if (depth_ == 1 && in_note_)
    {
        if (field* f = current_field()) f->k = field::kind::other;
        slot_ = slot::none;
    }
    ++depth_;
}

bool note_captures::end()
{
    --depth_;
    if (depth_ < 0) return true;
    if (depth_ == 0 && in_note_) end_note();
    return false;
}

note_captures::field* note_captures::current_field() noexcept
{
    switch (slot_)
    {
    case slot::pitch: return &pitch_;
    case slot::start: return &start_;
    case slot::end: return &end_;
    case slot::velocity: return &velocity_;
    case slot::none: break;
    }
    return nullptr;
}

void note_captures::key_part(std::string_view s)
{
    if (depth_ == 1 && in_note_) key_.append(s);
}

void note_captures::key(std::string_view s)
{
    if (depth_ != 1 || !in_note_) return;
    std::string_view k = s;
    if (!key_.empty())
    {
        key_.append(s);
        k = key_;
    }
    slot_ = k == "pitch" ? slot::pitch : k == "start" ? slot::start : k == "end" ? slot::end
          : k == "velocity" ? slot::velocity : slot::none;
    key_.clear();
}

void note_captures::string_part(std::string_view s)
{
    if (depth_ == 0)
        return;  // the element's end (string()) counts it
    field* f = depth_ == 1 && in_note_ ? current_field() : nullptr;
    if (!f) return;
    if (!in_string_)
    {
        f->text.clear();
        in_string_ = true;
    }
    f->text.append(s);
}

void note_captures::string(std::string_view s)
{
    if (depth_ == 0)
    {
        element_not_an_object();
        return;
    }
    field* f = depth_ == 1 && in_note_ ? current_field() : nullptr;
    if (!f) return;
    if (!in_string_) f->text.clear();
    in_string_ = false;
    f->text.append(s);
    f->k = field::kind::string;
    slot_ = slot::none;
}

note_captures::field* note_captures::scalar_field()
{
    if (depth_ == 0)
    {
        element_not_an_object();
        return nullptr;
    }
    field* f = depth_ == 1 && in_note_ ? current_field() : nullptr;
    slot_ = slot::none;
    return f;
}

void note_captures::scalar(std::int64_t i)
{
    if (field* f = scalar_field())
    {
        f->k = field::kind::int64;
        f->i = i;
    }
}

void note_captures::scalar(std::uint64_t u)
{
    if (field* f = scalar_field())
    {
        f->k = field::kind::uint64;
        f->u = u;
    }
}

void note_captures::scalar(double d)
{
    if (field* f = scalar_field())
    {
        f->k = field::kind::double_;
        f->d = d;
    }
}

void note_captures::scalar(bool)
{
    if (field* f = scalar_field()) f->k = field::kind::other;
}

void note_captures::null()
{
    if (field* f = scalar_field()) f->k = field::kind::null;
}

namespace {

struct capture_sink
{
    captured_notes& list;
    std::size_t index;

    void drop(std::string_view why) { list.repairs.push_back({index, repair_kind::note_dropped, why}); }
    void repair(std::string_view why, bool another)
    {
        list.repairs.push_back(
            {index, another ? repair_kind::another_reason : repair_kind::note_repaired, why});
    }
};

}  // namespace

void note_captures::end_note()
{
    captured_notes& list = lists_.back();
    capture_sink sink{list, element_};
    note n;
    if (apply_note_rules(pitch_, start_, end_, velocity_, n, sink)) list.notes.push_back(n);
}

}  // namespace kiemidi::api::detail
