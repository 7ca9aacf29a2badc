// The `kiemidi` commands end to end: help and usage errors, `run` against the embedded emulator
// and one in this process, `credits`, and an API key never printed.
// The executable runs as a child process (tests/common/cli_fixture.hpp) against an emulator on
// 127.0.0.1, waited for with a deadline and killed by its guard if still running.
#ifdef KIEMIDI_CLI_PATH  // only when the kiemidi executable is built
#include "common/cli_fixture.hpp"

#include "common/test_http_server.hpp"

#include <kiemidi/version.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/test/unit_test.hpp>

#include <string>
#include <thread>
#include <vector>

using namespace kiemidi::test;
using namespace std::chrono_literals;

BOOST_AUTO_TEST_SUITE(cli)

BOOST_AUTO_TEST_CASE(every_command_has_help_that_exits_zero)
{
    cli_temp_dir dir;
    std::string out;
    BOOST_TEST(run_cli({"--help"}, dir.path, out) == 0);
    BOOST_TEST(out.find("exit codes") != std::string::npos);
    for (std::string cmd : {"run", "midi", "tracks", "batch", "status", "report", "credits", "emulator"})
    {
        BOOST_TEST(run_cli({cmd, "--help"}, dir.path, out) == 0, cmd << " --help:\n" << out);
        BOOST_TEST(out.find("usage: kiemidi " + cmd) != std::string::npos, out);
    }
}

BOOST_AUTO_TEST_CASE(version_names_kiemidi_and_the_boost_and_openssl_it_was_built_with)
{
    cli_temp_dir dir;
    std::string out;
    const kiemidi::version_info v = kiemidi::library_version();
    BOOST_TEST(run_cli({"--version"}, dir.path, out) == 0);
    BOOST_TEST(out.starts_with("kiemidi " KIEMIDI_VERSION_STRING "\n"), out);
    BOOST_TEST(out.find("Boost " + std::string(v.boost) + " and OpenSSL " + std::string(v.openssl)) != std::string::npos, out);
    BOOST_TEST(out.find("warning") == std::string::npos, out);
    BOOST_TEST(run_cli({"emulator", "--version"}, dir.path, out) == 0);
    BOOST_TEST(out.starts_with("kiemidi emulator " KIEMIDI_VERSION_STRING "\n"), out);
    BOOST_TEST(run_cli({"--help"}, dir.path, out) == 0);
    BOOST_TEST(out.find("--version") != std::string::npos, out);
}

BOOST_AUTO_TEST_CASE(bad_flags_are_usage_errors)
{
    cli_temp_dir dir;
    std::string out;
    BOOST_TEST(run_cli({}, dir.path, out) == 2);
    BOOST_TEST(run_cli({"frobnicate"}, dir.path, out) == 2);
    BOOST_TEST(run_cli({"run"}, dir.path, out) == 2);  // (a task id alone runs every track of it)
    BOOST_TEST(run_cli({"run", "t", "a", "--no-such-flag"}, dir.path, out) == 2);
    BOOST_TEST(out.find("no-such-flag") != std::string::npos, out);
    BOOST_TEST(run_cli({"emulator", "--http-port", "x"}, dir.path, out) == 2);
    BOOST_TEST(run_cli({"run", "t", "a", "--type", "all_stems"}, dir.path, out) == 2);
    BOOST_TEST(out.find("separate_vocal or split_stem") != std::string::npos, out);
    BOOST_TEST(run_cli({"midi"}, dir.path, out) == 2);
    BOOST_TEST(run_cli({"midi", "sep", "--stem", "Bass", "--audio-id", "a1"}, dir.path, out) == 2);
    BOOST_TEST(out.find("not both") != std::string::npos, out);
    BOOST_TEST(run_cli({"tracks"}, dir.path, out) == 2);
    BOOST_TEST(run_cli({"credits", "--base-url", "https://127.0.0.1:1"}, dir.path, out) == 2);  // a URL but no key
}

BOOST_AUTO_TEST_CASE(run_writes_midi_and_json_with_the_embedded_emulator)
{
    cli_temp_dir dir;
    std::string out;
    int code = run_cli({"run", "music-1", "track-1", "-o", (dir.path / "out").string(), "--name", "song"}, dir.path, out);
    BOOST_TEST_REQUIRE(code == 0, out);
    BOOST_TEST(out.find("embedded KIE emulator") != std::string::npos, out);
    BOOST_TEST(is_midi_file(dir.path / "out" / "song.mid"));
    BOOST_TEST(read_file(dir.path / "out" / "song.json").find("\"instruments\"") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(run_polling_only_against_a_separate_emulator)
{
    cli_env t;
    auto& [dir, kie, out] = t;
    int code = t.run({"run", "music-2", "track-2", "-o", dir.path.string(), "--poll-only", "--poll-interval-ms", "20"});
    BOOST_TEST_REQUIRE(code == 0, out);
    BOOST_TEST(is_midi_file(dir.path / "music-2_track-2.mid"));
    BOOST_TEST(kie.server->snapshot().duplicate_paid_submissions() == 0u);
}

// KIE's MIDI page gives a MIDI task its separation's task id, and KIE repeats callbacks: the
// separation's repeated callback is not taken for the MIDI result.
BOOST_AUTO_TEST_CASE(run_with_equal_task_ids_and_a_repeated_separation_callback_writes_the_real_notes)
{
    kiemidi::emulator::emulator_options eo;
    eo.midi_task_id_equals_separation = true;
    eo.faults.repeat_separation_callback_after_midi_submit = true;
    eo.midi_delay = 300ms;  // the repeat arrives while the MIDI task is pending
    cli_env t(eo);
    auto& [dir, kie, out] = t;
    int code = t.run({"run", "music-eq", "track-eq", "-o", dir.path.string()}, 30s);
    BOOST_TEST_REQUIRE(code == 0, out);
    BOOST_TEST(printed_notes(out) > 0, out);
    BOOST_TEST(is_midi_file(dir.path / "music-eq_track-eq.mid"));
    const auto c = kie.server->snapshot();
    BOOST_TEST(c.callbacks_duplicated == 1u);
    BOOST_TEST(c.requests_to("POST /api/v1/midi/generate") == 1u);
}

// With equal ids, a MIDI callback that comes before the MIDI POST's answer is not dropped as a
// repeat of the separation's: the run ends at once instead of after the callback's overdue time (90 s).
BOOST_AUTO_TEST_CASE(run_with_equal_task_ids_and_an_early_midi_callback_finishes_at_once)
{
    kiemidi::emulator::emulator_options eo;
    eo.midi_task_id_equals_separation = true;
    eo.midi_delay = 0ms;
    eo.faults.paid_answer_delay = 300ms;
    cli_env t(eo);
    auto& [dir, kie, out] = t;
    int code = t.run({"run", "music-fast", "track-fast", "-o", dir.path.string()}, 20s);
    BOOST_TEST_REQUIRE(code == 0, out);
    BOOST_TEST(printed_notes(out) > 0, out);
    BOOST_TEST(kie.server->snapshot().requests_to("GET /api/v1/midi/record-info") == 0u);
}

BOOST_AUTO_TEST_CASE(run_with_a_rejected_track_exits_one)
{
    cli_temp_dir dir;
    std::string out;
    int code = run_cli({"run", "bad id!", "track-1", "-o", dir.path.string()}, dir.path, out);
    BOOST_TEST(code == 1, out);
    BOOST_TEST(out.find("taskId is invalid") != std::string::npos, out);
}

BOOST_AUTO_TEST_CASE(credits_prints_the_balance_and_a_refused_key_exits_four)
{
    cli_temp_dir dir;
    std::string out;
    BOOST_TEST(run_cli({"credits"}, dir.path, out) == 0, out);
    BOOST_TEST(out.find("1000000") != std::string::npos, out);
    external_kie kie(dir.path);
    BOOST_TEST(run_cli(std::vector<std::string>{"credits"} + kie.flags("wrong-key"), dir.path, out) == 4, out);
    BOOST_TEST(out.find("wrong-key") == std::string::npos, "the key must not be printed");
}

BOOST_AUTO_TEST_CASE(an_api_key_echoed_back_by_kie_is_never_printed)
{
    cli_temp_dir dir;
    const std::string key = "sk-cli-echo-SECRET-5b1e";
    // A KIE stand-in on its own thread that quotes the key in its error message.
    struct echo_server
    {
        boost::asio::io_context ioc;
        kiemidi::test::test_http_server server{ioc.get_executor()};
        std::thread thread;
        explicit echo_server(const std::string& body)
        {
            server.set_default({.body = body});
            server.start();
            thread = std::thread([this] { ioc.run(); });
        }
        ~echo_server()
        {
            boost::asio::post(ioc, [this] { server.stop(); });
            thread.join();
        }
    } kie(R"({"code":401,"msg":"Invalid API key: )" + key + R"("})");
    std::string out;
    const int code = run_cli({"credits", "--base-url", kie.server.base_url(), "--api-key", key}, dir.path, out);
    BOOST_TEST(code == 4, out);
    BOOST_TEST(out.find(key) == std::string::npos, out);
    BOOST_TEST(out.find("SECRET") == std::string::npos, out);
    BOOST_TEST(out.find("Invalid API key: <redacted>") != std::string::npos, out);  // KIE's words, minus the key
}

BOOST_AUTO_TEST_SUITE_END()

#endif
