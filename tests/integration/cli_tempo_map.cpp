// `kiemidi run` writes files a musician can use: the tempo map estimated from the notes (or off,
// or given), bar lines on the downbeats, KIE's seconds kept, drums on MIDI channel 10. The .mid is
// read back by Debian's python3-mido (scripts/install-deps.sh midi installs it; without it these
// tests fail rather than skip), and the .json's tempo is scored against the emulator's truth.
#ifdef KIEMIDI_CLI_PATH
#include "common/child_process.hpp"
#include "common/cli_fixture.hpp"

#include "emulator/synthetic_music.hpp"

#include <boost/json/parse.hpp>
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <filesystem>
#include <string>
#include <vector>

using namespace kiemidi::test;
using namespace std::chrono_literals;
namespace fs = std::filesystem;
namespace json = boost::json;
namespace emu = kiemidi::emulator::detail;

namespace {

constexpr const char* debian_python = "/usr/bin/python3";

/// Runs the mido reader on <dir>/<name>.mid and .json; its exit code, its output in `said`.
int read_with_mido(const fs::path& dir, const std::string& name, std::string& said, const std::vector<std::string>& extra = {})
{
    BOOST_TEST_REQUIRE(fs::exists(debian_python), "Debian's python3 is missing: scripts/install-deps.sh midi");
    const auto log = dir / (name + ".mido.log");
    std::vector<std::string> args{KIEMIDI_MIDO_SCRIPT, (dir / (name + ".mid")).string(), (dir / (name + ".json")).string()};
    args.insert(args.end(), extra.begin(), extra.end());
    child_process python(debian_python, args, log);
    const auto code = python.wait_for(60s);
    said = read_file(log);
    BOOST_TEST_REQUIRE(code.has_value(), "the mido reader did not finish within 60 s: " << said);
    BOOST_TEST_REQUIRE(said.find("No module named 'mido'") == std::string::npos, "python3-mido is missing: scripts/install-deps.sh midi");
    return *code;
}

json::object tempo_of(const fs::path& json_file)
{
    return json::parse(read_file(json_file)).as_object().at("tempo").as_object();
}

double true_bpm(const std::string& audio_id)
{
    const auto truth = emu::make_song_truth(1, audio_id, emu::track_duration(1, audio_id));  // the emulator's default seed
    std::vector<double> ibi;
    for (std::size_t i = 0; i + 1 < truth.beats.size(); ++i) ibi.push_back(truth.beats[i + 1] - truth.beats[i]);
    std::sort(ibi.begin(), ibi.end());
    return 60.0 / ibi[ibi.size() / 2];
}

}  // namespace

BOOST_AUTO_TEST_SUITE(cli_tempo_map)

BOOST_AUTO_TEST_CASE(run_writes_the_estimated_tempo_map_and_mido_reads_kies_seconds_back)
{
    cli_env t;
    auto& [dir, kie, out] = t;
    for (const std::string track : {"tempo-a", "tempo-b", "tempo-c"})
    {
        const int code = t.run({"run", "music-tempo", track, "-o", dir.path.string(), "--name", track});
        BOOST_TEST_REQUIRE(code == 0, out);
        BOOST_TEST(out.find(" BPM, ") != std::string::npos, out);
        const auto tempo = tempo_of(dir.path / (track + ".json"));
        BOOST_TEST(tempo.at("choice").as_string() == "auto");
        BOOST_TEST(tempo.at("estimated").as_bool());
        const double bpm = tempo.at("bpm").to_number<double>();
        BOOST_TEST(std::abs(bpm / true_bpm(track) - 1) <= 0.02, track << ": " << bpm << " BPM, truth " << true_bpm(track));
        std::string said;
        BOOST_TEST(read_with_mido(dir.path, track, said) == 0, said);
        BOOST_TEST_MESSAGE(track << ": " << said);
        BOOST_TEST(read_file(dir.path / (track + ".svg")).find("class=\"bars\"") != std::string::npos);
    }
    check_paid(kie.server->snapshot(), 3, 3);
}

BOOST_AUTO_TEST_CASE(tempo_off_writes_120_bpm_in_four_four_and_mido_agrees)
{
    cli_env t;
    auto& [dir, kie, out] = t;
    BOOST_TEST_REQUIRE(t.run({"run", "music-tempo", "tempo-off", "-o", dir.path.string(), "--name", "off", "--tempo", "off"}) == 0, out);
    const auto tempo = tempo_of(dir.path / "off.json");
    BOOST_TEST(tempo.at("choice").as_string() == "off");
    BOOST_TEST(tempo.at("bpm").to_number<double>() == 120.0);
    BOOST_TEST(tempo.at("time_signature").as_string() == "4/4");
    std::string said;
    BOOST_TEST(read_with_mido(dir.path, "off", said) == 0, said);
    BOOST_TEST(said.find("1 tempo events") != std::string::npos, said);
}

BOOST_AUTO_TEST_CASE(a_given_tempo_and_quantize_are_kept_in_the_file_and_said_in_the_json)
{
    cli_env t;
    auto& [dir, kie, out] = t;
    const int code = t.run({"run", "music-tempo", "tempo-q", "-o", dir.path.string(), "--name", "q", "--tempo", "100", "--quantize", "1/16"});
    BOOST_TEST_REQUIRE(code == 0, out);
    BOOST_TEST(out.find("quantized to 1/16") != std::string::npos, out);
    const auto root = json::parse(read_file(dir.path / "q.json")).as_object();
    BOOST_TEST(root.at("tempo").at("choice").as_string() == "100");
    BOOST_TEST(root.at("tempo").at("bpm").to_number<double>() == 100.0);
    BOOST_TEST(root.at("quantize").at("grid").as_string() == "1/16");
    BOOST_TEST(root.at("quantize").at("ends").as_bool() == false);
    std::string said;
    BOOST_TEST(read_with_mido(dir.path, "q", said, {"--quantized", "4"}) == 0, said);
}

BOOST_AUTO_TEST_CASE(bad_tempo_and_quantize_values_are_usage_errors_and_pay_nothing)
{
    cli_env t;
    auto& [dir, kie, out] = t;
    BOOST_TEST(t.run({"run", "music-tempo", "tempo-bad", "-o", dir.path.string(), "--tempo", "300"}) == 2);
    BOOST_TEST(out.find("--tempo takes auto, off or a BPM") != std::string::npos, out);
    BOOST_TEST(t.run({"run", "music-tempo", "tempo-bad", "-o", dir.path.string(), "--quantize", "1/4"}) == 2);
    BOOST_TEST(out.find("--quantize takes off, 1/8") != std::string::npos, out);
    check_paid(kie.server->snapshot(), 0, 0);
}

BOOST_AUTO_TEST_CASE(a_track_lists_own_tempo_wins_over_the_batchs)
{
    cli_env t;
    auto& [dir, kie, out] = t;
    const auto list = dir.path / "tracks.csv";
    {
        std::ofstream f(list);
        f << "task_id,audio_id,name,tempo,quantize\nmusic-l,tr-1,own,90,1/8\nmusic-l,tr-2,default,,\n";
    }
    const int code = t.run({"batch", list.string(), "-o", t.out_dir().string(), "--journal", t.journal().string(), "--tempo", "off"});
    BOOST_TEST_REQUIRE(code == 0, out);
    const auto own = json::parse(read_file(t.out_dir() / "own.json")).as_object();
    BOOST_TEST(own.at("tempo").at("bpm").to_number<double>() == 90.0);
    BOOST_TEST(own.at("quantize").at("grid").as_string() == "1/8");
    const auto dflt = json::parse(read_file(t.out_dir() / "default.json")).as_object();
    BOOST_TEST(dflt.at("tempo").at("choice").as_string() == "off");
    BOOST_TEST(dflt.at("quantize").at("grid").as_string() == "off");
    std::string said;
    BOOST_TEST(read_with_mido(t.out_dir(), "own", said, {"--quantized", "2"}) == 0, said);
    BOOST_TEST(t.run({"batch", "--check", list.string()}) == 0, out);
    {
        std::ofstream f(list);
        f << "task_id,audio_id,name,tempo\nmusic-l,tr-3,bad,fast\n";
    }
    BOOST_TEST(t.run({"batch", "--check", list.string()}) == 10, out);
    BOOST_TEST(out.find("tempo must be auto, off or a BPM") != std::string::npos, out);
    check_paid(kie.server->snapshot(), 2, 2);
}

BOOST_AUTO_TEST_SUITE_END()
#endif
