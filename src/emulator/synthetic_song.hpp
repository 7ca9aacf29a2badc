// Internal: the music behind the emulator's notes. A song is played on a beat grid at a tempo
// derived from the seed and the song (60..180 BPM), in 4/4 or now and then 3/4, with a pickup
// before its first downbeat, swung eighths in some songs, a slow tempo drift in others, accents
// on the downbeats and a few milliseconds of human timing. Its truth (the beats, the meter, the
// first downbeat) is what tests and benchmarks score a tempo estimate against. No I/O, no state.
#ifndef KIEMIDI_SRC_EMULATOR_SYNTHETIC_SONG_HPP
#define KIEMIDI_SRC_EMULATOR_SYNTHETIC_SONG_HPP

#include "task_records.hpp"

#include <cstdint>
#include <string_view>
#include <vector>

namespace kiemidi::emulator::detail {

/// The grid a synthetic song is played on.
struct song_truth
{
    double bpm = 120;           ///< Tempo at the first downbeat.
    double drift = 0;           ///< Relative tempo change from the first to the last beat (0.05: 5 % faster at the end).
    int beats_per_bar = 4;      ///< 4 or 3.
    double swing = 0.5;         ///< Where the off-beat eighth falls within the beat (0.5 straight, ~0.6 swung).
    int pickup_beats = 0;       ///< Beats with notes before the first downbeat.
    std::size_t first_downbeat = 0;  ///< Index in `beats` of the first downbeat.
    std::vector<double> beats;  ///< Beat times in seconds (unjittered), first pickup beat first, past the song's end.

    double first_downbeat_time() const { return beats.empty() ? 0.0 : beats[first_downbeat]; }
    /// Whether beat `index` starts a bar.
    bool is_downbeat(std::size_t index) const
    {
        return index >= first_downbeat && (index - first_downbeat) % static_cast<std::size_t>(beats_per_bar) == 0;
    }
};

/// The truth of the song `song_key` (a source track's audio id) lasting `duration` seconds.
song_truth make_song_truth(std::uint64_t seed, std::string_view song_key, double duration);

/// What kind of part an instrument plays on the grid.
enum class song_part { drums, bass, chords, pad, melody };

/// The notes of one part of the song, humanized; `rng_state` makes the choices of this part.
std::vector<note_data> play_part(const song_truth& song, song_part part, int lo, int hi, std::uint64_t rng_state);

}  // namespace kiemidi::emulator::detail

#endif
