// Reading the notes of a MIDI body while it is parsed (see note_capture.hpp).
#include "note_capture.hpp"

#include "note_rules.hpp"
#include "readers.hpp"

#include <cmath>

namespace kiemidi::api::detail {

// ---- field ----

std::optional<std::int64_t> note_captures::field::lenient_int64() const
{
    switch (k)
    {
    case kind::scalar:
    {
        const json_path at;
        json_status scratch;
        return detail::lenient_int64(json_reader(&scalar, at, scratch));
    }
    case kind::string: return kiemidi::detail::parse_int64_text(text);
    default: return std::nullopt;
    }
}

std::optional<double> note_captures::field::lenient_double() const
{
    switch (k)
    {
    case kind::scalar:
    {
        const json_path at;
        json_status scratch;
        return detail::lenient_double(json_reader(&scalar, at, scratch));
    }
    case kind::string:
    {
        auto d = kiemidi::detail::parse_double_text(text);
        if (d && !std::isfinite(*d)) return std::nullopt;
        return d;
    }
    default: return std::nullopt;
    }
}

std::optional<double> note_captures::field::infinite() const noexcept
{
    if (k == kind::scalar && scalar.is_double() && std::isinf(scalar.get_double())) return scalar.get_double();
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
    lists_.back().repairs.push_back({count_++, captured_repair::kind::note_dropped, "note that is not an object"});
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

void note_captures::scalar(const boost::json::value& v)
{
    if (depth_ == 0)
    {
        element_not_an_object();
        return;
    }
    field* f = depth_ == 1 && in_note_ ? current_field() : nullptr;
    if (!f) return;
    if (v.is_null())
        f->k = field::kind::null;
    else
    {
        f->k = field::kind::scalar;
        f->scalar = v;
    }
    slot_ = slot::none;
}

namespace {

struct capture_sink
{
    captured_notes& list;
    std::size_t index;

    void drop(std::string_view why) { list.repairs.push_back({index, captured_repair::kind::note_dropped, why}); }
    void repair(std::string_view why, bool another)
    {
        list.repairs.push_back(
            {index, another ? captured_repair::kind::another_reason : captured_repair::kind::note_repaired, why});
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
