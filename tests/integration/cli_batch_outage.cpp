// `kiemidi batch` while KIE is down: a batch pauses through an outage window shorter than its
// outage budget (--outage-wait) and finishes every track, each paid once; a longer one stops it
// with exit 11, nothing failed, and a rerun once KIE is back completes it without paying twice.
// The executable runs as a child process (tests/common/cli_fixture.hpp) against an emulator on
// 127.0.0.1 whose outage window is counted from its start.
#ifdef KIEMIDI_CLI_PATH  // only when the kiemidi executable is built
#include "common/cli_fixture.hpp"

#include <boost/test/unit_test.hpp>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

using namespace kiemidi::test;
using namespace std::chrono_literals;

namespace {

constexpr int tracks = 12;

/// A KIE answering 455 (maintenance) to every API request from `start` for `length`, with tasks
/// slow enough that the window falls in the middle of the batch.
kiemidi::emulator::emulator_options kie_in_maintenance(std::chrono::milliseconds start, std::chrono::milliseconds length)
{
    kiemidi::emulator::emulator_options eo;
    eo.separation_delay = 1200ms;
    eo.midi_delay = 300ms;
    eo.outage.start = start;
    eo.outage.length = length;
    eo.outage.kind = kiemidi::emulator::outage_kind::maintenance;
    return eo;
}

void expect_every_track_done_and_paid_once(const cli_env& t, int n = tracks)
{
    const auto c = t.kie.server->snapshot();
    BOOST_TEST(c.separation_submissions.size() == static_cast<std::size_t>(n));
    BOOST_TEST(c.midi_submissions.size() == static_cast<std::size_t>(n));
    BOOST_TEST(c.duplicate_paid_submissions() == 0u);
    for (const auto& [key, paid] : c.separation_submissions) BOOST_TEST(paid == 1u, key.first);
    for (const auto& [key, paid] : c.midi_submissions) BOOST_TEST(paid == 1u, key.first);
    for (int i = 0; i < n; ++i)
        BOOST_TEST(is_midi_file(t.out_dir() / ("song-" + std::to_string(i) + ".mid")), "song-" << i << "\n" << t.out);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(cli_batch_outage)

// Before: the tracks that reached KIE during the window failed ("service under maintenance
// (after 6 attempts)") and the batch exited 1.
BOOST_AUTO_TEST_CASE(a_batch_pauses_through_a_maintenance_window_and_finishes_every_track_paid_once, *boost::unit_test::label("slow"))
{
    cli_env t(kie_in_maintenance(1500ms, 12000ms));  // longer than the transport's own retries ride out
    auto& [dir, kie, out] = t;
    const auto batch = t.journaled_batch(tracks, {"--concurrency", "6", "--outage-wait", "1min"});
    const int code = run_cli(batch, dir.path, out, 60s);
    BOOST_TEST(code == 0, out);
    BOOST_TEST(out.find("FAIL") == std::string::npos, out);
    BOOST_TEST(out.find("KIE unavailable (code 455, maintenance) since ") != std::string::npos, out);
    BOOST_TEST(out.find("KIE is available again") != std::string::npos, out);
    BOOST_TEST(kie.server->snapshot().outage_paid_refused >= 1u);  // the window did meet paid POSTs
    expect_every_track_done_and_paid_once(t);
}

BOOST_AUTO_TEST_CASE(an_outage_longer_than_the_budget_exits_eleven_with_nothing_failed_and_a_rerun_completes, *boost::unit_test::label("slow"))
{
    cli_env t(kie_in_maintenance(1500ms, 20000ms));
    auto& [dir, kie, out] = t;
    const auto batch = t.journaled_batch(tracks, {"--concurrency", "6", "--outage-wait", "1500ms", "--listen-port",
                                                  std::to_string(free_port())});
    const auto started = std::chrono::steady_clock::now();
    BOOST_TEST_REQUIRE(run_cli(batch, dir.path, out, 60s) == 11, out);
    BOOST_TEST(out.find("FAIL") == std::string::npos, out);
    BOOST_TEST(out.find("for longer than --outage-wait") != std::string::npos, out);
    std::string status;
    BOOST_TEST(run_cli({"status", t.journal().string()}, dir.path, status) == 0, status);
    BOOST_TEST(status.find("failed: 0") != std::string::npos, status);
    BOOST_TEST(status.find("outcome_unknown: 0") != std::string::npos, status);
    BOOST_TEST(status.find("done: " + std::to_string(tracks)) == std::string::npos, status);

    // KIE comes back (the window ends 21.5 s after the emulator started, before `started` + 22 s); the rerun completes.
    std::this_thread::sleep_until(started + 22s);
    BOOST_TEST_REQUIRE(run_cli(batch, dir.path, out, 60s) == 0, out);
    BOOST_TEST(out.find("FAIL") == std::string::npos, out);
    expect_every_track_done_and_paid_once(t);
}

// The case as a batch user met it: 30 tracks, concurrency 6, KIE answering 455 to every call
// for 30 s starting 4 s in. Before: 6 tracks failed ("service under maintenance ... (after 6
// attempts)") and the batch exited 1. About 50 s.
BOOST_AUTO_TEST_CASE(thirty_tracks_ride_out_thirty_seconds_of_maintenance_each_paid_once, *boost::unit_test::label("slow"))
{
    constexpr int n = 30;
    auto eo = kie_in_maintenance(4000ms, 30000ms);
    eo.separation_delay = 2000ms;
    eo.midi_delay = 1000ms;
    cli_env t(eo);
    auto& [dir, kie, out] = t;
    const auto batch = t.journaled_batch(n, {"--concurrency", "6"});
    const auto started = std::chrono::steady_clock::now();
    BOOST_TEST(run_cli(batch, dir.path, out, 150s) == 0, out);
    BOOST_TEST_MESSAGE("30 tracks through 30 s of maintenance: "
                       << std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count() << " s");
    BOOST_TEST(out.find("FAIL") == std::string::npos, out);
    BOOST_TEST(kie.server->snapshot().outage_paid_refused >= 1u);  // the window did meet paid POSTs
    expect_every_track_done_and_paid_once(t, n);
}

// Before: the start-up check of KIE (a credits read) exited 4 before any track ran.
BOOST_AUTO_TEST_CASE(a_batch_started_during_maintenance_waits_for_kie_and_finishes_every_track_paid_once, *boost::unit_test::label("slow"))
{
    cli_env t(kie_in_maintenance(0ms, 8000ms));  // longer than the start-up read's own retries ride out
    auto& [dir, kie, out] = t;
    const auto batch = t.journaled_batch(tracks, {"--concurrency", "6", "--outage-wait", "1min"});
    BOOST_TEST(run_cli(batch, dir.path, out, 60s) == 0, out);
    BOOST_TEST(out.find("FAIL") == std::string::npos, out);
    BOOST_TEST(out.find("KIE unavailable (code 455, maintenance) since ") != std::string::npos, out);
    BOOST_TEST(out.find("waiting for it, at most --outage-wait") != std::string::npos, out);
    expect_every_track_done_and_paid_once(t);
}

// Before: exit 4 at once, for an outage as for a refused key.
BOOST_AUTO_TEST_CASE(a_batch_started_during_a_longer_outage_exits_eleven_and_a_refused_key_exits_four_at_once)
{
    cli_env t(kie_in_maintenance(0ms, 60000ms));
    auto& [dir, kie, out] = t;
    const auto batch = t.journaled_batch(tracks, {"--concurrency", "6", "--outage-wait", "1500ms"});
    BOOST_TEST_REQUIRE(run_cli(batch, dir.path, out, 60s) == 11, out);
    BOOST_TEST(out.find("FAIL") == std::string::npos, out);
    BOOST_TEST(out.find("for longer than --outage-wait") != std::string::npos, out);
    const auto c = kie.server->snapshot();
    BOOST_TEST(c.separation_submissions.empty());
    BOOST_TEST(c.midi_submissions.empty());
    std::string status;
    BOOST_TEST(run_cli({"status", t.journal().string()}, dir.path, status) == 0, status);
    BOOST_TEST(status.find("pending: " + std::to_string(tracks)) != std::string::npos, status);

    // KIE up, the key refused: said at once, exit 4, nothing waited for.
    cli_env up;
    const auto started = std::chrono::steady_clock::now();
    const auto list = write_track_list(up.dir.path, 2);
    BOOST_TEST(run_cli(std::vector<std::string>{"batch", list.string(), "-o", up.out_dir().string(), "--outage-wait", "1min"} +
                           up.kie.flags("not-the-key"),
                       up.dir.path, up.out, 60s) == 4,
               up.out);
    BOOST_TEST((std::chrono::steady_clock::now() - started < 20s));
    BOOST_TEST(up.kie.server->snapshot().separation_submissions.empty());
}

BOOST_AUTO_TEST_SUITE_END()

#endif
