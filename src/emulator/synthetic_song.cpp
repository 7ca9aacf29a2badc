// The music behind the emulator's notes: a beat grid with a true tempo, and parts played on it.
#include "synthetic_song.hpp"

#include "synthetic_music.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <string>

namespace kiemidi::emulator::detail {

song_truth make_song_truth(std::uint64_t seed, std::string_view song_key, double duration)
{
    det_rng rng{hash_text(seed, std::string(song_key) + "|tempo")};
    song_truth t;
    t.bpm = 60.0 + 120.0 * rng.unit();
    t.beats_per_bar = rng.unit() < 0.15 ? 3 : 4;
    t.swing = rng.unit() < 0.3 ? 0.55 + 0.09 * rng.unit() : 0.5;
    if (rng.unit() < 0.25) t.drift = (rng.unit() < 0.5 ? -1.0 : 1.0) * (0.03 + 0.05 * rng.unit());
    t.pickup_beats = rng.unit() < 0.6 ? rng.range(1, t.beats_per_bar - 1) : 0;
    const double lead = 0.3 + 2.0 * rng.unit();  // silence before the first note

    // The tempo changes linearly with the beat index, from bpm to bpm * (1 + drift).
    const double ibi0 = 60.0 / t.bpm;
    const double estimated_beats = std::max(8.0, duration / ibi0);
    double time = lead;
    for (int k = 0; time < duration + 2 * ibi0; ++k)
    {
        t.beats.push_back(time);
        const int from_downbeat = std::max(0, k - t.pickup_beats);
        time += 60.0 / (t.bpm * (1.0 + t.drift * std::min(1.0, from_downbeat / estimated_beats)));
    }
    t.first_downbeat = static_cast<std::size_t>(t.pickup_beats);
    return t;
}

namespace {

/// A few milliseconds of human timing (triangular, within ±6 ms), on KIE's 1/192 s grid.
double humanize(double seconds, det_rng& rng)
{
    const double jitter = 0.003 * (rng.unit() + rng.unit() + rng.unit() + rng.unit() - 2.0);
    return std::max(0.0, std::round((seconds + jitter) * 192.0) / 192.0);
}

struct player
{
    const song_truth& song;
    det_rng rng;
    std::vector<note_data> notes;

    /// The time of the beat `k` plus `fraction` of it (the off-beat eighth swung).
    double at(std::size_t k, double fraction) const
    {
        const double len = song.beats[k + 1] - song.beats[k];
        if (fraction == 0.5) fraction = song.swing;
        return song.beats[k] + fraction * len;
    }
    double beat_length(std::size_t k) const { return song.beats[k + 1] - song.beats[k]; }

    void play(int pitch, double start, double length, double velocity)
    {
        const double s = humanize(start, rng);
        const double e = std::max(s + 1.0 / 192.0, humanize(start + length, rng));
        notes.push_back(note_data{pitch, s, e, std::clamp(velocity, 0.05, 1.0)});
    }
    double vel(double lo, double hi) { return lo + (hi - lo) * rng.unit(); }
};

}  // namespace

std::vector<note_data> play_part(const song_truth& song, song_part part, int lo, int hi, std::uint64_t rng_state)
{
    player p{song, det_rng{rng_state}, {}};
    if (song.beats.size() < 2) return {};
    const std::size_t last = song.beats.size() - 2;  // the last beat with a following one
    const int bpb = song.beats_per_bar;
    const int root_base = lo + p.rng.range(0, std::max(0, std::min(11, hi - lo - 12)));
    int root = root_base;
    bool resting = false;  // a part sits out some four-bar phrases

    for (std::size_t k = 0; k <= last; ++k)
    {
        const bool pickup = k < song.first_downbeat;
        const int in_bar = pickup ? bpb - static_cast<int>(song.first_downbeat - k) : static_cast<int>((k - song.first_downbeat) % bpb);
        const bool downbeat = !pickup && in_bar == 0;
        const std::size_t bar = pickup ? 0 : (k - song.first_downbeat) / static_cast<std::size_t>(bpb);
        if (downbeat)
        {
            if (bar % 4 == 0) resting = bar > 0 && p.rng.unit() < (part == song_part::drums ? 0.08 : 0.18);
            if (part != song_part::drums) root = root_base + std::array{0, 5, 7, 9, 3}[p.rng.next() % 5];
        }
        if (resting) continue;
        const double len = p.beat_length(k);
        switch (part)
        {
        case song_part::drums:
            if (pickup)
            {
                p.play(38, p.at(k, 0), 0.1, p.vel(0.5, 0.7));  // a snare lead-in
                break;
            }
            if (downbeat && bar % 8 == 0) p.play(49, p.at(k, 0), 0.4, p.vel(0.85, 1.0));
            if (in_bar == 0) p.play(36, p.at(k, 0), 0.12, p.vel(0.92, 1.0));
            else if (bpb == 4 && in_bar == 2) p.play(36, p.at(k, 0), 0.12, p.vel(0.7, 0.8));
            else p.play(38, p.at(k, 0), 0.1, p.vel(bpb == 3 ? 0.55 : 0.72, bpb == 3 ? 0.65 : 0.82));
            if (p.rng.unit() < 0.8) p.play(42, p.at(k, 0), 0.05, p.vel(0.45, 0.55));
            if (p.rng.unit() < 0.6) p.play(42, p.at(k, 0.5), 0.05, p.vel(0.3, 0.4));
            break;
        case song_part::bass:
            if (downbeat || p.rng.unit() < 0.6) p.play(root, p.at(k, 0), 0.45 * len, downbeat ? p.vel(0.85, 0.95) : p.vel(0.55, 0.7));
            if (!pickup && p.rng.unit() < 0.25) p.play(root + 7, p.at(k, 0.5), 0.3 * len, p.vel(0.45, 0.6));
            break;
        case song_part::chords:
            if (downbeat)
                for (int i : {0, 4, 7}) p.play(std::min(hi, root + 12 + i), p.at(k, 0), 0.9 * len, p.vel(0.75, 0.85));
            else if (!pickup && p.rng.unit() < 0.45)
                p.play(std::min(hi, root + 12 + std::array{0, 4, 7}[p.rng.next() % 3]), p.at(k, p.rng.unit() < 0.3 ? 0.5 : 0), 0.45 * len,
                       p.vel(0.45, 0.62));
            break;
        case song_part::pad:
            if (downbeat)
                for (int i : {0, 7}) p.play(std::min(hi, root + 12 + i), p.at(k, 0), bpb * len * 0.95, p.vel(0.5, 0.7));
            break;
        case song_part::melody:
            for (double f : {0.0, 0.5})
                if (p.rng.unit() < (f == 0 ? 0.55 : 0.3))
                    p.play(std::clamp(root + 12 + p.rng.range(-5, 9), lo, hi), p.at(k, f), (f == 0 ? 0.45 : 0.35) * len,
                           (downbeat && f == 0) ? p.vel(0.7, 0.85) : p.vel(0.45, 0.65));
            break;
        }
    }
    std::stable_sort(p.notes.begin(), p.notes.end(), [](const note_data& a, const note_data& b) { return a.start < b.start; });
    return std::move(p.notes);
}

}  // namespace kiemidi::emulator::detail
