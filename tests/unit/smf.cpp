// The Standard MIDI File writer: bytes, timing, programs, channels, overlaps, atomic files, JSON.
#include "common/smf_reader.hpp"

#include <kiemidi/smf/writer.hpp>

#include "smf/smf_vlq.hpp"

#include <boost/json/parse.hpp>
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <string>
#include <vector>

#include <unistd.h>

using namespace kiemidi;
using kiemidi::api::instrument;
using kiemidi::api::note;
namespace reader = kiemidi::test::smf;
namespace fs = std::filesystem;

namespace {

reader::file parse(const std::vector<std::uint8_t>& bytes)
{
    try
    {
        return reader::parse(bytes);
    }
    catch (const std::exception& e)
    {
        BOOST_FAIL("the writer produced a malformed file: " << e.what());
        throw;
    }
}

// Replays the file through a player in both tie orders and requires perfect pairing.
reader::playback play_balanced(const reader::file& f)
{
    for (bool reverse : {false, true})
    {
        const auto p = reader::play(f, reverse);
        BOOST_TEST(p.note_ons == p.note_offs);
        BOOST_TEST(p.retriggers == 0u);
        BOOST_TEST(p.orphan_offs == 0u);
        BOOST_TEST(p.stuck == 0u);
    }
    return reader::play(f);
}

std::vector<std::uint8_t> vlq(std::uint32_t v)
{
    std::vector<std::uint8_t> out;
    smf::detail::append_vlq(out, v);
    return out;
}

// Notes with varied pitch, length and velocity and no same-pitch overlap within the instrument.
std::vector<note> song(std::size_t count, double step, std::uint32_t seed)
{
    std::vector<note> notes;
    notes.reserve(count);
    std::uint32_t x = seed;
    auto next = [&x] { return x = x * 1664525u + 1013904223u; };
    for (std::size_t k = 0; k < count; ++k)
    {
        note n;
        n.pitch = 24 + static_cast<int>(k % 72);
        n.start = double(k) * step + double(next() % 1000) / 1e6;
        n.end = n.start + 0.01 + double(next() % 400000) / 1e6;
        n.velocity = double(next() % 1001) / 1000.0;
        notes.push_back(n);
    }
    return notes;
}

void check_round_trip(const std::vector<instrument>& input, const smf::smf_options& opts = {})
{
    const auto f = parse(smf::write_smf(input, opts));
    BOOST_TEST_REQUIRE(f.tracks.size() == input.size() + 1);
    const auto p = play_balanced(f);
    for (std::size_t i = 0; i < input.size(); ++i)
    {
        auto expected = input[i].notes;
        std::sort(expected.begin(), expected.end(),
                  [](const note& a, const note& b) { return std::tie(a.start, a.pitch) < std::tie(b.start, b.pitch); });
        const auto got = reader::notes_of_track(p, i + 1);
        BOOST_TEST_REQUIRE(got.size() == expected.size());
        for (std::size_t k = 0; k < got.size(); ++k)
        {
            BOOST_TEST(got[k].pitch == expected[k].pitch);
            BOOST_TEST(std::abs(got[k].start - expected[k].start) < 0.001, "start " << got[k].start << " vs " << expected[k].start);
            BOOST_TEST(std::abs(got[k].end - expected[k].end) < 0.001, "end " << got[k].end << " vs " << expected[k].end);
            BOOST_TEST(got[k].velocity == std::lround(expected[k].velocity * 126) + 1);
        }
    }
}

// The program as an int for readable failures; -1 when unknown.
int program_of(std::string_view name)
{
    const auto p = smf::gm_program_for(name);
    return p ? int(*p) : -1;
}

bool program_of_known(std::string_view name) { return smf::gm_program_for(name).has_value(); }

std::vector<std::uint8_t> read_bytes(const fs::path& p)
{
    std::ifstream in(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// A fresh empty directory under the system temp dir, removed at scope exit.
struct scratch_dir
{
    fs::path path;
    scratch_dir()
    {
        path = fs::temp_directory_path() / ("kiemidi-smf-" + std::to_string(::getpid()) + "-" + std::to_string(counter()++));
        fs::remove_all(path);
        fs::create_directories(path);
    }
    ~scratch_dir()
    {
        std::error_code ec;
        fs::remove_all(path, ec);
    }
    static int& counter()
    {
        static int n = 0;
        return n;
    }
    std::vector<std::string> entries() const
    {
        std::vector<std::string> names;
        for (const auto& e : fs::directory_iterator(path)) names.push_back(e.path().filename().string());
        std::sort(names.begin(), names.end());
        return names;
    }
};

const std::vector<instrument> band{
    {"Drums", {{36, 0.0, 0.1, 1.0}, {38, 0.5, 0.6, 0.8}, {42, 0.25, 0.3, 0.5}}},
    {"Electric Bass (finger)", {{40, 0.0, 0.45, 0.7}, {43, 0.5, 0.95, 0.6}}},
    {"Acoustic Grand Piano", {{60, 0.0, 1.0, 0.5}, {64, 0.0, 1.0, 0.5}, {67, 0.0, 1.0, 0.5}}},
};

}  // namespace

BOOST_AUTO_TEST_SUITE(smf_writer)

BOOST_AUTO_TEST_CASE(header_says_mthd_length_six_format_one_track_count_and_960_ticks)
{
    const auto bytes = smf::write_smf(band);
    const std::vector<std::uint8_t> header(bytes.begin(), bytes.begin() + 14);
    const std::vector<std::uint8_t> expected{'M', 'T', 'h', 'd', 0, 0, 0, 6, 0, 1, 0, 4, 0x03, 0xC0};
    BOOST_TEST(header == expected, boost::test_tools::per_element());
    const auto f = parse(bytes);
    BOOST_TEST(f.format == 1);
    BOOST_TEST(f.division == 960);
    BOOST_TEST(f.tracks.size() == 4u);
}

BOOST_AUTO_TEST_CASE(conductor_track_holds_name_tempo_of_120_bpm_and_four_four_time_only)
{
    smf::smf_options opts;
    opts.title = "Song title";
    const auto f = parse(smf::write_smf(band, opts));
    const auto& conductor = f.tracks.at(0);
    BOOST_TEST(conductor.name().value_or("") == "Song title");
    BOOST_TEST(reader::tempo_us(f) == 500000u);
    bool four_four = false;
    for (const auto& e : conductor.events)
    {
        BOOST_TEST(e.status == 0xFF, "the conductor track has only meta events");
        BOOST_TEST(e.tick == 0u);
        if (e.meta_type == 0x58) four_four = e.data.size() == 4 && e.data[0] == 4 && e.data[1] == 2;
    }
    BOOST_TEST(four_four);
    BOOST_TEST(conductor.events.back().meta_type == 0x2F);
}

BOOST_AUTO_TEST_CASE(conductor_track_is_named_kiemidi_without_a_title)
{
    const auto f = parse(smf::write_smf(band));
    BOOST_TEST(f.tracks.at(0).name().value_or("") == "kiemidi");
}

BOOST_AUTO_TEST_CASE(empty_instrument_list_gives_a_valid_file_with_only_the_conductor_track)
{
    const auto bytes = smf::write_smf({});
    const auto f = parse(bytes);
    BOOST_TEST(f.format == 1);
    BOOST_TEST(f.declared_tracks == 1);
    BOOST_TEST(f.tracks.size() == 1u);
    BOOST_TEST(reader::tempo_us(f) == 500000u);
}

BOOST_AUTO_TEST_CASE(instrument_without_notes_still_gets_a_named_track)
{
    const std::vector<instrument> input{{"Violin", {}}};
    const auto f = parse(smf::write_smf(input));
    BOOST_TEST_REQUIRE(f.tracks.size() == 2u);
    BOOST_TEST(f.tracks[1].name().value_or("") == "Violin");
    BOOST_TEST(reader::play(f).note_ons == 0u);
}

BOOST_AUTO_TEST_CASE(notes_round_trip_within_one_millisecond)
{
    check_round_trip(band);
    check_round_trip({{"Acoustic Grand Piano", song(500, 0.037, 7)}, {"Cello", song(300, 0.111, 11)}});
}

BOOST_AUTO_TEST_CASE(notes_round_trip_at_other_resolutions_and_tempos)
{
    check_round_trip({{"Flute", song(300, 0.05, 3)}}, {.ticks_per_quarter = 480, .bpm = 90.0});
    check_round_trip({{"Flute", song(300, 0.05, 4)}}, {.ticks_per_quarter = 1920, .bpm = 133.3});
    const auto f = parse(smf::write_smf(band, {.ticks_per_quarter = 480, .bpm = 90.0}));
    BOOST_TEST(f.division == 480);
    BOOST_TEST(reader::tempo_us(f) == 666667u);
}

BOOST_AUTO_TEST_CASE(invalid_resolution_and_tempo_fall_back_to_usable_values)
{
    const std::vector<instrument> input{{"Piano", {{60, 1.0, 2.0, 0.5}}}};
    const auto zero = parse(smf::write_smf(input, {.ticks_per_quarter = 0, .bpm = -5}));
    BOOST_TEST(zero.division == 1);
    BOOST_TEST(reader::tempo_us(zero) == 500000u);
    const auto smpte = parse(smf::write_smf(input, {.ticks_per_quarter = 0x8000, .bpm = std::nan("")}));
    BOOST_TEST(smpte.division == 0x7FFF);
    BOOST_TEST(reader::tempo_us(smpte) == 500000u);
    const auto slow = parse(smf::write_smf(input, {.bpm = 1.0}));
    BOOST_TEST(reader::tempo_us(slow) == 0xFFFFFFu);
    const auto notes = reader::play(slow).notes;
    BOOST_TEST_REQUIRE(notes.size() == 1u);
    // Ticks are computed from the tempo actually written (a tick is ~17 ms here).
    BOOST_TEST(notes[0].start_tick == 57u);
}

BOOST_AUTO_TEST_CASE(velocity_zero_to_one_maps_to_midi_one_to_127)
{
    const std::vector<std::pair<double, int>> cases{
        {0.0, 1}, {1.0, 127}, {0.5, 64}, {0.25, 33}, {1.0 / 126, 2}, {-0.5, 1}, {3.0, 127}, {std::nan(""), 1}};
    std::vector<note> notes;
    for (std::size_t i = 0; i < cases.size(); ++i) notes.push_back({60, double(i), double(i) + 0.5, cases[i].first});
    const auto p = play_balanced(parse(smf::write_smf(std::vector<instrument>{{"Piano", notes}})));
    BOOST_TEST_REQUIRE(p.notes.size() == cases.size());
    for (std::size_t i = 0; i < cases.size(); ++i) BOOST_TEST(p.notes[i].velocity == cases[i].second, "velocity " << cases[i].first);
}

BOOST_AUTO_TEST_CASE(each_track_is_named_after_its_instrument_and_sets_its_program)
{
    const auto f = parse(smf::write_smf(band));
    BOOST_TEST(f.tracks[1].name().value_or("") == "Drums");
    BOOST_TEST(f.tracks[2].name().value_or("") == "Electric Bass (finger)");
    BOOST_TEST(f.tracks[3].name().value_or("") == "Acoustic Grand Piano");
    const std::vector<std::pair<int, int>> bass{{0, 33}};  // 1-based GM program 34
    const std::vector<std::pair<int, int>> piano{{1, 0}};
    BOOST_TEST((f.tracks[2].program_changes() == bass));
    BOOST_TEST((f.tracks[3].program_changes() == piano));
}

BOOST_AUTO_TEST_CASE(drums_play_on_midi_channel_ten_with_the_standard_kit)
{
    const auto f = parse(smf::write_smf(band));
    const std::vector<std::pair<int, int>> kit{{9, 0}};
    BOOST_TEST((f.tracks[1].program_changes() == kit));
    const auto p = play_balanced(f);
    for (const auto& n : p.notes) BOOST_TEST((n.track == 1) == (n.channel == 9));
}

BOOST_AUTO_TEST_CASE(unknown_instrument_name_uses_the_default_program)
{
    const std::vector<instrument> input{{"Theremin of doom", {{60, 0, 1, 1}}}, {"", {{62, 0, 1, 1}}}};
    const auto plain = parse(smf::write_smf(input));
    BOOST_TEST(plain.tracks[1].program_changes().at(0).second == 0);
    BOOST_TEST(plain.tracks[2].program_changes().at(0).second == 0);
    const auto chosen = parse(smf::write_smf(input, {.default_program = 73}));
    BOOST_TEST(chosen.tracks[1].program_changes().at(0).second == 73);
    BOOST_TEST(chosen.tracks[2].program_changes().at(0).second == 73);
    const auto too_high = parse(smf::write_smf(input, {.default_program = 200}));
    BOOST_TEST(too_high.tracks[1].program_changes().at(0).second == 127);
}

BOOST_AUTO_TEST_CASE(melodic_instruments_skip_the_drum_channel_and_wrap_after_fifteen)
{
    std::vector<instrument> input;
    for (int i = 0; i < 17; ++i) input.push_back({"Violin", {}});
    input.insert(input.begin() + 3, instrument{"Drum Kit", {}});
    const auto a = smf::assign_channels(input);
    std::vector<int> channels;
    for (const auto& c : a) channels.push_back(c.channel);
    const std::vector<int> expected{0, 1, 2, 9, 3, 4, 5, 6, 7, 8, 10, 11, 12, 13, 14, 15, 0, 1};
    BOOST_TEST(channels == expected, boost::test_tools::per_element());
    BOOST_TEST(a[3].drums);
    BOOST_TEST(a[4].program == 40);

    const auto f = parse(smf::write_smf(input));
    for (std::size_t i = 0; i < input.size(); ++i) BOOST_TEST(f.tracks[i + 1].program_changes().at(0).first == expected[i]);
}

BOOST_AUTO_TEST_CASE(zero_length_note_lasts_one_tick)
{
    const std::vector<instrument> input{{"Drums", {{36, 1.0, 1.0, 1.0}}}};
    const auto p = play_balanced(parse(smf::write_smf(input)));
    BOOST_TEST_REQUIRE(p.notes.size() == 1u);
    BOOST_TEST(p.notes[0].start_tick == 1920u);
    BOOST_TEST(p.notes[0].end_tick == 1921u);
}

BOOST_AUTO_TEST_CASE(note_off_comes_before_note_on_at_the_same_tick)
{
    // Back-to-back notes of one key, given in reverse order.
    const std::vector<instrument> input{{"Piano", {{60, 0.5, 1.0, 1.0}, {60, 0.0, 0.5, 1.0}}}};
    const auto f = parse(smf::write_smf(input));
    const auto& ev = f.tracks[1].events;
    std::vector<std::uint8_t> kinds;
    for (const auto& e : ev)
        if (e.status != 0xFF && e.kind() != 0xC0) kinds.push_back(e.kind());
    const std::vector<std::uint8_t> expected{0x90, 0x80, 0x90, 0x80};
    BOOST_TEST(kinds == expected, boost::test_tools::per_element());
    const auto p = play_balanced(f);
    BOOST_TEST(p.notes.size() == 2u);
}

BOOST_AUTO_TEST_CASE(overlapping_same_pitch_notes_are_truncated_and_leave_no_stuck_notes)
{
    // 60: [0, 2) then [1, 3): the first ends at 1. 62: [0, 3) holds [1, 2): the long one ends at 1.
    const std::vector<instrument> input{
        {"Piano", {{60, 0.0, 2.0, 1.0}, {60, 1.0, 3.0, 0.5}, {62, 0.0, 3.0, 1.0}, {62, 1.0, 2.0, 0.5}}}};
    const auto p = play_balanced(parse(smf::write_smf(input)));
    const auto got = reader::notes_of_track(p, 1);
    BOOST_TEST_REQUIRE(got.size() == 4u);
    BOOST_TEST(got[0].pitch == 60);
    BOOST_TEST(got[0].end_tick == 1920u);
    BOOST_TEST(got[1].pitch == 62);
    BOOST_TEST(got[1].end_tick == 1920u);
    BOOST_TEST(got[2].pitch == 60);
    BOOST_TEST(got[2].start_tick == 1920u);
    BOOST_TEST(got[2].end_tick == 5760u);
    BOOST_TEST(got[3].pitch == 62);
    BOOST_TEST(got[3].end_tick == 3840u);
}

BOOST_AUTO_TEST_CASE(same_pitch_notes_starting_together_merge_into_the_longest_and_loudest)
{
    const std::vector<instrument> input{{"Piano", {{60, 1.0, 1.5, 0.2}, {60, 1.0, 2.0, 0.1}, {60, 1.0, 1.2, 1.0}}}};
    const auto p = play_balanced(parse(smf::write_smf(input)));
    BOOST_TEST_REQUIRE(p.notes.size() == 1u);
    BOOST_TEST(p.notes[0].start_tick == 1920u);
    BOOST_TEST(p.notes[0].end_tick == 3840u);
    BOOST_TEST(p.notes[0].velocity == 127);
}

BOOST_AUTO_TEST_CASE(instruments_sharing_a_channel_never_sound_the_same_key_twice)
{
    // Two kits share channel 9; the 16th melodic instrument wraps onto the 1st one's channel 0.
    std::vector<instrument> input{{"Drums", {{36, 0.0, 1.0, 1.0}, {38, 0.0, 0.5, 1.0}}},
                                  {"Percussion", {{36, 0.5, 1.5, 1.0}, {38, 0.5, 0.7, 1.0}, {36, 0.0, 0.1, 0.2}}}};
    for (int i = 0; i < 16; ++i) input.push_back({"Cello", {}});
    input[2].notes = {{48, 0.0, 2.0, 1.0}};
    input[17].notes = {{48, 1.0, 3.0, 1.0}, {48, 0.0, 0.0005, 1.0}};
    const auto assign = smf::assign_channels(input);
    BOOST_TEST_REQUIRE(assign[2].channel == assign[17].channel);

    const auto p = play_balanced(parse(smf::write_smf(input)));
    auto ticks_of = [&](std::size_t track) {
        std::vector<std::tuple<int, std::uint64_t, std::uint64_t>> out;
        for (const auto& n : reader::notes_of_track(p, track)) out.emplace_back(n.pitch, n.start_tick, n.end_tick);
        return out;
    };
    using row = std::tuple<int, std::uint64_t, std::uint64_t>;
    // Across tracks the earlier note ends one tick before the later one starts; a note starting
    // on the same tick (or one after) as another track's note merges into the earlier track's note.
    BOOST_TEST((ticks_of(1) == std::vector<row>{{36, 0, 959}, {38, 0, 959}}));
    BOOST_TEST((ticks_of(2) == std::vector<row>{{36, 960, 2880}, {38, 960, 1344}}));
    BOOST_TEST((ticks_of(3) == std::vector<row>{{48, 0, 1919}}));
    BOOST_TEST((ticks_of(18) == std::vector<row>{{48, 1920, 5760}}));
}

BOOST_AUTO_TEST_CASE(many_overlapping_notes_from_random_input_stay_balanced)
{
    std::vector<instrument> input{{"Drums", {}}, {"Piano", {}}, {"Snare drum", {}}};
    std::uint32_t x = 42;
    auto next = [&x] { return x = x * 1664525u + 1013904223u; };
    for (auto& inst : input)
        for (int k = 0; k < 2000; ++k)
        {
            const double start = double(next() % 20000) / 1000.0;
            const double len = double(next() % 3) == 0 ? 0.0 : double(next() % 2000) / 1000.0;
            inst.notes.push_back({36 + static_cast<int>(next() % 8), start, start + len, 0.5});
        }
    play_balanced(parse(smf::write_smf(input)));
}

BOOST_AUTO_TEST_CASE(twenty_thousand_notes_round_trip)
{
    std::vector<instrument> input{{"Acoustic Grand Piano", song(8000, 0.02, 1)},
                                  {"Electric Bass (finger)", song(4000, 0.04, 2)},
                                  {"Drums", song(6000, 0.03, 3)},
                                  {"String Ensemble 1", song(2000, 0.08, 4)}};
    std::size_t total = 0;
    for (const auto& i : input) total += i.notes.size();
    BOOST_TEST_REQUIRE(total == 20000u);
    check_round_trip(input);
}

BOOST_AUTO_TEST_CASE(out_of_range_notes_are_clamped_not_rejected)
{
    const std::vector<instrument> input{
        {"Piano", {{200, 0.0, 0.5, 1.0}, {-3, 0.0, 0.5, 1.0}, {60, -2.0, 0.5, 1.0}, {61, 1.0, 0.5, 1.0}}}};
    const auto p = play_balanced(parse(smf::write_smf(input)));
    const auto got = reader::notes_of_track(p, 1);
    BOOST_TEST_REQUIRE(got.size() == 4u);
    BOOST_TEST(got[0].pitch == 0);
    BOOST_TEST(got[1].pitch == 60);
    BOOST_TEST(got[1].start_tick == 0u);
    BOOST_TEST(got[2].pitch == 127);
    BOOST_TEST(got[3].pitch == 61);  // end before start: one tick long
    BOOST_TEST(got[3].end_tick == got[3].start_tick + 1);
}

BOOST_AUTO_TEST_CASE(vlq_encodes_edge_values)
{
    using bytes = std::vector<std::uint8_t>;
    BOOST_TEST(vlq(0) == (bytes{0x00}), boost::test_tools::per_element());
    BOOST_TEST(vlq(127) == (bytes{0x7F}), boost::test_tools::per_element());
    BOOST_TEST(vlq(128) == (bytes{0x81, 0x00}), boost::test_tools::per_element());
    BOOST_TEST(vlq(16383) == (bytes{0xFF, 0x7F}), boost::test_tools::per_element());
    BOOST_TEST(vlq(16384) == (bytes{0x81, 0x80, 0x00}), boost::test_tools::per_element());
    BOOST_TEST(vlq(2097151) == (bytes{0xFF, 0xFF, 0x7F}), boost::test_tools::per_element());
    BOOST_TEST(vlq(2097152) == (bytes{0x81, 0x80, 0x80, 0x00}), boost::test_tools::per_element());
    BOOST_TEST(vlq(0x0FFFFFFF) == (bytes{0xFF, 0xFF, 0xFF, 0x7F}), boost::test_tools::per_element());
    BOOST_TEST(vlq(0xFFFFFFFF) == (bytes{0xFF, 0xFF, 0xFF, 0x7F}), boost::test_tools::per_element());
    for (std::uint32_t v : {0u, 127u, 128u, 16383u, 16384u, 0x0FFFFFFFu})
    {
        const auto b = vlq(v);
        std::size_t pos = 0;
        BOOST_TEST(reader::read_vlq(b, pos) == v);
        BOOST_TEST(pos == b.size());
    }
}

BOOST_AUTO_TEST_CASE(large_delta_times_use_four_byte_quantities)
{
    // 0x0FFFFFFF - 1 ticks at 960 PPQ / 120 BPM, then a one-tick note; later times are capped.
    const double far = double(0x0FFFFFFF - 1) / 1920.0;
    const std::vector<instrument> input{{"Piano", {{60, 0.0, 0.001, 1.0}}}, {"Cello", {{48, far, far + 100.0, 1.0}}}};
    const auto p = play_balanced(parse(smf::write_smf(input)));
    const auto cello = reader::notes_of_track(p, 2);
    BOOST_TEST_REQUIRE(cello.size() == 1u);
    BOOST_TEST(cello[0].start_tick == 0x0FFFFFFEu);
    BOOST_TEST(cello[0].end_tick == 0x0FFFFFFFu);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(smf_file)

BOOST_AUTO_TEST_CASE(write_smf_file_writes_exactly_the_bytes_and_leaves_no_temporary_file)
{
    scratch_dir dir;
    const fs::path target = dir.path / "song.mid";
    diagnostics diag;
    const auto ec = smf::write_smf_file(target, band, {}, diag);
    BOOST_TEST_REQUIRE(!ec, ec.message() << ": " << diag.to_string());
    BOOST_TEST(read_bytes(target) == smf::write_smf(band), boost::test_tools::per_element());
    BOOST_TEST(dir.entries() == std::vector<std::string>{"song.mid"}, boost::test_tools::per_element());
    BOOST_TEST(static_cast<int>(fs::status(target).permissions() & fs::perms::all) == 0644);
}

BOOST_AUTO_TEST_CASE(write_smf_file_replaces_an_existing_file_whole)
{
    scratch_dir dir;
    const fs::path target = dir.path / "song.mid";
    {
        std::ofstream old(target, std::ios::binary);
        old << std::string(100000, 'x');
    }
    diagnostics diag;
    const std::vector<instrument> small{{"Piano", {{60, 0, 1, 1}}}};
    BOOST_TEST_REQUIRE(!smf::write_smf_file(target, small, {}, diag));
    BOOST_TEST(read_bytes(target) == smf::write_smf(small), boost::test_tools::per_element());
    BOOST_TEST(dir.entries().size() == 1u);
}

BOOST_AUTO_TEST_CASE(write_smf_file_into_a_missing_directory_fails_and_names_the_path)
{
    scratch_dir dir;
    const fs::path target = dir.path / "no-such-dir" / "song.mid";
    diagnostics diag;
    const auto ec = smf::write_smf_file(target, band, {}, diag);
    BOOST_TEST(ec == boost::system::errc::no_such_file_or_directory);
    BOOST_TEST(diag.client_message().find(target.string()) != std::string::npos, diag.client_message());
    BOOST_TEST(dir.entries().empty());
}

BOOST_AUTO_TEST_CASE(write_smf_file_under_a_regular_file_fails_and_names_the_path)
{
    // Unlike a read-only directory, this is unwritable even for root.
    scratch_dir dir;
    std::ofstream(dir.path / "plain").put('x');
    const fs::path target = dir.path / "plain" / "song.mid";
    diagnostics diag;
    const auto ec = smf::write_smf_file(target, band, {}, diag);
    BOOST_TEST(ec == boost::system::errc::not_a_directory);
    BOOST_TEST(diag.client_message().find(target.string()) != std::string::npos, diag.client_message());
    BOOST_TEST(dir.entries() == std::vector<std::string>{"plain"}, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(write_smf_file_over_a_directory_fails_and_removes_its_temporary_file)
{
    scratch_dir dir;
    fs::create_directory(dir.path / "song.mid");
    diagnostics diag;
    const auto ec = smf::write_smf_file(dir.path / "song.mid", band, {}, diag);
    BOOST_TEST(ec == boost::system::errc::is_a_directory);
    BOOST_TEST(diag.client_message().find((dir.path / "song.mid").string()) != std::string::npos, diag.client_message());
    BOOST_TEST(dir.entries() == std::vector<std::string>{"song.mid"}, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(gm_programs)

BOOST_AUTO_TEST_CASE(every_general_midi_name_maps_to_its_program_ignoring_case)
{
    for (int p = 0; p < 128; ++p)
    {
        const auto name = std::string(smf::gm_program_name(static_cast<std::uint8_t>(p)));
        BOOST_TEST_REQUIRE(!name.empty());
        BOOST_TEST(program_of(name) == p, name);
        std::string upper = name;
        for (auto& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
        BOOST_TEST(program_of(upper) == p, upper);
    }
    BOOST_TEST(smf::gm_program_name(128).empty());
}

BOOST_AUTO_TEST_CASE(kie_style_names_map_to_their_programs)
{
    BOOST_TEST(program_of("Electric Bass (finger)") == 33);
    BOOST_TEST(program_of("acoustic grand piano") == 0);
    BOOST_TEST(program_of("Synth Strings 1") == 50);
    BOOST_TEST(program_of("Bagpipe") == 109);
    BOOST_TEST(program_of("Honky Tonk Piano") == 3);
}

BOOST_AUTO_TEST_CASE(short_family_names_map_through_the_alias_table)
{
    BOOST_TEST(program_of("Piano") == 0);
    BOOST_TEST(program_of("Bass") == 33);
    BOOST_TEST(program_of("Guitar") == 24);
    BOOST_TEST(program_of("Electric Guitar") == 27);
    BOOST_TEST(program_of("Strings") == 48);
    BOOST_TEST(program_of("Synth") == 80);
    BOOST_TEST(program_of("Brass") == 61);
    BOOST_TEST(program_of("Woodwinds") == 73);
    BOOST_TEST(program_of("ORGAN") == 16);
}

BOOST_AUTO_TEST_CASE(unknown_names_have_no_program)
{
    BOOST_TEST(!program_of_known("Theremin"));
    BOOST_TEST(!program_of_known(""));
    BOOST_TEST(!program_of_known("   "));
    BOOST_TEST(!program_of_known("Drums"));
}

BOOST_AUTO_TEST_CASE(drum_kits_are_recognised_but_melodic_drum_programs_are_not)
{
    for (const char* kit : {"Drums", "drums", "Drum Kit", "DRUM SET", "Percussion", "Snare drum", "Electronic Drums"})
        BOOST_TEST(smf::is_drum_instrument(kit), kit);
    for (const char* melodic : {"Steel Drums", "Taiko Drum", "Synth Drum", "Percussive Organ", "Piano", "", "Timpani"})
        BOOST_TEST(!smf::is_drum_instrument(melodic), melodic);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(smf_json)

BOOST_AUTO_TEST_CASE(notes_to_json_parses_back_to_the_same_notes_with_channel_and_program)
{
    const auto text = smf::notes_to_json(band);
    const auto root = boost::json::parse(text).as_object();
    const auto& list = root.at("instruments").as_array();
    BOOST_TEST_REQUIRE(list.size() == band.size());
    const auto assign = smf::assign_channels(band);
    for (std::size_t i = 0; i < band.size(); ++i)
    {
        const auto& inst = list[i].as_object();
        BOOST_TEST(inst.at("name").as_string() == band[i].name);
        BOOST_TEST(inst.at("program").to_number<int>() == assign[i].program);
        BOOST_TEST(inst.at("channel").to_number<int>() == assign[i].channel);
        BOOST_TEST(inst.at("drums").as_bool() == assign[i].drums);
        const auto& notes = inst.at("notes").as_array();
        BOOST_TEST_REQUIRE(notes.size() == band[i].notes.size());
        for (std::size_t k = 0; k < notes.size(); ++k)
        {
            const auto& n = notes[k].as_object();
            BOOST_TEST(n.at("pitch").to_number<int>() == band[i].notes[k].pitch);
            BOOST_TEST(n.at("start").to_number<double>() == band[i].notes[k].start);
            BOOST_TEST(n.at("end").to_number<double>() == band[i].notes[k].end);
            BOOST_TEST(n.at("velocity").to_number<double>() == band[i].notes[k].velocity);
        }
    }
    BOOST_TEST(list[0].at("channel").to_number<int>() == 9);
    BOOST_TEST(list[1].at("program").to_number<int>() == 33);
}

BOOST_AUTO_TEST_CASE(notes_to_json_of_nothing_is_an_empty_list)
{
    BOOST_TEST(smf::notes_to_json({}) == R"({"instruments":[]})");
}

BOOST_AUTO_TEST_CASE(notes_to_json_carries_repairs_and_warning_only_when_there_are_some)
{
    // Nothing repaired and notes present: exactly the plain format.
    BOOST_TEST(smf::notes_to_json(band, {}, api::result_repairs{}) == smf::notes_to_json(band));

    api::result_repairs r;
    r.notes_repaired = 3;
    r.notes_dropped = 1;
    r.reasons = {{"velocity on the 0-127 scale", 3, "data.midiData.instruments[0].notes[0]"},
                 {"zero-length note", 1, "data.midiData.instruments[0].notes[1]"}};
    const auto root = boost::json::parse(smf::notes_to_json(band, {}, r)).as_object();
    BOOST_TEST(root.at("instruments").as_array().size() == band.size());
    BOOST_TEST(root.at("warning").as_string() == "3 notes repaired, 1 dropped (velocity on the 0-127 scale x3, zero-length note x1)");
    const auto& rep = root.at("repairs").as_object();
    BOOST_TEST(rep.at("notes_repaired").to_number<int>() == 3);
    BOOST_TEST(rep.at("notes_dropped").to_number<int>() == 1);
    BOOST_TEST(rep.at("reasons").as_array().size() == 2u);
    BOOST_TEST(rep.at("reasons").as_array()[0].at("first_at").as_string() == "data.midiData.instruments[0].notes[0]");

    // An empty result says so, without a repairs object.
    const auto empty = boost::json::parse(smf::notes_to_json({}, {}, api::result_repairs{})).as_object();
    BOOST_TEST(empty.at("warning").as_string() == "KIE detected no notes in this track (valid after split_stem)");
    BOOST_TEST(!empty.contains("repairs"));
}

BOOST_AUTO_TEST_SUITE_END()
