// The CLI around KIE's separate steps: `tracks` of a music task, `midi` from a separation, and the
// separation's type and stem on `run`.
// The executable runs as a child process (tests/common/cli_fixture.hpp) against an emulator on
// 127.0.0.1, waited for with a deadline and killed by its guard if still running.
#ifdef KIEMIDI_CLI_PATH  // only when the kiemidi executable is built
#include "common/cli_fixture.hpp"

#include <boost/test/unit_test.hpp>

#include <cstddef>
#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

namespace fs = std::filesystem;
using namespace kiemidi::test;
using namespace std::chrono_literals;

namespace {

/// The ids KIE's tasks got, as `kiemidi run`/`midi` print them: "(separation S, midi M)".
std::string printed_task(const std::string& out, const std::string& kind)
{
    const auto at = out.find(kind + " ", out.find(" notes (separation "));
    if (at == std::string::npos) return {};
    const auto begin = at + kind.size() + 1;
    return out.substr(begin, out.find_first_of(",)", begin) - begin);
}

std::size_t count_of(const std::string& text, const std::string& what)
{
    std::size_t n = 0;
    for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + what.size())) ++n;
    return n;
}

}  // namespace

// The commands around KIE's separate steps: tracks of a music task, MIDI from a separation, and
// the separation's type and stem on `run`.
BOOST_AUTO_TEST_SUITE(cli_music_tasks_and_separations)

BOOST_AUTO_TEST_CASE(tracks_lists_a_music_task_and_run_without_an_audio_id_transcribes_every_track)
{
    cli_env t;
    auto& [dir, kie, out] = t;
    int code = t.run({"tracks", "music-all"});
    BOOST_TEST_REQUIRE(code == 0, out);
    // "<audio id>  <m:ss>  <title>" per track; the emulator's music tasks have two.
    std::vector<std::string> ids;
    std::istringstream lines(out);
    for (std::string line; std::getline(lines, line);)
        if (line.find("  Emulated Track ") != std::string::npos)
        {
            ids.push_back(line.substr(0, line.find("  ")));
            const auto dur = line.substr(ids.back().size() + 2, line.find("  ", ids.back().size() + 2) - ids.back().size() - 2);
            BOOST_TEST((dur.size() >= 4 && dur[dur.size() - 3] == ':'), line);
        }
    BOOST_TEST_REQUIRE(ids.size() == 2u, out);
    BOOST_TEST(ids[0] != ids[1]);

    code = t.run({"run", "music-all", "-o", (dir.path / "all").string()});
    BOOST_TEST_REQUIRE(code == 0, out);
    for (const auto& id : ids)
    {
        const auto base = dir.path / "all" / ("music-all_" + id);
        BOOST_TEST(is_midi_file(base.string() + ".mid"), base);
        BOOST_TEST(fs::exists(base.string() + ".json"));
        BOOST_TEST(fs::exists(base.string() + ".svg"));
    }
    const auto c = kie.server->snapshot();
    BOOST_TEST(c.separation_submissions.size() == 2u);  // one per track, each once
    BOOST_TEST(c.requests_to("POST /api/v1/midi/generate") == 2u);
    BOOST_TEST(c.duplicate_paid_submissions() == 0u);
    for (const auto& id : ids) BOOST_TEST(c.separation_submissions.count({"music-all", id}) == 1u, id);
}

BOOST_AUTO_TEST_CASE(tracks_and_run_of_a_music_task_kie_does_not_know_exit_six_and_pay_nothing)
{
    cli_temp_dir dir;
    std::string out;
    BOOST_TEST(run_cli({"tracks", "no.such.task"}, dir.path, out) == 6, out);
    BOOST_TEST(out.find("unknown task") != std::string::npos, out);
    BOOST_TEST(run_cli({"run", "no.such.task", "-o", dir.path.string()}, dir.path, out) == 6, out);
    BOOST_TEST(out.find("unknown task") != std::string::npos, out);
    BOOST_TEST(!fs::exists(dir.path / "no.such.task_.mid"));
}

BOOST_AUTO_TEST_CASE(midi_from_a_finished_separation_writes_what_run_writes_with_one_paid_post)
{
    cli_env t;
    auto& [dir, kie, out] = t;
    const auto sep = separate_elsewhere(kie, "track-m", kiemidi::api::separation_type::split_stem, true);
    int code = t.run({"midi", sep, "--stem", "dRuMs", "-o", dir.path.string()});
    BOOST_TEST_REQUIRE(code == 0, out);
    const auto base = dir.path / (sep + "_Drums");  // named as KIE spells the stem
    BOOST_TEST(is_midi_file(base.string() + ".mid"));
    BOOST_TEST(read_file(base.string() + ".json").find("\"instruments\"") != std::string::npos);
    BOOST_TEST(read_file(base.string() + ".svg").find("<svg") != std::string::npos);
    BOOST_TEST(printed_task(out, "separation") == sep, out);
    // The notes written are the ones KIE made for that MIDI task.
    const auto midi_task = printed_task(out, "midi");
    BOOST_TEST(printed_notes(out) == long(count_of(kie.server->midi_notes_json(midi_task), "\"pitch\"")), out);
    auto c = kie.server->snapshot();
    BOOST_TEST(c.requests_to("POST /api/v1/vocal-removal/generate") == 1u);  // only the one made elsewhere
    BOOST_TEST(c.requests_to("POST /api/v1/midi/generate") == 1u);
    BOOST_TEST_REQUIRE(c.midi_submissions.size() == 1u);
    BOOST_TEST(c.midi_submissions.begin()->first.first == sep);
    BOOST_TEST(!c.midi_submissions.begin()->first.second.empty());  // one stem, not all

    // A stem the separation does not have: usage error, the names it has, nothing paid.
    code = t.run({"midi", sep, "--stem", "Kazoo", "-o", dir.path.string()});
    BOOST_TEST(code == 2, out);
    BOOST_TEST(out.find("no stem named \"Kazoo\"; it has: Vocals") != std::string::npos, out);
    for (const char* name : {"Drums", "Bass"}) BOOST_TEST(out.find(name) != std::string::npos, out);
    BOOST_TEST(out.find("nothing was paid") != std::string::npos, out);
    BOOST_TEST(kie.server->snapshot().requests_to("POST /api/v1/midi/generate") == 1u);
}

BOOST_AUTO_TEST_CASE(midi_of_a_separation_not_finished_or_unknown_exits_six_and_costs_nothing)
{
    with_pending_separation t;
    auto& [dir, kie, out] = static_cast<cli_env&>(t);
    const auto& sep = t.pending;
    int code = t.run({"midi", sep, "-o", dir.path.string()});
    BOOST_TEST(code == 6, out);
    BOOST_TEST(out.find("has not finished (successFlag PENDING)") != std::string::npos, out);
    BOOST_TEST(out.find("nothing was paid") != std::string::npos, out);
    code = t.run({"midi", "0123456789abcdef0123456789abcdef", "-o", dir.path.string()});
    BOOST_TEST(code == 6, out);
    BOOST_TEST(out.find("KIE has no record for this task id") != std::string::npos, out);
    t.expect_nothing_more_paid();
    BOOST_TEST(!fs::exists(dir.path / (sep + ".mid")));
}

BOOST_AUTO_TEST_CASE(midi_goes_on_when_kie_took_the_paid_post_but_a_gateway_answered_html_502)
{
    cli_env t;
    auto& [dir, kie, out] = t;
    const auto sep = separate_elsewhere(kie, "track-g", kiemidi::api::separation_type::separate_vocal, true);
    kiemidi::emulator::fault_options f;
    f.processed_then_html_502_rate = 1.0;  // processed and charged; the answer is a gateway's page
    kie.server->set_faults(f);
    int code = t.run(
        {"midi", sep, "--name", "gw", "-o", dir.path.string(), "--listen-port", std::to_string(free_port())});
    BOOST_TEST_REQUIRE(code == 0, out);
    BOOST_TEST(is_midi_file(dir.path / "gw.mid"));
    const auto c = kie.server->snapshot();
    check_paid(c, 1u, 1u);  // the separation made elsewhere, this MIDI
    BOOST_TEST(c.garbled_after_processing == 1u);
}

BOOST_AUTO_TEST_CASE(run_sends_the_separation_type_and_transcribes_the_stem_asked_for)
{
    kiemidi::emulator::emulator_options eo;
    cli_env t(eo);
    auto& [dir, kie, out] = t;
    int code = t.run(
        {"run", "music-s", "track-s", "--type", "split_stem", "--stem", "BASS", "-o", dir.path.string(), "--name", "bass"});
    BOOST_TEST_REQUIRE(code == 0, out);
    BOOST_TEST(is_midi_file(dir.path / "bass.mid"));
    auto c = kie.server->snapshot();
    // KIE charges split_stem at its own price: the type was sent.
    BOOST_TEST(c.credits == eo.initial_credits - eo.split_stem_cost - eo.midi_cost);
    BOOST_TEST_REQUIRE(c.midi_submissions.size() == 1u);
    BOOST_TEST(!c.midi_submissions.begin()->first.second.empty());  // one stem

    // A stem name the separation does not have: the separation is paid, so its id is given for `kiemidi midi`.
    code = t.run({"run", "music-k", "track-k", "--stem", "kazoo", "-o", dir.path.string()});
    BOOST_TEST(code == 1, out);
    BOOST_TEST(out.find("no stem named \"kazoo\"; it has: Vocals, Instrumental") != std::string::npos, out);
    BOOST_TEST(out.find("kiemidi midi ") != std::string::npos, out);
    BOOST_TEST(kie.server->snapshot().requests_to("POST /api/v1/midi/generate") == 1u);
}

BOOST_AUTO_TEST_SUITE_END()

#endif
