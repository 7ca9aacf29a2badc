// The `kiemidi` executable end to end: run as a child process against the embedded emulator or
// an emulator in this test process (127.0.0.1 only). Every child is waited for with a deadline
// and killed by its guard if it is still running.
#ifdef KIEMIDI_CLI_PATH  // only when the kiemidi executable is built
#include <kiemidi/client.hpp>
#include <kiemidi/emulator.hpp>

#include "common/child_process.hpp"
#include "common/temp_dir.hpp"
#include "common/test_http_server.hpp"
#include "nothrow_awaitable.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>
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

#include <sqlite3.h>
#include <unistd.h>

namespace asio = boost::asio;
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
    /// Options for a library client of this KIE (over HTTP).
    kiemidi::client_options client_options() const
    {
        kiemidi::client_options co;
        co.base_url = server->http_base_url();
        co.api_key = server->api_key();
        return co;
    }
};

/// `dir`/tracks.csv with `n` rows "music-I,track-I,song-I"; the output of row I is "song-I".
fs::path write_track_list(const fs::path& dir, int n)
{
    auto list = dir / "tracks.csv";
    std::ofstream l(list);
    for (int i = 0; i < n; ++i) l << "music-" << i << ",track-" << i << ",song-" << i << "\n";
    return list;
}

std::vector<std::string> operator+(std::vector<std::string> a, const std::vector<std::string>& b)
{
    a.insert(a.end(), b.begin(), b.end());
    return a;
}

/// Emulator options for a KIE whose separations take `separation` and MIDI tasks `midi`.
kiemidi::emulator::emulator_options slow_kie(std::chrono::milliseconds separation, std::chrono::milliseconds midi)
{
    kiemidi::emulator::emulator_options eo;
    eo.separation_delay = separation;
    eo.midi_delay = midi;
    return eo;
}

/// A test's directory and an emulator in this process, and the output of the last CLI run
/// against it. Tests name the parts: `auto& [dir, kie, out] = t;`.
struct cli_env
{
    temp_dir dir;
    external_kie kie;
    std::string out;

    explicit cli_env(kiemidi::emulator::emulator_options eo = {}) : kie(dir.path, std::move(eo)) {}

    /// Runs the CLI with `args` and the flags that point it at `kie`; returns its exit code.
    int run(const std::vector<std::string>& args, std::chrono::milliseconds limit = 60s)
    {
        return run_cli(args + kie.flags(), dir.path, out, limit);
    }

    fs::path journal() const { return dir.path / "journal.sqlite"; }
    fs::path out_dir() const { return dir.path / "out"; }

    /// `kiemidi batch` of `dir`/tracks.csv with `tracks` rows (write_track_list) into out_dir(),
    /// journaled in journal(), with the flags `extra` and those that point it at `kie`.
    std::vector<std::string> journaled_batch(int tracks, const std::vector<std::string>& extra) const
    {
        const auto list = write_track_list(dir.path, tracks);
        return std::vector<std::string>{"batch", list.string(), "-o", out_dir().string(), "--journal", journal().string()} +
               extra + kie.flags();
    }
};

/// KIE was paid `separations` separation POSTs and `midis` MIDI POSTs, none of them twice.
void check_paid(const kiemidi::emulator::counters& c, std::size_t separations, std::size_t midis)
{
    BOOST_TEST(c.requests_to("POST /api/v1/vocal-removal/generate") == separations);
    BOOST_TEST(c.requests_to("POST /api/v1/midi/generate") == midis);
    BOOST_TEST(c.duplicate_paid_submissions() == 0u);
}

/// A separation made outside the CLI (as in KIE's web app or another tool): submitted straight
/// to `kie` through the library; with `finished`, polled until KIE says it succeeded. Returns its task id.
std::string separate_elsewhere(const external_kie& kie, const std::string& audio, kiemidi::api::separation_type type,
                               bool finished)
{
    asio::io_context ioc;
    kiemidi::client c(ioc.get_executor(), kie.client_options());
    std::string id;
    std::string failure;
    asio::co_spawn(ioc, [&]() -> asio::awaitable<void> {
        kiemidi::diagnostics diag;
        kiemidi::api::separation_request req{.task_id = "music-" + audio, .audio_id = audio, .type = type, .callback_url = {}};
        auto [ec, created] = co_await c.async_submit_separation(req, diag, kiemidi::use_nothrow_awaitable);
        if (ec) failure = "separation POST: " + diag.to_string();
        id = created.task_id;
        if (!ec && finished)
        {
            kiemidi::wait_options w;
            w.strategy = kiemidi::wait_strategy::polling;
            w.poll_interval = 20ms;
            w.max_poll_interval = 50ms;
            auto [wec, rec] = co_await c.async_wait_separation(id, w, diag, kiemidi::use_nothrow_awaitable);
            if (wec) failure = "separation wait: " + diag.to_string();
        }
        c.close();
    }, asio::detached);
    ioc.run_for(20s);
    BOOST_TEST_REQUIRE(failure.empty(), failure);
    BOOST_TEST_REQUIRE(!id.empty());
    return id;
}

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

/// A KIE whose separations stay PENDING for the whole test, holding one made elsewhere
/// (`pending`); `credits` is what was left after it.
struct with_pending_separation : cli_env
{
    std::string pending;
    std::int64_t credits = 0;

    static kiemidi::emulator::emulator_options pending_forever()
    {
        kiemidi::emulator::emulator_options eo;
        eo.separation_delay = 60s;
        return eo;
    }

    with_pending_separation() : cli_env(pending_forever())
    {
        pending = separate_elsewhere(kie, "track-p", kiemidi::api::separation_type::separate_vocal, false);
        credits = kie.server->snapshot().credits;
    }

    /// Nothing was paid after the separation made elsewhere.
    void expect_nothing_more_paid() const
    {
        const auto c = kie.server->snapshot();
        BOOST_TEST(c.requests_to("POST /api/v1/midi/generate") == 0u);
        BOOST_TEST(c.requests_to("POST /api/v1/vocal-removal/generate") == 1u);  // only the one made elsewhere
        BOOST_TEST(c.credits == credits);
    }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(cli)

BOOST_AUTO_TEST_CASE(every_command_has_help_that_exits_zero)
{
    temp_dir dir;
    std::string out;
    BOOST_TEST(run_cli({"--help"}, dir.path, out) == 0);
    BOOST_TEST(out.find("exit codes") != std::string::npos);
    for (std::string cmd : {"run", "midi", "tracks", "batch", "status", "report", "credits", "emulator"})
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
    cli_env t;
    auto& [dir, kie, out] = t;
    int code = t.run({"run", "music-2", "track-2", "-o", dir.path.string(), "--poll-only", "--poll-interval-ms", "20"});
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

std::size_t occurrences(const std::string& s, const std::string& what)
{
    std::size_t n = 0;
    for (auto p = s.find(what); p != std::string::npos; p = s.find(what, p + what.size())) ++n;
    return n;
}

BOOST_AUTO_TEST_CASE(batch_and_report_write_piano_rolls_and_one_index_row_per_track)
{
    temp_dir dir;
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

/// A batch a test kills (kill -9) and runs again: its directory and KIE, its journal and output
/// directory, and its `kiemidi batch` arguments.
struct killed_batch
{
    temp_dir dir;
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

BOOST_AUTO_TEST_SUITE_END()

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
    temp_dir dir;
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
    BOOST_TEST(cli::printed_notes(out) == long(count_of(kie.server->midi_notes_json(midi_task), "\"pitch\"")), out);
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
        {"midi", sep, "--name", "gw", "-o", dir.path.string(), "--listen-port", std::to_string(cli_batch::free_port())});
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

// Per-row choices in a track list: a row's own separation type and stem, and a row naming a
// separation finished earlier (no separation paid for it).
BOOST_AUTO_TEST_SUITE(cli_batch_choices)

/// The audio id of the stem named `name` in separation `sep`, read from KIE's record.
std::string stem_id_of(const external_kie& kie, const std::string& sep, const std::string& name)
{
    asio::io_context ioc;
    kiemidi::client c(ioc.get_executor(), kie.client_options());
    std::string id;
    asio::co_spawn(ioc, [&]() -> asio::awaitable<void> {
        kiemidi::diagnostics diag;
        auto [ec, rec] = co_await c.async_get_separation(sep, diag, asio::as_tuple(asio::use_awaitable));
        if (!ec)
            if (const auto* s = kiemidi::api::find_stem(rec.origin_data, name)) id = s->id;
        c.close();
    }, asio::detached);
    ioc.run_for(20s);
    return id;
}

/// The string value of `"key":"..."` in a result .json ("" when absent).
std::string json_field(const std::string& json, const std::string& key)
{
    const auto at = json.find("\"" + key + "\":\"");
    if (at == std::string::npos) return {};
    const auto begin = at + key.size() + 4;
    return json.substr(begin, json.find('"', begin) - begin);
}

BOOST_AUTO_TEST_CASE(batch_runs_a_row_s_own_type_and_stem_and_a_separation_row_with_one_paid_post_and_resumes_without_paying)
{
    cli_env t;
    auto& [dir, kie, out] = t;
    const auto sep = separate_elsewhere(kie, "track-s", kiemidi::api::separation_type::separate_vocal, true);
    const auto list = dir.path / "tracks.csv";
    std::ofstream(list) << "task_id,audio_id,name,type,stem,separation_task_id\n"
                           "music-1,track-1,plain,,,\n"
                           "music-2,track-2,bass,split_stem,bAsS,\n"
                           ",,,,," << sep << "\n";
    const auto out_dir = dir.path / "out";
    const auto batch = std::vector<std::string>{"batch", list.string(), "-o", out_dir.string()} + kie.flags();
    BOOST_TEST_REQUIRE(run_cli(batch, dir.path, out) == 0, out);
    for (const std::string& name : std::vector<std::string>{"plain", "bass", sep})  // a separation row is named after its separation
        BOOST_TEST(is_midi_file(out_dir / (name + ".mid")), name << "\n" << out);

    auto c = kie.server->snapshot();
    // Two separations paid by the batch (the separation row made none), three MIDI POSTs, each once.
    BOOST_TEST(c.requests_to("POST /api/v1/vocal-removal/generate") == 3u);  // the one made elsewhere included
    BOOST_TEST(c.separation_submissions.count({"music-1", "track-1"}) == 1u);
    BOOST_TEST(c.separation_submissions.count({"music-2", "track-2"}) == 1u);
    BOOST_TEST(c.requests_to("POST /api/v1/midi/generate") == 3u);
    BOOST_TEST(c.midi_submissions.count({sep, ""}) == 1u);  // all stems of the given separation
    BOOST_TEST(c.duplicate_paid_submissions() == 0u);

    // The split_stem row's MIDI came from its Bass stem: the .json says so, and KIE was asked for that stem's id.
    const auto bass_json = read_file(out_dir / "bass.json");
    BOOST_TEST(json_field(bass_json, "stem") == "Bass", bass_json);
    const auto bass_sep = json_field(bass_json, "separation_task_id");
    BOOST_TEST_REQUIRE(!bass_sep.empty(), bass_json);
    const auto bass_id = stem_id_of(kie, bass_sep, "Bass");  // only a split_stem separation has one
    BOOST_TEST_REQUIRE(!bass_id.empty());
    BOOST_TEST(c.midi_submissions.count({bass_sep, bass_id}) == 1u);
    BOOST_TEST(json_field(read_file(out_dir / "plain.json"), "stem").empty());  // the batch's default: all stems

    // The separation row's .json names its separation and its stems, and the report links them.
    const auto sep_json = read_file(out_dir / (sep + ".json"));
    BOOST_TEST(json_field(sep_json, "separation_task_id") == sep, sep_json);
    BOOST_TEST(sep_json.find("\"name\":\"Vocals\",\"url\":\"http") != std::string::npos, sep_json);
    const auto html = read_file(out_dir / "index.html");
    BOOST_TEST(html.find(">stem: Vocals</a>") != std::string::npos);
    BOOST_TEST(html.find(">stem: Bass</a>") != std::string::npos);

    // A rerun finds every row done and pays nothing.
    BOOST_TEST(run_cli(batch, dir.path, out) == 0, out);
    const auto again = kie.server->snapshot();
    BOOST_TEST(again.requests_to("POST /api/v1/vocal-removal/generate") == 3u);
    BOOST_TEST(again.requests_to("POST /api/v1/midi/generate") == 3u);
}

BOOST_AUTO_TEST_CASE(batch_wide_type_and_stem_apply_to_rows_without_their_own)
{
    cli_env t;
    auto& [dir, kie, out] = t;
    const auto list = dir.path / "tracks.jsonl";
    std::ofstream(list) << "{\"task_id\":\"music-1\",\"audio_id\":\"track-1\",\"name\":\"drums\"}\n"
                           "{\"task_id\":\"music-2\",\"audio_id\":\"track-2\",\"name\":\"voice\",\"type\":\"separate_vocal\",\"stem\":\"Vocals\"}\n";
    const int code = t.run({"batch", list.string(), "-o", dir.path.string(), "--type", "split_stem", "--stem", "Drums"});
    BOOST_TEST_REQUIRE(code == 0, out);
    BOOST_TEST(json_field(read_file(dir.path / "drums.json"), "stem") == "Drums");
    BOOST_TEST(json_field(read_file(dir.path / "voice.json"), "stem") == "Vocals");
    BOOST_TEST(kie.server->snapshot().duplicate_paid_submissions() == 0u);
    BOOST_TEST(run_cli({"batch", list.string(), "--type", "three_stems"}, dir.path, out) == 2, out);
}

BOOST_AUTO_TEST_CASE(batch_row_naming_an_unknown_or_unfinished_separation_fails_with_kie_s_message_and_costs_nothing)
{
    with_pending_separation t;
    auto& [dir, kie, out] = static_cast<cli_env&>(t);
    const auto& pending = t.pending;
    const auto list = dir.path / "tracks.csv";
    std::ofstream(list) << "separation_task_id,name\n"
                           "0123456789abcdef0123456789abcdef,unknown\n"
                        << pending << ",pending\n";
    BOOST_TEST(t.run({"batch", list.string(), "-o", dir.path.string()}) == 1, out);
    BOOST_TEST(out.find("KIE has no record for this task id") != std::string::npos, out);
    BOOST_TEST(out.find("has not finished (successFlag PENDING)") != std::string::npos, out);
    t.expect_nothing_more_paid();
    BOOST_TEST(!fs::exists(dir.path / "unknown.mid"));
    // The report says how to try such a row again: MIDI from that separation, not a new separation.
    const auto html = read_file(dir.path / "index.html");
    BOOST_TEST(html.find("kiemidi midi 0123456789abcdef0123456789abcdef --name unknown") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(journal_of_an_older_kiemidi_opens_and_its_tracks_resume)
{
    cli_env t;
    auto& [dir, kie, out] = t;
    const auto sep = separate_elsewhere(kie, "track-o", kiemidi::api::separation_type::separate_vocal, true);
    // A version 2 journal as the previous kiemidi wrote it, with one track left separating.
    const auto journal = dir.path / "old.sqlite";
    {
        sqlite3* db = nullptr;
        BOOST_TEST_REQUIRE(::sqlite3_open(journal.c_str(), &db) == SQLITE_OK);
        const std::string sql =
            "CREATE TABLE tracks ( id INTEGER PRIMARY KEY, task_id TEXT NOT NULL, audio_id TEXT NOT NULL, name TEXT NOT NULL,"
            " state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending','separation_intent','separating',"
            "'midi_intent','transcribing','done','failed','outcome_unknown')),"
            " separation_task_id TEXT NOT NULL DEFAULT '', midi_task_id TEXT NOT NULL DEFAULT '',"
            " error TEXT NOT NULL DEFAULT '', failed_stage TEXT NOT NULL DEFAULT '', attempts INTEGER NOT NULL DEFAULT 0,"
            " intent_ref TEXT NOT NULL DEFAULT '', created_ms INTEGER NOT NULL DEFAULT 0, updated_ms INTEGER NOT NULL DEFAULT 0,"
            " UNIQUE (task_id, audio_id, name));"
            "CREATE INDEX tracks_state ON tracks(state);"
            "INSERT INTO tracks (task_id, audio_id, name, state, separation_task_id, attempts) VALUES "
            "('music-track-o', 'track-o', 'old', 'separating', '" + sep + "', 1);"
            "PRAGMA user_version = 2;";
        BOOST_TEST_REQUIRE(::sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr) == SQLITE_OK, ::sqlite3_errmsg(db));
        ::sqlite3_close(db);
    }
    const auto list = dir.path / "tracks.csv";
    std::ofstream(list) << "task_id,audio_id,name,stem\n"
                           "music-track-o,track-o,old,\n"
                           "music-track-o,track-o,old,Vocals\n";  // the same song, one stem: a row of its own
    BOOST_TEST_REQUIRE(t.run({"batch", list.string(), "-o", dir.path.string(), "--journal", journal.string()}) == 0,
                       out);
    BOOST_TEST(is_midi_file(dir.path / "old.mid"), out);
    const auto c = kie.server->snapshot();
    // The old track went on from its recorded separation; the new row paid its own.
    BOOST_TEST(c.separation_submissions.at({"music-track-o", "track-o"}) == 2u);
    BOOST_TEST(c.midi_submissions.count({sep, ""}) == 1u);
    BOOST_TEST(c.requests_to("POST /api/v1/midi/generate") == 2u);
    BOOST_TEST(run_cli({"status", journal.string()}, dir.path, out) == 0, out);
    BOOST_TEST(out.find("done: 2") != std::string::npos, out);
}

BOOST_AUTO_TEST_SUITE_END()

#endif
