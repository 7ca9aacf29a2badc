// Scores an estimated beat grid against a synthetic song's truth.
#include "tempo_score.hpp"

#include <kiemidi/smf/writer.hpp>

#include <algorithm>
#include <cmath>

namespace kiemidi::emulator::detail {

namespace {

double median_interval(const std::vector<double>& beats)
{
    std::vector<double> ibi;
    for (std::size_t i = 0; i + 1 < beats.size(); ++i) ibi.push_back(beats[i + 1] - beats[i]);
    if (ibi.empty()) return 0.5;
    std::nth_element(ibi.begin(), ibi.begin() + static_cast<std::ptrdiff_t>(ibi.size() / 2), ibi.end());
    return ibi[ibi.size() / 2];
}

// Distance in beats from `t` to the nearest of `beats` (the local interval as the unit).
double beats_away(const std::vector<double>& beats, double t)
{
    auto it = std::lower_bound(beats.begin(), beats.end(), t);
    double best = 1e9;
    for (auto j : {it - 1, it})
    {
        if (j < beats.begin() || j >= beats.end()) continue;
        const auto k = static_cast<std::size_t>(j - beats.begin());
        const double unit = k + 1 < beats.size() ? beats[k + 1] - beats[k] : beats[k] - beats[k - 1];
        best = std::min(best, std::abs(t - *j) / unit);
    }
    return best;
}

}  // namespace

tempo_score score_grid(const song_truth& truth, const smf::beat_grid& grid, const std::vector<instrument_data>& notes)
{
    tempo_score s;
    s.true_bpm = 60.0 / median_interval(truth.beats);
    s.bpm_error = std::abs(grid.bpm / s.true_bpm - 1);
    s.tempo_ok = s.bpm_error <= 0.02;
    s.meter_ok = grid.beats_per_bar == truth.beats_per_bar;
    if (grid.empty()) return s;

    for (const auto& inst : notes)
        if (smf::is_drum_instrument(inst.name))
            for (const auto& n : inst.notes)
                if (beats_away(truth.beats, n.start) <= 0.1) s.beat_errors.push_back(beats_away(grid.beats, n.start));

    std::vector<double> bars;
    for (std::size_t i = grid.first_downbeat; i < grid.beats.size(); i += static_cast<std::size_t>(std::max(1, grid.beats_per_bar)))
        bars.push_back(grid.beats[i]);
    std::size_t on = 0, all = 0;
    const double last_note = grid.beats.back();
    for (std::size_t i = truth.first_downbeat; i < truth.beats.size() && truth.beats[i] < last_note; i += static_cast<std::size_t>(truth.beats_per_bar))
    {
        ++all;
        auto it = std::lower_bound(bars.begin(), bars.end(), truth.beats[i] - 0.1 * 60.0 / s.true_bpm);
        if (it != bars.end() && std::abs(*it - truth.beats[i]) <= 0.1 * 60.0 / s.true_bpm) ++on;
    }
    s.downbeats_on_bars = all ? static_cast<double>(on) / static_cast<double>(all) : 0;
    return s;
}

std::vector<api::instrument> to_api_instruments(const std::vector<instrument_data>& notes)
{
    std::vector<api::instrument> out;
    out.reserve(notes.size());
    for (const auto& i : notes)
    {
        api::instrument a;
        a.name = i.name;
        a.notes.reserve(i.notes.size());
        for (const auto& n : i.notes) a.notes.push_back(api::note{n.pitch, n.start, n.end, n.velocity});
        out.push_back(std::move(a));
    }
    return out;
}

}  // namespace kiemidi::emulator::detail
