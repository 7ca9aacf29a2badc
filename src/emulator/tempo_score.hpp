// Internal: how close an estimated beat grid is to the truth of a synthetic song, for the tests
// and the tempo benchmark (benchmarks/tempo_bench.cpp).
#ifndef KIEMIDI_SRC_EMULATOR_TEMPO_SCORE_HPP
#define KIEMIDI_SRC_EMULATOR_TEMPO_SCORE_HPP

#include "synthetic_song.hpp"
#include "task_records.hpp"

#include <kiemidi/api/midi.hpp>
#include <kiemidi/smf/beat_grid.hpp>

#include <string>
#include <vector>

namespace kiemidi::emulator::detail {

struct tempo_score
{
    double true_bpm = 0;        ///< 60 / the truth's median beat interval.
    double bpm_error = 0;       ///< |estimate / truth − 1|.
    bool tempo_ok = false;      ///< Within 2 % (half or double is wrong).
    /// Distance, in beats, of each drum onset on a true beat (within 0.1 beat of it) from the
    /// nearest estimated beat.
    std::vector<double> beat_errors;
    double downbeats_on_bars = 0;  ///< Share of the true downbeats within 0.1 beat of an estimated bar line.
    bool meter_ok = false;         ///< Same beats per bar as the truth.
};

tempo_score score_grid(const song_truth& truth, const smf::beat_grid& grid, const std::vector<instrument_data>& notes);

/// The emulator's instruments as kiemidi's parser returns them.
std::vector<api::instrument> to_api_instruments(const std::vector<instrument_data>& notes);

}  // namespace kiemidi::emulator::detail

#endif
