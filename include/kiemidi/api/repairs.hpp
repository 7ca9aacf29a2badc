/// @file
/// What the parsers corrected or left out of a result KIE sent.
///
/// A MIDI or separation result is paid for, so one odd value in it (a velocity on MIDI's 0..127
/// scale, a zero-length note, a stem without an id) must not cost the whole answer: the parsers
/// repair what has one plausible meaning, drop what cannot be right, and count both here, with
/// the reasons, so the caller can tell the user. Only an answer that is unusable as a whole
/// (not JSON, no task id, a result of the wrong shape) is still a parse error.
#ifndef KIEMIDI_API_REPAIRS_HPP
#define KIEMIDI_API_REPAIRS_HPP

#include <kiemidi/config.hpp>

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace kiemidi::api {

/// One kind of repair and how often it happened.
struct repair_reason
{
    std::string what;      ///< e.g. "velocity on the 0-127 scale", "zero-length note".
    std::size_t count = 0; ///< How many values or items it concerned.
    std::string first_at;  ///< JSON path of the first one, e.g. "data.midiData.instruments[0].notes[3]".

    /// Equal when every member is equal.
    friend bool operator==(const repair_reason&, const repair_reason&) = default;
};

/// The repairs made while reading one result; all zero when KIE's answer needed none.
struct result_repairs
{
    /// At most this many distinct reasons are listed; the counts below still cover everything.
    static constexpr std::size_t max_reasons = 20;

    std::size_t notes_repaired = 0;  ///< Notes kept with a corrected value (see api::note).
    std::size_t notes_dropped = 0;   ///< Notes left out because no correction could make them right.
    std::size_t items_dropped = 0;   ///< Other list items left out (e.g. a stem without an id).
    std::size_t fields_ignored = 0;  ///< Optional fields with an unusable value, read as absent.
    std::vector<repair_reason> reasons;  ///< Distinct reasons, first seen first.

    /// True when nothing was repaired, dropped or ignored.
    bool empty() const noexcept { return notes_repaired + notes_dropped + items_dropped + fields_ignored == 0; }

    /// Equal when every member is equal.
    friend bool operator==(const result_repairs&, const result_repairs&) = default;
};

/// Adds `other`'s counts and reasons to `into` (reasons with the same text are merged).
KIEMIDI_DECL void merge(result_repairs& into, const result_repairs& other);

/// One line for users, empty when nothing was repaired, e.g.
/// "3 notes repaired, 1 dropped (velocity on the 0-127 scale x3, zero-length note x1)".
KIEMIDI_DECL std::string summary(const result_repairs& r);

/// The warning a finished MIDI result deserves, or "" when none: the repairs' summary, and/or
/// "KIE detected no notes in this track (valid after split_stem)" when `notes` is 0, joined by "; ".
KIEMIDI_DECL std::string result_warning(const result_repairs& r, std::size_t notes);

}  // namespace kiemidi::api

#endif
