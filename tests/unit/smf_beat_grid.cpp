// The tempo map estimated from notes (smf::estimate_beat_grid), scored against the truth of the
// emulator's synthetic songs, and the SMF writer's tempo map read back note by note.
#include "common/smf_reader.hpp"

#include "emulator/synthetic_music.hpp"
#include "emulator/tempo_score.hpp"

#include <kiemidi/smf/beat_grid.hpp>
#include <kiemidi/smf/writer.hpp>

#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

using namespace kiemidi;
namespace emu = kiemidi::emulator::detail;
namespace reader = kiemidi::test::smf;

namespace {

constexpr std::uint64_t seed = 11;

emu::separation_task song_task(int index, bool split)
{
    emu::separation_task sep;
    sep.id = "grid-test-separation-" + std::to_string(index);
    sep.music_id = "grid-test-song-" + std::to_string(index);
    sep.split = split;
    sep.stems = emu::make_stems(seed, sep.id, sep.music_id, split);
    return sep;
}

double median(std::vector<double> v)
{
    std::sort(v.begin(), v.end());
    return v.empty() ? 0 : v[v.size() / 2];
}

// Notes at random times: no pulse at all.
std::vector<api::instrument> pulseless(std::size_t count)
{
    std::vector<api::instrument> out{{"Acoustic Grand Piano", {}}};
    std::uint64_t x = 12345;
    double t = 0.3;
    for (std::size_t i = 0; i < count; ++i)
    {
        x = emu::mix64(x);
        t += 0.05 + static_cast<double>(x % 1000) / 1000.0 * 0.9;
        out[0].notes.push_back(api::note{60 + static_cast<int>(x % 24), t, t + 0.2, 0.4 + static_cast<double>(x % 50) / 100.0});
    }
    return out;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(smf_beat_grid)

BOOST_AUTO_TEST_CASE(the_emulators_songs_get_their_true_tempo_beats_meter_and_bars)
{
    std::size_t tempo_ok = 0, meter_ok = 0, bars_ok = 0, four_four = 0, waltzes = 0, drifting = 0;
    std::vector<double> errors;
    constexpr int songs = 40;
    for (int i = 0; i < songs; ++i)
    {
        const auto sep = song_task(i, i % 2 == 0);
        const auto truth = emu::song_of(seed, sep);
        const auto notes = emu::make_midi(seed, sep, std::nullopt, 0.0);
        const auto grid = smf::estimate_beat_grid(emu::to_api_instruments(notes));
        const auto s = emu::score_grid(truth, grid, notes);
        BOOST_TEST(grid.estimated);
        BOOST_TEST(grid.confidence >= smf::min_confidence);
        BOOST_TEST(grid.note.empty());
        tempo_ok += s.tempo_ok;
        meter_ok += s.meter_ok;
        errors.insert(errors.end(), s.beat_errors.begin(), s.beat_errors.end());
        if (truth.beats_per_bar == 4) ++four_four, bars_ok += s.downbeats_on_bars >= 0.9;
        waltzes += truth.beats_per_bar == 3;
        drifting += truth.drift != 0;
    }
    BOOST_TEST_MESSAGE("songs " << songs << ", 3/4 " << waltzes << ", drifting " << drifting);
    BOOST_TEST(waltzes > 0u);  // the emulator makes a 3/4 song now and then
    BOOST_TEST(drifting > 0u);
    BOOST_TEST(tempo_ok >= 38u);
    BOOST_TEST(meter_ok >= 36u);
    BOOST_TEST(bars_ok >= four_four * 9 / 10);
    BOOST_TEST(median(errors) <= 0.05);
}

BOOST_AUTO_TEST_CASE(tempo_stays_in_range_and_never_jumps_between_adjacent_beats)
{
    for (int i = 0; i < 20; ++i)
    {
        const auto notes = emu::make_midi(seed, song_task(100 + i, false), std::nullopt, 0.0);
        const auto grid = smf::estimate_beat_grid(emu::to_api_instruments(notes));
        BOOST_TEST_REQUIRE(grid.beats.size() > 8u);
        BOOST_TEST(grid.beats.front() >= 0.0);
        for (std::size_t k = 1; k < grid.beats.size(); ++k)
        {
            const double ibi = grid.beats[k] - grid.beats[k - 1];
            BOOST_TEST((ibi >= 60.0 / 240 - 1e-9 && ibi <= 60.0 / 40 + 1e-9), "song " << i << " beat " << k << " interval " << ibi);
            if (k >= 2 && k + 1 < grid.beats.size())  // the pickup's lead-in beat and the last may be cut
            {
                const double ratio = ibi / (grid.beats[k - 1] - grid.beats[k - 2]);
                BOOST_TEST((ratio <= 1.0801 && ratio >= 1 / 1.0801), "song " << i << " beat " << k << " changes by " << ratio);
            }
        }
    }
}

BOOST_AUTO_TEST_CASE(the_estimate_is_deterministic)
{
    const auto notes = emu::to_api_instruments(emu::make_midi(seed, song_task(7, true), std::nullopt, 0.0));
    BOOST_TEST((smf::estimate_beat_grid(notes) == smf::estimate_beat_grid(notes)));
}

BOOST_AUTO_TEST_CASE(notes_without_a_pulse_get_a_fixed_tempo_low_confidence_and_a_note)
{
    const auto grid = smf::estimate_beat_grid(pulseless(400));
    BOOST_TEST(grid.confidence < smf::min_confidence);
    BOOST_TEST(!grid.estimated);
    BOOST_TEST(grid.note.find("no steady pulse") != std::string::npos, grid.note);
    BOOST_TEST((grid.bpm >= 40 && grid.bpm <= 240));
    BOOST_TEST(grid.beats.front() == 0.0);
    BOOST_TEST(grid.first_downbeat == 0u);
    BOOST_TEST(grid.beats_per_bar == 4);
    for (std::size_t k = 1; k < grid.beats.size(); ++k) BOOST_TEST(std::abs(grid.beats[k] - grid.beats[k - 1] - 60.0 / grid.bpm) < 1e-9);
}

BOOST_AUTO_TEST_CASE(too_few_notes_are_written_at_120_bpm_with_a_note)
{
    const auto grid = smf::estimate_beat_grid(pulseless(10));
    BOOST_TEST(grid.bpm == 120.0);
    BOOST_TEST(grid.confidence == 0.0);
    BOOST_TEST(grid.note.find("too few notes") != std::string::npos, grid.note);
    BOOST_TEST(grid.beats.back() > pulseless(10)[0].notes.back().end);
}

BOOST_AUTO_TEST_CASE(tempo_off_is_120_bpm_from_zero_whatever_the_notes)
{
    const auto notes = emu::to_api_instruments(emu::make_midi(seed, song_task(3, false), std::nullopt, 0.0));
    const auto grid = smf::estimate_beat_grid(notes, {smf::tempo_mode::off, 0});
    BOOST_TEST(grid.bpm == 120.0);
    BOOST_TEST(!grid.estimated);
    BOOST_TEST(grid.note.empty());
    BOOST_TEST(grid.beats.front() == 0.0);
    BOOST_TEST(grid.beats[1] == 0.5);
}

BOOST_AUTO_TEST_CASE(a_given_tempo_is_kept_and_only_the_phase_is_fitted)
{
    for (int i = 0; i < 6; ++i)
    {
        const auto sep = song_task(200 + i, false);
        const auto truth = emu::song_of(seed, sep);
        if (truth.drift != 0) continue;
        const auto notes = emu::make_midi(seed, sep, std::nullopt, 0.0);
        const auto grid = smf::estimate_beat_grid(emu::to_api_instruments(notes), {smf::tempo_mode::given, truth.bpm});
        BOOST_TEST(std::abs(grid.bpm - truth.bpm) < 0.01 * truth.bpm);
        BOOST_TEST(grid.confidence == 1.0);
        const auto s = emu::score_grid(truth, grid, notes);
        BOOST_TEST(median(s.beat_errors) <= 0.05, "song " << i);
    }
}

BOOST_AUTO_TEST_CASE(tempo_and_quantize_choices_parse_and_print)
{
    BOOST_TEST((smf::parse_tempo_choice("auto") == smf::tempo_choice{smf::tempo_mode::automatic, 0}));
    BOOST_TEST((smf::parse_tempo_choice("off") == smf::tempo_choice{smf::tempo_mode::off, 0}));
    BOOST_TEST((smf::parse_tempo_choice("96.5") == smf::tempo_choice{smf::tempo_mode::given, 96.5}));
    BOOST_TEST(!smf::parse_tempo_choice("39").has_value());
    BOOST_TEST(!smf::parse_tempo_choice("241").has_value());
    BOOST_TEST(!smf::parse_tempo_choice("fast").has_value());
    BOOST_TEST(!smf::parse_tempo_choice("120bpm").has_value());
    BOOST_TEST(smf::to_string(smf::tempo_choice{smf::tempo_mode::given, 96.5}) == "96.5");
    for (const char* q : {"off", "1/8", "1/16", "1/32", "1/8t", "1/16t"})
        BOOST_TEST(smf::to_string(*smf::parse_quantize(q)) == q);
    BOOST_TEST(!smf::parse_quantize("1/4").has_value());
    BOOST_TEST(smf::steps_per_beat(smf::quantize_grid::sixteenth_triplet) == 6);
}

BOOST_AUTO_TEST_CASE(written_with_the_grid_every_note_reads_back_at_kies_seconds_and_beats_are_quarters)
{
    for (int i = 0; i < 8; ++i)
    {
        const auto sep = song_task(300 + i, i % 2 == 1);
        const auto instruments = emu::to_api_instruments(emu::make_midi(seed, sep, std::nullopt, 0.0));
        smf::smf_options opts;
        opts.grid = smf::estimate_beat_grid(instruments);
        const auto f = reader::parse(smf::write_smf(instruments, opts));
        const auto p = reader::play(f);
        const reader::clock clock(f);
        std::size_t checked = 0;
        for (std::size_t t = 0; t < instruments.size(); ++t)
        {
            auto expected = instruments[t].notes;
            std::sort(expected.begin(), expected.end(), [](const api::note& a, const api::note& b) { return a.start < b.start; });
            auto got = reader::notes_of_track(p, t + 1);
            // Same-pitch overlaps may merge notes; every note read back is one of KIE's within 1 ms.
            for (const auto& n : got)
            {
                const auto it = std::lower_bound(expected.begin(), expected.end(), n.start - 0.001,
                                                 [](const api::note& a, double s) { return a.start < s; });
                BOOST_TEST_REQUIRE((it != expected.end() && std::abs(it->start - n.start) <= 0.001),
                                   "song " << i << " track " << t << " note at " << n.start);
                ++checked;
            }
        }
        BOOST_TEST(checked > 500u);
        // Beat k of the grid is quarter k (+1 with a lead-in) within a microsecond.
        const auto& beats = opts.grid->beats;
        const std::uint64_t lead = beats.front() > 0 ? 1 : 0;
        for (std::size_t k = 0; k < beats.size(); ++k)
            BOOST_TEST(std::abs(clock.seconds((k + lead) * f.division) - beats[k]) < 2e-6, "beat " << k);
        // The first downbeat starts a bar: after a pickup bar, bars of the meter.
        const auto meters = reader::time_signatures(f);
        BOOST_TEST_REQUIRE(!meters.empty());
        const auto downbeat_tick = (opts.grid->first_downbeat + lead) * f.division;
        const auto [meter_tick, numerator, denominator] = meters.back();
        BOOST_TEST(numerator == opts.grid->beats_per_bar);
        BOOST_TEST(denominator == 4);
        BOOST_TEST(downbeat_tick >= meter_tick);
        BOOST_TEST((downbeat_tick - meter_tick) % (static_cast<std::uint64_t>(numerator) * f.division) == 0u);
        if (meters.size() == 2) BOOST_TEST(std::get<1>(meters.front()) * f.division == meter_tick);
    }
}

BOOST_AUTO_TEST_CASE(a_lead_in_before_the_first_beat_is_one_quarter_at_its_own_tempo)
{
    smf::beat_grid grid;
    grid.beats = {0.75, 1.25, 1.75, 2.25, 2.75};
    grid.bpm = 120;
    grid.first_downbeat = 1;  // a one-beat pickup at 0.75 s
    smf::smf_options opts;
    opts.grid = grid;
    const std::vector<api::instrument> band{{"Acoustic Grand Piano", {{60, 0.75, 1.0, 0.5}, {64, 1.25, 1.5, 0.5}, {67, 2.3, 2.6, 0.5}}}};
    const auto f = reader::parse(smf::write_smf(band, opts));
    const auto tempos = reader::tempo_changes(f);
    BOOST_TEST_REQUIRE(tempos.size() == 2u);
    BOOST_TEST(tempos[0].second == 750000u);
    BOOST_TEST(tempos[1].first == 960u);
    BOOST_TEST(tempos[1].second == 500000u);
    const auto meters = reader::time_signatures(f);  // a 2/4 pickup bar (lead-in and pickup beat), then 4/4
    BOOST_TEST_REQUIRE(meters.size() == 2u);
    BOOST_TEST(std::get<1>(meters[0]) == 2);
    BOOST_TEST(std::get<0>(meters[1]) == 1920u);
    BOOST_TEST(std::get<1>(meters[1]) == 4);
    const auto notes = reader::notes_of_track(reader::play(f), 1);
    BOOST_TEST_REQUIRE(notes.size() == 3u);
    BOOST_TEST(notes[0].start_tick == 960u);
    BOOST_TEST(notes[1].start_tick == 1920u);
    BOOST_TEST(std::abs(notes[2].start - 2.3) < 0.001);
}

BOOST_AUTO_TEST_CASE(quantize_snaps_onsets_to_the_grid_and_ends_only_when_asked)
{
    const auto instruments = emu::to_api_instruments(emu::make_midi(seed, song_task(9, false), std::nullopt, 0.0));
    smf::smf_options opts;
    opts.grid = smf::estimate_beat_grid(instruments);
    opts.quantize = smf::quantize_grid::sixteenth;
    auto p = reader::play(reader::parse(smf::write_smf(instruments, opts)));
    std::size_t unsnapped_ends = 0;
    for (const auto& n : p.notes)
    {
        BOOST_TEST(n.start_tick % 240 == 0u);
        unsnapped_ends += n.end_tick % 240 != 0;
    }
    BOOST_TEST(unsnapped_ends > 0u);
    opts.quantize = smf::quantize_grid::eighth_triplet;
    opts.quantize_ends = true;
    p = reader::play(reader::parse(smf::write_smf(instruments, opts)));
    for (const auto& n : p.notes)
    {
        BOOST_TEST(n.start_tick % 320 == 0u);
        BOOST_TEST((n.end_tick % 320 == 0u || n.end_tick == n.start_tick + 1));
    }
}

BOOST_AUTO_TEST_SUITE_END()
