// The `kiemidi` executable end to end: run as a child process against the embedded emulator or
// an emulator in this test process (127.0.0.1 only). Every child is waited for with a deadline
// and killed by its guard if it is still running.
#ifdef KIEMIDI_CLI_PATH  // only when the kiemidi executable is built
#include <kiemidi/emulator.hpp>

#include "common/child_process.hpp"
#include "common/temp_dir.hpp"
#include "common/test_http_server.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <unistd.h>

namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

const std::string cli_path = KIEMIDI_CLI_PATH;

/// The kiemidi executable as a child process (tests/common/child_process.hpp: KIE_* removed from
/// the environment, output to `log`, killed and reaped by the destructor if still running).
struct cli_process : kiemidi::test::child_process
{
    cli_process(const std::vector<std::string>& args, const fs::path& log)
        : child_process(cli_path, args, log)
    {
    }
};

/// A fresh directory under the temp dir, removed at the end.
struct temp_dir : kiemidi::test::temp_dir
{
    temp_dir() : kiemidi::test::temp_dir("kiemidi-cli-test") {}
};

std::string read_file(const fs::path& p)
{
    std::ifstream in(p, std::ios::binary);
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

/// Runs the CLI to completion (bounded); returns its exit code and fills `output`.
int run_cli(const std::vector<std::string>& args, const fs::path& dir, std::string& output,
            std::chrono::milliseconds limit = 60s)
{
    static int n = 0;
    auto log = dir / ("cli-" + std::to_string(++n) + ".log");
    cli_process child(args, log);
    auto code = child.wait_for(limit);
    output = read_file(log);
    BOOST_TEST_REQUIRE(code.has_value(), "kiemidi did not finish in time; output:\n" << output);
    return *code;
}

bool is_midi_file(const fs::path& p)
{
    return read_file(p).starts_with("MThd");
}

/// An emulator in this test process on its own thread, with its CA written to a file.
struct external_kie
{
    boost::asio::io_context ioc;
    std::unique_ptr<kiemidi::emulator::server> server;
    std::thread thread;
    fs::path ca_file;

    external_kie(const fs::path& dir, kiemidi::emulator::emulator_options eo = {})
    {
        server = std::make_unique<kiemidi::emulator::server>(ioc.get_executor(), eo);
        server->start();
        ca_file = dir / "kie-ca.pem";
        std::ofstream(ca_file) << server->ca_certificate_pem();
        thread = std::thread([this] { ioc.run(); });
    }
    ~external_kie()
    {
        boost::asio::post(ioc, [this] { server->stop(); });
        thread.join();
    }
    std::vector<std::string> flags(const std::string& key = "kie-emulator-key") const
    {
        return {"--base-url", server->https_base_url(), "--api-key", key, "--ca-file", ca_file.string()};
    }
};

std::vector<std::string> operator+(std::vector<std::string> a, const std::vector<std::string>& b)
{
    a.insert(a.end(), b.begin(), b.end());
    return a;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(cli)

BOOST_AUTO_TEST_CASE(every_command_has_help_that_exits_zero)
{
    temp_dir dir;
    std::string out;
    BOOST_TEST(run_cli({"--help"}, dir.path, out) == 0);
    BOOST_TEST(out.find("exit codes") != std::string::npos);
    for (std::string cmd : {"run", "batch", "status", "credits", "emulator"})
    {
        BOOST_TEST(run_cli({cmd, "--help"}, dir.path, out) == 0, cmd << " --help:\n" << out);
        BOOST_TEST(out.find("usage: kiemidi " + cmd) != std::string::npos, out);
    }
}

BOOST_AUTO_TEST_CASE(bad_flags_are_usage_errors)
{
    temp_dir dir;
    std::string out;
    BOOST_TEST(run_cli({}, dir.path, out) == 2);
    BOOST_TEST(run_cli({"frobnicate"}, dir.path, out) == 2);
    BOOST_TEST(run_cli({"run", "only-task-id"}, dir.path, out) == 2);
    BOOST_TEST(run_cli({"run", "t", "a", "--no-such-flag"}, dir.path, out) == 2);
    BOOST_TEST(out.find("no-such-flag") != std::string::npos, out);
    BOOST_TEST(run_cli({"emulator", "--http-port", "x"}, dir.path, out) == 2);
    BOOST_TEST(run_cli({"credits", "--base-url", "https://127.0.0.1:1"}, dir.path, out) == 2);  // a URL but no key
}

BOOST_AUTO_TEST_CASE(run_writes_midi_and_json_with_the_embedded_emulator)
{
    temp_dir dir;
    std::string out;
    int code = run_cli({"run", "music-1", "track-1", "-o", (dir.path / "out").string(), "--name", "song"}, dir.path, out);
    BOOST_TEST_REQUIRE(code == 0, out);
    BOOST_TEST(out.find("embedded KIE emulator") != std::string::npos, out);
    BOOST_TEST(is_midi_file(dir.path / "out" / "song.mid"));
    BOOST_TEST(read_file(dir.path / "out" / "song.json").find("\"instruments\"") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(run_polling_only_against_a_separate_emulator)
{
    temp_dir dir;
    external_kie kie(dir.path);
    std::string out;
    int code = run_cli(std::vector<std::string>{"run", "music-2", "track-2", "-o", dir.path.string(), "--poll-only",
                                                "--poll-interval-ms", "20"} + kie.flags(),
                       dir.path, out);
    BOOST_TEST_REQUIRE(code == 0, out);
    BOOST_TEST(is_midi_file(dir.path / "music-2_track-2.mid"));
    BOOST_TEST(kie.server->snapshot().duplicate_paid_submissions() == 0u);
}

/// The note count `kiemidi run` printed ("<file>: 3 instruments, 412 notes (...)"); -1 when absent.
long printed_notes(const std::string& out)
{
    const auto at = out.find(" notes (separation ");
    if (at == std::string::npos) return -1;
    auto begin = out.rfind(' ', at - 1);
    begin = begin == std::string::npos ? 0 : begin + 1;
    return std::stol(out.substr(begin, at - begin));
}

// KIE's MIDI page gives a MIDI task its separation's task id, and KIE repeats callbacks: the
// separation's repeated callback is not taken for the MIDI result.
BOOST_AUTO_TEST_CASE(run_with_equal_task_ids_and_a_repeated_separation_callback_writes_the_real_notes)
{
    temp_dir dir;
    kiemidi::emulator::emulator_options eo;
    eo.midi_task_id_equals_separation = true;
    eo.faults.repeat_separation_callback_after_midi_submit = true;
    eo.midi_delay = 300ms;  // the repeat arrives while the MIDI task is pending
    external_kie kie(dir.path, eo);
    std::string out;
    int code = run_cli(std::vector<std::string>{"run", "music-eq", "track-eq", "-o", dir.path.string()} + kie.flags(),
                       dir.path, out, 30s);
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
    temp_dir dir;
    kiemidi::emulator::emulator_options eo;
    eo.midi_task_id_equals_separation = true;
    eo.midi_delay = 0ms;
    eo.faults.paid_answer_delay = 300ms;
    external_kie kie(dir.path, eo);
    std::string out;
    int code = run_cli(std::vector<std::string>{"run", "music-fast", "track-fast", "-o", dir.path.string()} + kie.flags(),
                       dir.path, out, 20s);
    BOOST_TEST_REQUIRE(code == 0, out);
    BOOST_TEST(printed_notes(out) > 0, out);
    BOOST_TEST(kie.server->snapshot().requests_to("GET /api/v1/midi/record-info") == 0u);
}

BOOST_AUTO_TEST_CASE(run_with_a_rejected_track_exits_one)
{
    temp_dir dir;
    std::string out;
    int code = run_cli({"run", "bad id!", "track-1", "-o", dir.path.string()}, dir.path, out);
    BOOST_TEST(code == 1, out);
    BOOST_TEST(out.find("taskId is invalid") != std::string::npos, out);
}

BOOST_AUTO_TEST_CASE(credits_prints_the_balance_and_a_refused_key_exits_four)
{
    temp_dir dir;
    std::string out;
    BOOST_TEST(run_cli({"credits"}, dir.path, out) == 0, out);
    BOOST_TEST(out.find("1000000") != std::string::npos, out);
    external_kie kie(dir.path);
    BOOST_TEST(run_cli(std::vector<std::string>{"credits"} + kie.flags("wrong-key"), dir.path, out) == 4, out);
    BOOST_TEST(out.find("wrong-key") == std::string::npos, "the key must not be printed");
}

BOOST_AUTO_TEST_CASE(an_api_key_echoed_back_by_kie_is_never_printed)
{
    temp_dir dir;
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

BOOST_AUTO_TEST_SUITE(cli_batch)

BOOST_AUTO_TEST_CASE(batch_with_a_bad_row_runs_the_rest_and_exits_one)
{
    temp_dir dir;
    auto list = dir.path / "tracks.csv";
    std::ofstream(list) << "task_id,audio_id,name\n"
                           "music-1,track-1,first\n"
                           "this row has one field\n"
                           "music-2,track-2,\"second, live\"\n"
                           "music-3,track-3\n";
    std::string out;
    int code = run_cli({"batch", list.string(), "-o", (dir.path / "out").string(), "--concurrency", "2"}, dir.path, out);
    BOOST_TEST(code == 1, out);
    BOOST_TEST(out.find("tracks.csv:3:") != std::string::npos, out);
    BOOST_TEST(is_midi_file(dir.path / "out" / "first.mid"), out);
    BOOST_TEST(is_midi_file(dir.path / "out" / "second, live.mid"), out);
    BOOST_TEST(is_midi_file(dir.path / "out" / "music-3_track-3.mid"), out);
    BOOST_TEST(fs::exists(dir.path / "out" / "first.json"));

    // status reads the journal the batch left behind.
    BOOST_TEST(run_cli({"status", (dir.path / "out" / "kiemidi-journal.sqlite").string()}, dir.path, out) == 0, out);
    BOOST_TEST(out.find("done: 3") != std::string::npos, out);
}

BOOST_AUTO_TEST_CASE(batch_of_good_json_lines_exits_zero_and_a_missing_list_exits_two)
{
    temp_dir dir;
    auto list = dir.path / "tracks.jsonl";
    std::ofstream(list) << "{\"task_id\":\"music-7\",\"audio_id\":\"track-7\",\"name\":\"seven\"}\n"
                           "{\"task_id\":\"music-8\",\"audio_id\":\"track-8\"}\n";
    std::string out;
    BOOST_TEST(run_cli({"batch", list.string(), "-o", dir.path.string(), "--poll-only"}, dir.path, out) == 0, out);
    BOOST_TEST(is_midi_file(dir.path / "seven.mid"));
    BOOST_TEST(is_midi_file(dir.path / "music-8_track-8.mid"));
    BOOST_TEST(run_cli({"batch", (dir.path / "missing.csv").string(), "-o", dir.path.string()}, dir.path, out) == 2, out);
    BOOST_TEST(out.find("missing.csv") != std::string::npos, out);
}

BOOST_AUTO_TEST_CASE(batch_killed_repeatedly_finishes_every_track_without_paying_twice)
{
    temp_dir dir;
    kiemidi::emulator::emulator_options eo;
    eo.separation_delay = 300ms;
    eo.midi_delay = 300ms;
    external_kie kie(dir.path, eo);
    constexpr int tracks = 60;
    auto list = dir.path / "tracks.csv";
    {
        std::ofstream l(list);
        for (int i = 0; i < tracks; ++i) l << "music-" << i << ",track-" << i << ",song-" << i << "\n";
    }
    const auto out_dir = dir.path / "out";
    const auto journal = dir.path / "journal.sqlite";
    const std::vector<std::string> batch = std::vector<std::string>{"batch", list.string(), "-o", out_dir.string(),
                                                                    "--journal", journal.string(), "--concurrency", "8",
                                                                    "--poll-only", "--poll-interval-ms", "50"} +
                                           kie.flags();
    const unsigned seed = std::random_device{}();
    BOOST_TEST_MESSAGE("kill points seed " << seed);
    std::mt19937 rng(seed);
    std::uniform_int_distribution<int> after_ms(150, 900);
    int kills = 0;
    bool finished_early = false;
    for (int round = 0; round < 8 && kills < 5; ++round)
    {
        cli_process child(batch, dir.path / ("killed-" + std::to_string(round) + ".log"));
        if (child.wait_for(std::chrono::milliseconds(after_ms(rng))))
        {
            finished_early = true;
            break;
        }
        child.kill_hard();
        ++kills;
    }
    BOOST_TEST_MESSAGE("killed " << kills << " times" << (finished_early ? ", then it finished" : ""));
    BOOST_TEST(kills >= 5);

    std::string out;
    int code = run_cli(batch, dir.path, out, 90s);
    BOOST_TEST_REQUIRE((code == 0 || code == 3), out);
    // Nothing was paid twice: resumed tracks waited on their KIE task instead of resubmitting.
    BOOST_TEST(kie.server->snapshot().duplicate_paid_submissions() == 0u);
    std::size_t unknown = 0;
    if (code == 3)
    {
        // A kill between sending a paid POST and reading its answer leaves that track's outcome
        // unknown: it is reported, not resubmitted, until the user asks for it explicitly.
        std::string status;
        BOOST_TEST(run_cli({"status", journal.string()}, dir.path, status) == 3, status);
        auto pos = status.find("outcome_unknown: ");
        BOOST_TEST_REQUIRE(pos != std::string::npos, status);
        unknown = std::stoul(status.substr(pos + 17));
        BOOST_TEST(unknown > 0u);
        BOOST_TEST_MESSAGE(unknown << " track(s) with an unknown outcome; resubmitting them explicitly");
        code = run_cli(batch + std::vector<std::string>{"--resubmit-unknown"}, dir.path, out, 90s);
        BOOST_TEST_REQUIRE(code == 0, out);
    }
    const auto c = kie.server->snapshot();
    BOOST_TEST(c.duplicate_paid_submissions() <= unknown);
    BOOST_TEST(c.separation_submissions.size() == static_cast<std::size_t>(tracks));
    for (int i = 0; i < tracks; ++i)
        BOOST_TEST(is_midi_file(out_dir / ("song-" + std::to_string(i) + ".mid")), "song-" << i);

    std::string status;
    BOOST_TEST(run_cli({"status", journal.string()}, dir.path, status) == 0, status);
    BOOST_TEST(status.find("done: " + std::to_string(tracks)) != std::string::npos, status);
    // Running it again does nothing: every track is already done.
    BOOST_TEST(run_cli(batch, dir.path, out) == 0, out);
    BOOST_TEST(kie.server->snapshot().tasks_created == c.tasks_created);
}

/// A TCP port that was free a moment ago (the listener of both runs binds it).
std::uint16_t free_port()
{
    boost::asio::io_context ioc;
    boost::asio::ip::tcp::acceptor a(ioc, {boost::asio::ip::make_address("127.0.0.1"), 0});
    return a.local_endpoint().port();
}

/// Waits (bounded) until the emulator has charged `n` separation submissions.
bool wait_for_paid_separations(const kiemidi::emulator::server& kie, std::size_t n, std::chrono::milliseconds limit)
{
    const auto until = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < until)
    {
        std::size_t paid = 0;
        for (const auto& [key, count] : kie.snapshot().separation_submissions) paid += count;
        if (paid >= n) return true;
        std::this_thread::sleep_for(10ms);
    }
    return false;
}

/// One track; the batch is killed after KIE charged its separation and before the answer came
/// (the emulator holds paid answers back), so the journal has only the intent and its reference.
struct crash_after_paid_post
{
    temp_dir dir;
    std::unique_ptr<external_kie> kie;
    fs::path journal = dir.path / "journal.sqlite";
    fs::path out_dir = dir.path / "out";
    std::vector<std::string> batch;

    explicit crash_after_paid_post(kiemidi::emulator::emulator_options eo)
    {
        eo.faults.paid_answer_delay = 60s;
        kie = std::make_unique<external_kie>(dir.path, eo);
        auto list = dir.path / "tracks.csv";
        std::ofstream(list) << "music-crash,track-crash,crash\n";
        batch = std::vector<std::string>{"batch", list.string(), "-o", out_dir.string(), "--journal", journal.string(),
                                         "--concurrency", "1", "--listen-port", std::to_string(free_port()),
                                         "--poll-interval-ms", "50"} +
                kie->flags();
    }

    /// Runs the batch until the separation is charged, then kill -9.
    void crash()
    {
        cli_process child(batch, dir.path / "crashed.log");
        BOOST_TEST_REQUIRE(wait_for_paid_separations(*kie->server, 1, 30s), read_file(dir.path / "crashed.log"));
        child.kill_hard();
        // Later answers come at once: the rerun must not be able to learn anything from them.
        auto f = kie->server->faults();
        f.paid_answer_delay = 0ms;
        kie->server->set_faults(f);
        std::string status;
        BOOST_TEST(run_cli({"status", journal.string()}, dir.path, status) == 0, status);
        BOOST_TEST(status.find("separation_intent: 1") != std::string::npos, status);
    }
};

BOOST_AUTO_TEST_CASE(batch_killed_between_a_paid_post_and_its_journal_write_finds_the_task_by_its_callback)
{
    kiemidi::emulator::emulator_options eo;
    // The separation's callback comes after the rerun is listening again (and is retried).
    eo.separation_delay = 2500ms;
    eo.midi_delay = 100ms;
    eo.callback_retry_delay = 1000ms;
    crash_after_paid_post t(eo);
    t.crash();

    std::string out;
    const int code = run_cli(t.batch, t.dir.path, out, 90s);
    BOOST_TEST_REQUIRE(code == 0, out);
    BOOST_TEST(out.find("1 found by their callback") != std::string::npos, out);
    BOOST_TEST(is_midi_file(t.out_dir / "crash.mid"));
    const auto c = t.kie->server->snapshot();
    BOOST_TEST(c.requests_to("POST /api/v1/vocal-removal/generate") == 1u);
    BOOST_TEST(c.requests_to("POST /api/v1/midi/generate") == 1u);
    BOOST_TEST_REQUIRE(c.separation_submissions.size() == 1u);
    BOOST_TEST(c.separation_submissions.begin()->second == 1u);
    BOOST_TEST_REQUIRE(c.midi_submissions.size() == 1u);
    BOOST_TEST(c.midi_submissions.begin()->second == 1u);
    BOOST_TEST(c.duplicate_paid_submissions() == 0u);
    std::string status;
    BOOST_TEST(run_cli({"status", t.journal.string()}, t.dir.path, status) == 0, status);
    BOOST_TEST(status.find("done: 1") != std::string::npos, status);
}

BOOST_AUTO_TEST_CASE(batch_killed_between_a_paid_post_and_its_journal_write_without_a_callback_reports_outcome_unknown)
{
    kiemidi::emulator::emulator_options eo;
    eo.separation_delay = 100ms;
    eo.faults.callback_drop_rate = 1.0;  // the only witness of the task never comes
    crash_after_paid_post t(eo);
    t.crash();

    std::string out;
    const int code = run_cli(t.batch + std::vector<std::string>{"--lost-answer-wait-ms", "1500"}, t.dir.path, out, 90s);
    BOOST_TEST(code == 3, out);
    std::string status;
    BOOST_TEST(run_cli({"status", t.journal.string()}, t.dir.path, status) == 3, status);
    BOOST_TEST(status.find("outcome_unknown: 1") != std::string::npos, status);
    // Not paid again, and nothing else was paid for it.
    const auto c = t.kie->server->snapshot();
    BOOST_TEST(c.requests_to("POST /api/v1/vocal-removal/generate") == 1u);
    BOOST_TEST(c.requests_to("POST /api/v1/midi/generate") == 0u);
    BOOST_TEST(c.duplicate_paid_submissions() == 0u);
}

BOOST_AUTO_TEST_SUITE_END()

#endif
