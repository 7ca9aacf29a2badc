// What one note of KIE's means: the rules that keep, repair or drop a note given its four fields.
// Both ways of reading notes apply them (the DOM reader and the capture while parsing), so the
// two cannot disagree on a note, a reason or the order in which reasons are met.
// Private to src/api.
#ifndef KIEMIDI_SRC_API_NOTE_RULES_HPP
#define KIEMIDI_SRC_API_NOTE_RULES_HPP

#include <kiemidi/api/midi.hpp>

#include <cmath>
#include <cstdint>
#include <optional>
#include <string_view>

namespace kiemidi::api::detail {

/// Reads one note from its fields into `out`, repairing what has one plausible meaning (see
/// api::note). Returns false when the note cannot be right and must be dropped.
///
/// Field: missing_or_null(); lenient_int64() and lenient_double() (nullopt when unusable, the
/// double also when not finite); infinite() (the value when it is a double literal too large for
/// a double, which reads as infinity). Sink: drop(why), repair(why, another) where `another` says
/// the note was already counted as repaired (a note with two repairs counts once, both reasons).
/// The reasons are string literals.
template <class Field, class Sink>
bool apply_note_rules(const Field& pitch, const Field& start_field, const Field& end_field, const Field& velocity,
                      note& out, Sink& sink)
{
    auto drop = [&](std::string_view why) {
        sink.drop(why);
        return false;
    };
    if (pitch.missing_or_null()) return drop("note without pitch");
    {
        std::optional<std::int64_t> p = pitch.lenient_int64();
        if (!p) return drop("pitch not an integer");
        if (*p < 0 || *p > 127) return drop("pitch outside 0-127");
        out.pitch = static_cast<int>(*p);
    }
    std::optional<double> start = start_field.lenient_double();
    std::optional<double> end = end_field.lenient_double();
    if (!start || !end) return drop("note time missing or not a finite number");
    if (*end <= *start) return drop(*end == *start ? "zero-length note" : "note ending before it starts");
    bool repaired = false;
    auto repair = [&](std::string_view why) {
        sink.repair(why, repaired);
        repaired = true;
    };
    if (*start < 0)
    {
        if (*end <= 0) return drop("note before the track start");
        start = 0.0;
        repair("negative start clamped to 0");
    }
    out.start = *start;
    out.end = *end;
    if (velocity.missing_or_null())
    {
        out.velocity = note::default_velocity;
        repair("no velocity (0.8 used)");
        return true;
    }
    std::optional<double> v = velocity.lenient_double();
    if (!v)
    {
        // A literal too large for a double reads as infinity: the loudest, like any v > 127.
        v = velocity.infinite();
        if (!v)
        {
            out.velocity = note::default_velocity;
            repair("velocity not a number (0.8 used)");
            return true;
        }
    }
    if (*v >= 0.0 && *v <= 1.0)
        out.velocity = *v;
    else if (*v > 1.0 && *v <= 127.0 && *v == std::trunc(*v))
    {
        out.velocity = *v / 127.0;
        repair("velocity on the 0-127 scale");
    }
    else if (*v > 1.0)
    {
        out.velocity = 1.0;
        repair("velocity above 1 clamped");
    }
    else
    {
        out.velocity = 0.0;
        repair("negative velocity clamped to 0");
    }
    return true;
}

}  // namespace kiemidi::api::detail

#endif
