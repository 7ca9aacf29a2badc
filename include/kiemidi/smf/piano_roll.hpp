/// @file
/// Piano roll: KIE's per-instrument notes → one self-contained SVG image.
///
/// Time runs left to right in seconds (with a labelled grid, or bar lines when the beat grid is given), pitch bottom to top (a line and a
/// note name at every C); each instrument has its own colour (legend on top) and a note's
/// velocity is its opacity. Drum kits (is_drum_instrument) get their own lane below the pitched
/// notes, one row per drum sound. The width is bounded, so a long song stays one readable image.
/// Pure code: no I/O, no shared state; call from any thread.
#ifndef KIEMIDI_SMF_PIANO_ROLL_HPP
#define KIEMIDI_SMF_PIANO_ROLL_HPP

#include <kiemidi/api/midi.hpp>
#include <kiemidi/config.hpp>
#include <kiemidi/smf/beat_grid.hpp>

#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace kiemidi::smf {

/// How the roll is laid out. Out-of-range values are corrected, never rejected.
struct piano_roll_options
{
    /// Horizontal scale for short songs; a longer song is squeezed so that the plot stays within
    /// max_plot_width (non-finite or <= 0: 40).
    double pixels_per_second = 40.0;
    /// Width of the time axis in pixels at most (clamped to 100..20000). A 3-minute song at the
    /// default is ~6.7 px per second: a bar of 4/4 at 120 BPM is ~13 px wide.
    double max_plot_width = 1200.0;
    /// Height of the pitched area in pixels at most (clamped to 60..4000); rows are 2..8 px high.
    double max_plot_height = 420.0;
    /// Text above the legend (e.g. the track's name); empty: none. Escaped for XML.
    std::string title;
    /// The song's beat grid: when set, bar lines on its downbeats (`<g class="bars">`, numbered
    /// under the plot from the first downbeat) replace the seconds, and the title ends with the
    /// tempo and meter ("— 96.0 BPM, 4/4").
    std::optional<beat_grid> grid;
};

/// The SVG document (UTF-8, starting with "<svg", no XML declaration, so it can be inlined in
/// HTML as it is or saved as a .svg file).
///
/// Shapes: every note is one `<rect class="note">` inside its instrument's `<g class="instrument">`
/// (fill = piano_roll_colour(index), fill-opacity = 0.3 + 0.7 × velocity); legend swatches and
/// backgrounds are other rects. Notes shorter than one pixel are drawn one pixel wide. Pitches
/// are clamped to 0..127; negative or non-finite times count as 0. No instrument or no note
/// gives a small image saying "no notes". Instrument names are escaped, and characters XML
/// cannot hold (control characters) are replaced by '?'.
KIEMIDI_DECL std::string write_piano_roll_svg(std::span<const api::instrument> instruments,
                                              const piano_roll_options& opts = {});

/// The fill colour of the instrument at `index` (in input order) as "#rrggbb"; a fixed palette
/// of 12 colours that repeats. Drums use the same palette, by their index.
KIEMIDI_DECL std::string_view piano_roll_colour(std::size_t index) noexcept;

/// `text` with &, <, >, " and ' escaped, and control characters other than tab and newline
/// replaced by '?', so it is safe in XML/HTML text and attribute values.
KIEMIDI_DECL std::string xml_escape(std::string_view text);

/// The note name of a MIDI pitch with its octave, middle C (60) being "C4": 61 → "C#4", 21 → "A0".
KIEMIDI_DECL std::string note_name(int pitch);

}  // namespace kiemidi::smf

#endif
