// `kiemidi batch` end to end: track lists and the report, a batch killed and run again, paid
// answers KIE took but lost, credits running out and KIE's rate limit.
// The executable runs as a child process (tests/common/cli_fixture.hpp) against an emulator on
// 127.0.0.1, waited for with a deadline and killed by its guard if still running.
#ifdef KIEMIDI_CLI_PATH  // only when the kiemidi executable is built
#include "common/cli_fixture.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <csignal>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace fs = std::filesystem;
using namespace kiemidi::test;
using namespace std::chrono_literals;

namespace {

/// Emulator options for a KIE whose separations take `separation` and MIDI tasks `midi`.
kiemidi::emulator::emulator_options slow_kie(std::chrono::milliseconds separation, std::chrono::milliseconds midi)
{
    kiemidi::emulator::emulator_options eo;
    eo.separation_delay = separation;
    eo.midi_delay = midi;
    return eo;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(cli_batch)

BOOST_AUTO_TEST_CASE(batch_with_a_bad_row_runs_the_rest_and_exits_ten)
{
    cli_temp_dir dir;
    auto list = dir.path / "tracks.csv";
    std::ofstream(list) << "task_id,audio_id,name\n"
                           "music-1,track-1,first\n"
                           "this row has one field\n"
                           "music-2,track-2,\"second, live\"\n"
                           "music-3,track-3\n";
    std::string out;
    int code = run_cli({"batch", list.string(), "-o", (dir.path / "out").string(), "--concurrency", "2"}, dir.path, out);
    BOOST_TEST(code == 10, out);
    BOOST_TEST(out.find("tracks.csv:3:") != std::string::npos, out);
    BOOST_TEST(is_midi_file(dir.path / "out" / "first.mid"), out);
    BOOST_TEST(is_midi_file(dir.path / "out" / "second, live.mid"), out);
    BOOST_TEST(is_midi_file(dir.path / "out" / "music-3_track-3.mid"), out);
    BOOST_TEST(fs::exists(dir.path / "out" / "first.json"));

    // status reads the journal the batch left behind.
    BOOST_TEST(run_cli({"status", (dir.path / "out" / "kiemidi-journal.sqlite").string()}, dir.path, out) == 0, out);
    BOOST_TEST(out.find("done: 3") != std::string::npos, out);
}

std::size_t occurrences(const std::string& s, const std::string& what)
{
    std::size_t n = 0;
    for (auto p = s.find(what); p != std::string::npos; p = s.find(what, p + what.size())) ++n;
    return n;
}

BOOST_AUTO_TEST_CASE(batch_and_report_write_piano_rolls_and_one_index_row_per_track)
{
    cli_temp_dir dir;
    const auto out_dir = dir.path / "out";
    auto list = dir.path / "tracks.csv";
    std::ofstream(list) << "music-1,track-1,first song\n"
                           "bad id!,track-2,broken\n"
                           "music-3,track-3,<third> & last\n";
    std::string out;
    // The end of every batch writes the report (the rejected row makes it exit 1).
    BOOST_TEST(run_cli({"batch", list.string(), "-o", out_dir.string(), "--concurrency", "2"}, dir.path, out) == 1, out);
    BOOST_TEST(out.find("report: " + (out_dir / "index.html").string()) != std::string::npos, out);
    BOOST_TEST(fs::exists(out_dir / "index.html"));

    // `kiemidi report DIR` writes it again from the journal and the result files, plus a
    // `kiemidi run` result that is in no journal.
    BOOST_TEST(run_cli({"run", "music-9", "track-9", "-o", out_dir.string(), "--name", "solo"}, dir.path, out) == 0, out);
    BOOST_TEST(fs::exists(out_dir / "solo.svg"), out);
    fs::remove(out_dir / "index.html");
    fs::remove(out_dir / "first song.svg");
    BOOST_TEST(run_cli({"report", out_dir.string()}, dir.path, out) == 0, out);
    BOOST_TEST(out.find("index.html: 4 tracks") != std::string::npos, out);
    const auto html = read_file(out_dir / "index.html");
    BOOST_TEST(occurrences(html, "<tbody class=\"track") == 4u);
    BOOST_TEST(occurrences(html, "<tbody class=\"track state-done\"") == 3u);
    BOOST_TEST(occurrences(html, "<tbody class=\"track state-failed\"") == 1u);
    BOOST_TEST(occurrences(html, "<svg") == 3u);  // one inline roll per result
    for (const std::string name : {"first song", "<third> & last", "solo"})
    {
        // Every result has its links and a piano roll next to its .mid with one rect per note.
        const auto href = [&](const std::string& ext) {
            std::string enc;
            for (char c : name + ext)
                enc += c == ' ' ? std::string("%20") : c == '<' ? std::string("%3C") : c == '>' ? std::string("%3E")
                     : c == '&' ? std::string("%26") : std::string(1, c);
            return "href=\"" + enc + "\"";
        };
        for (const std::string ext : {".mid", ".json", ".svg"})
            BOOST_TEST(html.find(href(ext)) != std::string::npos, name << ext);
        const auto svg = read_file(out_dir / (name + ".svg"));
        const auto json = read_file(out_dir / (name + ".json"));
        BOOST_TEST(svg.starts_with("<svg"), name);
        BOOST_TEST(occurrences(svg, "class=\"note\"") == occurrences(json, "\"pitch\""), name);
        BOOST_TEST(occurrences(json, "\"pitch\"") > 0u, name);
    }
    BOOST_TEST(html.find("&lt;third&gt; &amp; last") != std::string::npos);
    // The failed track: KIE's message and what to do.
    BOOST_TEST(html.find("taskId is invalid") != std::string::npos, html.substr(0, 3000));
    BOOST_TEST(html.find("kiemidi run &#39;bad id!&#39; track-2 --name broken") != std::string::npos);
    BOOST_TEST(html.find("src=") == std::string::npos);  // no external asset

    BOOST_TEST(run_cli({"report", (dir.path / "missing").string()}, dir.path, out) == 2, out);
}

BOOST_AUTO_TEST_CASE(batch_of_good_json_lines_exits_zero_and_a_missing_list_exits_two)
{
    cli_temp_dir dir;
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

BOOST_AUTO_TEST_CASE(batch_killed_repeatedly_finishes_every_track_without_paying_twice, *boost::unit_test::label("slow"))
{
    cli_env t(slow_kie(300ms, 300ms));
    auto& [dir, kie, out] = t;
    constexpr int tracks = 60;
    const auto out_dir = t.out_dir();
    const auto journal = t.journal();
    const auto batch = t.journaled_batch(tracks, {"--concurrency", "8", "--poll-only", "--poll-interval-ms", "50"});
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

/// A batch a test kills (kill -9) and runs again: its directory and KIE, its journal and output
/// directory, and its `kiemidi batch` arguments.
struct killed_batch
{
    cli_temp_dir dir;
    std::unique_ptr<external_kie> kie;
    fs::path journal = dir.path / "journal.sqlite";
    fs::path out_dir = dir.path / "out";
    std::vector<std::string> batch;
};

/// One track; the batch is killed after KIE charged its separation and before the answer came
/// (the emulator holds paid answers back), so the journal has only the intent and its reference.
struct crash_after_paid_post : killed_batch
{
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
    check_paid(c, 1u, 0u);
}

BOOST_AUTO_TEST_CASE(run_goes_on_when_kie_took_both_paid_posts_but_a_gateway_answered_html_502)
{
    kiemidi::emulator::emulator_options eo;
    eo.faults.processed_then_html_502_rate = 1.0;  // processed and charged; the answer is a gateway's page
    cli_env t(eo);
    auto& [dir, kie, out] = t;
    int code = t.run({"run", "music-502", "track-502", "-o", dir.path.string(), "--name", "gw", "--listen-port",
                      std::to_string(free_port())});
    BOOST_TEST_REQUIRE(code == 0, out);
    BOOST_TEST(is_midi_file(dir.path / "gw.mid"));
    const auto c = kie.server->snapshot();
    check_paid(c, 1u, 1u);
    BOOST_TEST(c.garbled_after_processing == 2u);
}

BOOST_AUTO_TEST_CASE(batch_goes_on_when_kie_took_the_paid_posts_but_answered_its_json_500)
{
    kiemidi::emulator::emulator_options eo;
    eo.faults.processed_then_json_500_rate = 1.0;  // processed and charged; KIE's answer says "server error"
    cli_env t(eo);
    auto& [dir, kie, out] = t;
    auto list = dir.path / "tracks.csv";
    std::ofstream(list) << "music-500,track-500,five-hundred\n";
    const int code =
        t.run({"batch", list.string(), "-o", (dir.path / "out").string(), "--listen-port", std::to_string(free_port())});
    BOOST_TEST_REQUIRE(code == 0, out);
    BOOST_TEST(out.find("2 found by their callback") != std::string::npos, out);
    BOOST_TEST(is_midi_file(dir.path / "out" / "five-hundred.mid"));
    const auto c = kie.server->snapshot();
    check_paid(c, 1u, 1u);
}

BOOST_AUTO_TEST_CASE(batch_out_of_credits_exits_five_says_how_many_did_not_start_and_a_rerun_resumes_them)
{
    kiemidi::emulator::emulator_options eo;
    eo.initial_credits = 40;  // two tracks: 10 per separation, 10 per MIDI
    eo.insufficient_credits_code = 429;
    eo.error_http_status_mirrors_code = true;
    cli_env t(eo);
    auto& [dir, kie, out] = t;
    auto list = dir.path / "tracks.csv";
    std::ofstream(list) << "music-c1,track-c1,c1\nmusic-c2,track-c2,c2\nmusic-c3,track-c3,c3\n"
                           "music-c4,track-c4,c4\nmusic-c5,track-c5,c5\n";
    const auto journal = dir.path / "journal.sqlite";
    const auto batch = std::vector<std::string>{"batch", list.string(), "-o", (dir.path / "out").string(), "--journal",
                                                journal.string(), "--concurrency", "1", "--listen-port",
                                                std::to_string(free_port())} +
                       kie.flags();
    BOOST_TEST_REQUIRE(run_cli(batch, dir.path, out) == 5, out);
    BOOST_TEST(out.find("out of credits") != std::string::npos, out);
    BOOST_TEST(out.find("3 track(s) did not start") != std::string::npos, out);
    BOOST_TEST(out.find("run the same command again") != std::string::npos, out);
    BOOST_TEST(is_midi_file(dir.path / "out" / "c1.mid"));
    BOOST_TEST(is_midi_file(dir.path / "out" / "c2.mid"));
    std::string status;
    BOOST_TEST(run_cli({"status", journal.string()}, dir.path, status) == 0, status);
    BOOST_TEST(status.find("pending: 3") != std::string::npos, status);
    BOOST_TEST(status.find("failed: 0") != std::string::npos, status);

    kie.server->set_credits(1000);  // the top-up
    BOOST_TEST_REQUIRE(run_cli(batch, dir.path, out) == 0, out);
    for (const char* name : {"c3", "c4", "c5"}) BOOST_TEST(is_midi_file(dir.path / "out" / (std::string(name) + ".mid")), name);
    const auto c = kie.server->snapshot();
    BOOST_TEST(c.separation_submissions.size() == 5u);
    BOOST_TEST(c.midi_submissions.size() == 5u);
    BOOST_TEST(c.duplicate_paid_submissions() == 0u);
}

/// A batch of 8 tracks (16 paid POSTs: under the client's submission rate limit, so all are sent
/// at once), killed (kill -9) while its MIDI tasks run.
/// The listener port is not given, so the batch picks one and remembers it next to its secret.
struct killed_while_tasks_run : killed_batch
{
    static constexpr int tracks = 8;

    killed_while_tasks_run()
    {
        auto eo = slow_kie(1000ms, 3000ms);
        eo.callback_retry_delay = 100ms;  // a callback to the dead listener is given up within a second
        kie = std::make_unique<external_kie>(dir.path, eo);
        const auto list = write_track_list(dir.path, tracks);
        // The CLI's own callback_overdue for a KIE that is not embedded (90 s) stays in force.
        batch = std::vector<std::string>{"batch", list.string(), "-o", out_dir.string(), "--journal", journal.string(),
                                         "--concurrency", "8"} +
                kie->flags();
    }

    /// Kills the batch once every MIDI task is submitted (their callbacks then go to a dead
    /// listener), and waits until those tasks have finished.
    void kill_during_midi()
    {
        cli_process child(batch, dir.path / "killed.log");
        const auto until = std::chrono::steady_clock::now() + 30s;
        while (kie->server->snapshot().requests_to("POST /api/v1/midi/generate") < static_cast<std::size_t>(tracks) &&
               std::chrono::steady_clock::now() < until)
            std::this_thread::sleep_for(10ms);
        // Long enough for the answers to be journaled, well before the 3 s MIDI tasks finish.
        std::this_thread::sleep_for(300ms);
        child.kill_hard();
        BOOST_TEST_REQUIRE(kie->server->snapshot().requests_to("POST /api/v1/midi/generate") == static_cast<std::size_t>(tracks),
                           read_file(dir.path / "killed.log"));
    }

    /// The port the killed run listened on, from `<journal>.callback-secret`.
    std::uint16_t remembered_port() const
    {
        std::ifstream in(journal.string() + ".callback-secret");
        std::string secret;
        unsigned port = 0;
        in >> secret >> port;
        return static_cast<std::uint16_t>(port);
    }

    void expect_every_track_done_and_paid_once(const std::string& out) const
    {
        const auto c = kie->server->snapshot();
        check_paid(c, static_cast<std::size_t>(tracks), static_cast<std::size_t>(tracks));
        for (int i = 0; i < tracks; ++i)
            BOOST_TEST(is_midi_file(out_dir / ("song-" + std::to_string(i) + ".mid")), "song-" << i << "\n" << out);
    }
};

// A rerun listens on the killed run's port: callbacks of tasks still running reach it, tasks that
// finished meanwhile are read once. Before, the rerun took a new port and waited callback_overdue
// (90 s) for callbacks sent to the old one; the time limit below is well under that.
BOOST_AUTO_TEST_CASE(a_rerun_after_kill_listens_on_the_same_port_and_finishes_without_waiting_for_overdue_callbacks)
{
    killed_while_tasks_run t;
    t.kill_during_midi();
    const auto port = t.remembered_port();
    BOOST_TEST_REQUIRE(port != 0);

    std::string out;
    const int code = run_cli(t.batch, t.dir.path, out, 45s);
    BOOST_TEST_MESSAGE(out);
    BOOST_TEST_REQUIRE(code == 0, out);
    BOOST_TEST(out.find("8 resumed") != std::string::npos, out);
    BOOST_TEST(t.remembered_port() == port);
    t.expect_every_track_done_and_paid_once(out);
}

// 20 tracks: the 20 separations use the account's window, so the 20 MIDI POSTs wait in the
// client's rate limiter when the batch is killed. Their intents are journaled only once a POST is
// admitted, so the rerun finds them separated, not "sent, answer unknown" (exit 3 before).
BOOST_AUTO_TEST_CASE(a_batch_killed_while_posts_wait_for_the_rate_limiter_resumes_them_without_unknown_outcomes)
{
    cli_env t(slow_kie(1000ms, 1000ms));
    auto& [dir, kie, out] = t;
    constexpr int tracks = 20;
    const auto journal = t.journal();
    const auto batch = t.journaled_batch(tracks, {"--concurrency", "20"});
    {
        cli_process child(batch, dir.path / "killed.log");
        BOOST_TEST_REQUIRE(wait_for_paid_separations(*kie.server, tracks, 30s), read_file(dir.path / "killed.log"));
        std::this_thread::sleep_for(1500ms);  // the separations finish; their MIDI POSTs queue for the next window
        child.kill_hard();
    }
    BOOST_TEST_REQUIRE(kie.server->snapshot().requests_to("POST /api/v1/midi/generate") == 0u);
    std::string status;
    BOOST_TEST(run_cli({"status", journal.string()}, dir.path, status) == 0, status);
    BOOST_TEST(status.find("midi_intent: 0") != std::string::npos, status);

    const int code = run_cli(batch, dir.path, out, 60s);
    BOOST_TEST_REQUIRE(code == 0, out);
    const auto c = kie.server->snapshot();
    check_paid(c, static_cast<std::size_t>(tracks), static_cast<std::size_t>(tracks));
}

// More paid POSTs than one window of KIE's limit admits: while they wait for the rate limiter the
// batch says so, and with its output in a pipe (not a terminal) only as plain lines.
BOOST_AUTO_TEST_CASE(a_batch_held_back_by_the_rate_limit_says_so_in_plain_lines)
{
    auto eo = slow_kie(300ms, 300ms);
    eo.rate_limit_per_10s = 20;  // KIE's documented limit, which the client assumes too
    cli_env t(eo);
    auto& [dir, kie, out] = t;
    constexpr int tracks = 12;  // 24 paid POSTs: the last ones wait for the next window
    const auto list = write_track_list(dir.path, tracks);
    const int code = t.run({"batch", list.string(), "-o", (dir.path / "out").string(), "--concurrency", "12"}, 60s);
    BOOST_TEST_REQUIRE(code == 0, out);
    const std::string said = "waiting for KIE's rate limit: ";
    BOOST_TEST((out.starts_with(said) || out.find("\n" + said) != std::string::npos), out);  // a line of its own
    BOOST_TEST(out.find('\x1b') == std::string::npos, out);
    BOOST_TEST(out.find('\r') == std::string::npos, out);
    for (int i = 0; i < tracks; ++i) BOOST_TEST(is_midi_file(dir.path / "out" / ("song-" + std::to_string(i) + ".mid")));
    const auto c = kie.server->snapshot();
    BOOST_TEST(c.requests_to("POST /api/v1/midi/generate") == static_cast<std::size_t>(tracks));  // none throttled
}

// The killed run's port is taken by something else: the rerun listens elsewhere, says so, and
// polls its resumed tasks rather than waiting for callbacks that go to the other program.
BOOST_AUTO_TEST_CASE(a_rerun_whose_earlier_port_is_taken_polls_its_resumed_tasks)
{
    killed_while_tasks_run t;
    t.kill_during_midi();
    const auto port = t.remembered_port();
    BOOST_TEST_REQUIRE(port != 0);
    boost::asio::io_context ioc;
    boost::asio::ip::tcp::acceptor squatter(ioc);
    squatter.open(boost::asio::ip::tcp::v4());
    squatter.set_option(boost::asio::socket_base::reuse_address(true));  // the killed run's connections may linger
    squatter.bind({boost::asio::ip::make_address("127.0.0.1"), port});
    squatter.listen();

    std::string out;
    const int code = run_cli(t.batch, t.dir.path, out, 45s);
    BOOST_TEST_REQUIRE(code == 0, out);
    BOOST_TEST(out.find("port " + std::to_string(port) + " is taken; resumed tasks are polled") != std::string::npos, out);
    BOOST_TEST(t.remembered_port() != port);
    t.expect_every_track_done_and_paid_once(out);
}


BOOST_AUTO_TEST_CASE(sigterm_mid_batch_starts_no_new_paid_step_exits_143_with_a_summary_and_a_rerun_resumes)
{
    cli_env t(slow_kie(900ms, 900ms));
    auto& [dir, kie, out] = t;
    const int tracks = 10;
    const auto args = t.journaled_batch(tracks, {"--concurrency", "2", "--poll-interval-ms", "50"});
    const auto log = dir.path / "stopped.log";
    cli_process batch(args, log);
    auto posts = [&] {
        const auto c = kie.server->snapshot();
        return std::pair{c.requests_to("POST /api/v1/vocal-removal/generate"), c.requests_to("POST /api/v1/midi/generate")};
    };
    const auto give_up = std::chrono::steady_clock::now() + 30s;
    while (posts().first < 3)
    {
        BOOST_TEST_REQUIRE((std::chrono::steady_clock::now() < give_up), "the batch never got going:\n" << read_file(log));
        std::this_thread::sleep_for(10ms);
    }
    const auto at_signal = posts();
    const auto signalled = std::chrono::steady_clock::now();
    batch.signal(SIGTERM);
    const auto code = batch.wait_for(40s);
    const auto text = read_file(log);
    BOOST_TEST_REQUIRE(code.has_value(), "the stop did not end the process:\n" << text);
    BOOST_TEST(*code == 143, text);
    BOOST_TEST((std::chrono::steady_clock::now() - signalled < 10s), text);
    BOOST_TEST(text.find("stopped by SIGTERM") != std::string::npos, text);
    // At most the two tracks in flight had a POST under way; no track started after the signal.
    const auto at_exit = posts();
    BOOST_TEST(at_exit.first <= at_signal.first + 2, text);
    BOOST_TEST(at_exit.second <= at_signal.second + 2, text);
    BOOST_TEST(at_exit.first < static_cast<std::size_t>(tracks), text);
    BOOST_TEST(kie.server->snapshot().duplicate_paid_submissions() == 0u);

    // The same command resumes: every track done, nothing paid twice.
    BOOST_TEST(run_cli(args, dir.path, out) == 0, out);
    check_paid(kie.server->snapshot(), tracks, tracks);
    for (int i = 0; i < tracks; ++i) BOOST_TEST(is_midi_file(t.out_dir() / ("song-" + std::to_string(i) + ".mid")));
}

BOOST_AUTO_TEST_CASE(a_second_signal_stops_at_once_while_a_paid_answer_is_awaited)
{
    auto eo = slow_kie(200ms, 200ms);
    eo.faults.paid_answer_delay = 20s;  // the first stop waits for KIE's answer to a paid POST
    cli_env t(eo);
    auto& [dir, kie, out] = t;
    const auto args = t.journaled_batch(3, {"--concurrency", "1", "--poll-interval-ms", "50"});
    const auto log = dir.path / "stopped.log";
    cli_process batch(args, log);
    const auto give_up = std::chrono::steady_clock::now() + 30s;
    while (kie.server->snapshot().requests_to("POST /api/v1/vocal-removal/generate") < 1)
    {
        BOOST_TEST_REQUIRE((std::chrono::steady_clock::now() < give_up), "no paid POST:\n" << read_file(log));
        std::this_thread::sleep_for(10ms);
    }
    std::this_thread::sleep_for(200ms);
    batch.signal(SIGTERM);
    std::this_thread::sleep_for(300ms);
    BOOST_TEST_REQUIRE(!batch.wait_for(0ms).has_value(), "the first stop did not wait for the paid answer");
    const auto second = std::chrono::steady_clock::now();
    batch.signal(SIGINT);
    const auto code = batch.wait_for(5s);
    const auto text = read_file(log);
    BOOST_TEST_REQUIRE(code.has_value(), "a second signal did not stop it at once:\n" << text);
    BOOST_TEST(*code == 130, text);
    BOOST_TEST((std::chrono::steady_clock::now() - second < 3s), text);
    BOOST_TEST(text.find("a second signal (SIGINT): stopping at once") != std::string::npos, text);
    BOOST_TEST(kie.server->snapshot().requests_to("POST /api/v1/vocal-removal/generate") == 1u);
}

BOOST_AUTO_TEST_SUITE_END()

#endif
