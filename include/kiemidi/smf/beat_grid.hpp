// Beat grid: the tempo map, bar lines and meter of a song, estimated from KIE's notes.
//
// KIE returns notes in seconds. To write a MIDI file whose beats fall on quarter notes and whose
// bars start on the downbeats, kiemidi estimates where the beats are from the notes themselves:
//  1. an onset strength envelope (100 frames per second): every note onset adds its velocity,
//     weighted by what marks the pulse (kick and snare more than hi-hats, drums and bass more
//     than sustained parts), smoothed by a few milliseconds to absorb human timing;
//  2. the tempo: the envelope's autocorrelation summed over the first multiples of each period
//     (a comb filter), weighted by a log-normal prior centred on 120 BPM (σ = 1 octave), refined
//     to a fraction of a frame;
//  3. the beats: dynamic programming over the envelope, the method of D. P. W. Ellis, "Beat
//     Tracking by Dynamic Programming", Journal of New Music Research 36(1), 2007: each beat
//     maximises onset strength plus a penalty on the log-deviation of its interval from the
//     period, so the tempo may drift but never jumps; each beat is then refined to the onsets
//     near it;
//  4. the bar: the meter (4/4, or 3/4 when the accents recur every three beats) and the phase of
//     the downbeat from the accents (kick, bass and chord onsets, long notes, loud notes);
//  5. a confidence: how much of the onset weight lies on the grid's beats and eighths.
// When it cannot tell (few onsets, no steady pulse) the grid is a fixed tempo (the median
// interval, else 120 BPM) from 0 s with `note` saying why. Tempo stays within 40..240 BPM, and
// adjacent beat intervals differ by at most 8 %.
// Pure, deterministic code: no I/O, no shared state; call from any thread.
#ifndef KIEMIDI_SMF_BEAT_GRID_HPP
#define KIEMIDI_SMF_BEAT_GRID_HPP

#include <kiemidi/api/midi.hpp>
#include <kiemidi/config.hpp>

#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace kiemidi::smf {

/// Where the beats and bars of a song are.
struct beat_grid
{
    /// Beat times in seconds, increasing; the first is at or after 0 s and the last after the
    /// song's last note ends. A grid with fewer than two beats is empty (use a fixed tempo).
    std::vector<double> beats;
    std::size_t first_downbeat = 0;  ///< Index in `beats` of the first bar line; the beats before it are a pickup.
    int beats_per_bar = 4;           ///< 4 or 3 (the time signature is beats_per_bar/4).
    double bpm = 120;                ///< 60 / the median beat interval.
    double confidence = 0;           ///< 0..1: how well the notes fit the grid (1 for a tempo the user gave).
    bool estimated = false;          ///< True when the beats follow the notes; false for a fixed tempo from 0 s.
    std::string note;                ///< Why a fixed tempo was written when the estimate was not trusted; empty otherwise.

    /// True when there are fewer than two beats (no grid: a fixed tempo is written).
    bool empty() const noexcept { return beats.size() < 2; }
    /// Member-wise equality.
    friend bool operator==(const beat_grid&, const beat_grid&) = default;
};

/// How the tempo of a written file is chosen.
enum class tempo_mode
{
    automatic,  ///< Estimated from the notes (the default).
    off,        ///< A fixed 120 BPM in 4/4 from 0 s (the files of earlier versions).
    given,      ///< The user's tempo (`bpm`); only the phase of the beats and the bar are fitted.
};

/// The user's choice of tempo for a written file (`--tempo auto|off|BPM`).
struct tempo_choice
{
    tempo_mode mode = tempo_mode::automatic;  ///< How the tempo is chosen.
    double bpm = 0;  ///< For tempo_mode::given: 40..240, else it is clamped.

    /// Member-wise equality.
    friend bool operator==(const tempo_choice&, const tempo_choice&) = default;
};

/// "auto", "off" or a BPM (40..240, decimals allowed); nullopt for anything else.
KIEMIDI_DECL std::optional<tempo_choice> parse_tempo_choice(std::string_view text);
/// "auto", "off" or the BPM as parse_tempo_choice reads it.
KIEMIDI_DECL std::string to_string(const tempo_choice& choice);

/// Below this confidence the estimate is not trusted: a fixed tempo is written instead.
inline constexpr double min_confidence = 0.35;

/// The beat grid of these notes. tempo_mode::off gives a fixed 120 BPM grid. 20,000 notes take a
/// few milliseconds.
KIEMIDI_DECL beat_grid estimate_beat_grid(std::span<const api::instrument> instruments, const tempo_choice& choice = {});

/// Evenly spaced beats at `bpm` (clamped to 40..240) from 0 s to past `until_seconds`, 4/4, no pickup.
KIEMIDI_DECL beat_grid fixed_beat_grid(double bpm, double until_seconds);

}  // namespace kiemidi::smf

#endif
