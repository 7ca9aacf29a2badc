// Results KIE made oddly (odd notes, no notes, odd fields) through the CLI: kept, with one warning line.
// The executable runs as a child process (tests/common/cli_fixture.hpp) against an emulator on
// 127.0.0.1, waited for with a deadline and killed by its guard if still running.
#ifdef KIEMIDI_CLI_PATH  // only when the kiemidi executable is built
#include "common/cli_fixture.hpp"

#include <boost/test/unit_test.hpp>

#include <fstream>
#include <string>

using namespace kiemidi::test;
using namespace std::chrono_literals;

BOOST_AUTO_TEST_SUITE(cli_tolerant_results)

/// `kiemidi run` of one track, polling KIE, into `name`.mid in the test's directory: it must exit 0
/// and write a MIDI file.
void run_polling_into(cli_env& t, const std::string& music, const std::string& track, const std::string& name)
{
    const int code = t.run({"run", music, track, "-o", t.dir.path.string(), "--name", name, "--poll-only",
                            "--poll-interval-ms", "20"});
    BOOST_TEST_REQUIRE(code == 0, t.out);
    BOOST_TEST(is_midi_file(t.dir.path / (name + ".mid")));
}

BOOST_AUTO_TEST_CASE(run_keeps_a_result_with_odd_notes_and_prints_one_warning_line)
{
    kiemidi::emulator::emulator_options eo;
    eo.faults.odd_notes_rate = 1.0;
    eo.faults.unknown_success_flag_polls = 2;
    cli_env t(eo);
    auto& [dir, kie, out] = t;
    run_polling_into(t, "music-odd", "track-odd", "odd");
    const std::string line = "kiemidi: warning: 3 notes repaired, 2 dropped (";
    BOOST_TEST(out.find(line) != std::string::npos, out);
    BOOST_TEST(out.find(line) == out.rfind(line), out);
    const auto json = read_file(dir.path / "odd.json");
    BOOST_TEST(json.find("\"notes_repaired\":3") != std::string::npos, json.substr(0, 200));
    BOOST_TEST(json.find("\"notes_dropped\":2") != std::string::npos);
    BOOST_TEST(json.find("\"warning\":\"3 notes repaired") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(run_with_an_empty_result_exits_zero_and_says_so)
{
    kiemidi::emulator::emulator_options eo;
    eo.faults.empty_midi_rate = 1.0;
    cli_env t(eo);
    auto& [dir, kie, out] = t;
    run_polling_into(t, "music-e", "track-e", "empty");
    BOOST_TEST(out.find("kiemidi: warning: KIE detected no notes in this track (valid after split_stem)") != std::string::npos, out);
    BOOST_TEST(read_file(dir.path / "empty.json").find("\"warning\":\"KIE detected no notes") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(batch_keeps_odd_results_and_prints_one_warning_line_per_track)
{
    kiemidi::emulator::emulator_options eo;
    eo.faults.odd_notes_rate = 1.0;
    eo.faults.pending_success_flag_null = true;
    eo.faults.music_index_negative = true;
    cli_env t(eo);
    auto& [dir, kie, out] = t;
    auto list = dir.path / "tracks.csv";
    std::ofstream(list) << "task_id,audio_id,name\nmusic-1,track-1,first\nmusic-2,track-2,second\n";
    int code = t.run({"batch", list.string(), "-o", dir.path.string(), "--poll-only", "--poll-interval-ms", "20"});
    BOOST_TEST_REQUIRE(code == 0, out);
    for (const std::string name : {"first", "second"})
    {
        BOOST_TEST(is_midi_file(dir.path / (name + ".mid")));
        const std::string line = "warning: " + name + ": 3 notes repaired, 2 dropped (";
        BOOST_TEST(out.find(line) != std::string::npos, out);
        BOOST_TEST(out.find(line) == out.rfind(line), out);
        BOOST_TEST(read_file(dir.path / (name + ".json")).find("\"notes_dropped\":2") != std::string::npos);
    }
}

BOOST_AUTO_TEST_SUITE_END()

#endif
