// `kiemidi batch` when our own side loses what KIE finished: results that cannot be written
// (a full disk, or a blocked path), result files deleted or damaged after the batch, a result
// KIE no longer keeps, and failed tracks retried with --retry-failed. Each case checks the exit
// code, the files, and the emulator's paid counters: nothing KIE finished is paid for again
// unless the user asks for it.
#ifdef KIEMIDI_CLI_PATH  // only when the kiemidi executable is built
#include "common/cli_fixture.hpp"
#include "common/small_disk.hpp"

#include <kiemidi/journal.hpp>

#include <boost/json.hpp>
#include <boost/test/unit_test.hpp>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace fs = std::filesystem;
using namespace kiemidi::test;
using kiemidi::track_state;

namespace {

std::string song(int i) { return "song-" + std::to_string(i); }

bool json_parses(const fs::path& p)
{
    boost::system::error_code ec;
    auto v = boost::json::parse(read_file(p), ec);
    return !ec && v.is_object();
}

std::vector<kiemidi::journal_entry> journal_entries(const fs::path& p)
{
    return kiemidi::journal::open(p).entries();
}

std::uint64_t record_reads(const kiemidi::emulator::counters& c)
{
    return c.requests_to("GET /api/v1/midi/record-info");
}

}  // namespace

BOOST_AUTO_TEST_SUITE(cli_batch_unwritten_results)

// Before: every track KIE finished ended "failed at output" (exit 1) and a rerun left them failed.
BOOST_AUTO_TEST_CASE(results_that_cannot_be_written_stay_not_written_exit_eight_and_a_rerun_writes_them_without_paying)
{
    constexpr int tracks = 4;
    cli_env t;
    auto& [dir, kie, out] = t;
    small_disk disk(t.out_dir(), 4 * 1024 * 1024);
    std::vector<std::string> mids;
    for (int i = 0; i < tracks; ++i) mids.push_back(song(i) + ".mid");
    disk.fill(mids);
    const auto batch = t.journaled_batch(tracks, {"--concurrency", "4"});

    BOOST_TEST_REQUIRE(run_cli(batch, dir.path, out) == 8, out);
    BOOST_TEST(out.find("4 result(s) KIE finished (and charged for) could not be written") != std::string::npos, out);
    if (disk.mounted()) BOOST_TEST(out.find("No space left on device") != std::string::npos, out);
    BOOST_TEST(out.find("UNWRITTEN") != std::string::npos, out);
    for (int i = 0; i < tracks; ++i) BOOST_TEST(!is_midi_file(t.out_dir() / (song(i) + ".mid")), song(i));
    for (const auto& e : journal_entries(t.journal()))
    {
        BOOST_TEST((e.state == track_state::not_written), e.track.name << " " << to_string(e.state));
        BOOST_TEST(!e.midi_task_id.empty());
        BOOST_TEST(!e.separation_task_id.empty());
    }
    const auto paid = kie.server->snapshot();
    check_paid(paid, tracks, tracks);
    std::string status;
    BOOST_TEST(run_cli({"status", t.journal().string()}, dir.path, status) == 8, status);
    BOOST_TEST(status.find("not_written: 4") != std::string::npos, status);

    disk.free();
    BOOST_TEST_REQUIRE(run_cli(batch, dir.path, out) == 0, out);
    for (int i = 0; i < tracks; ++i)
    {
        BOOST_TEST(is_midi_file(t.out_dir() / (song(i) + ".mid")), song(i) << "\n" << out);
        BOOST_TEST(json_parses(t.out_dir() / (song(i) + ".json")), song(i));
    }
    for (const auto& e : journal_entries(t.journal())) BOOST_TEST((e.state == track_state::done), e.track.name);
    const auto after = kie.server->snapshot();
    check_paid(after, tracks, tracks);  // nothing paid again
    BOOST_TEST(record_reads(after) >= record_reads(paid) + tracks);
}

// Before: a rerun said "3 done (3 before this run)" and restored nothing.
BOOST_AUTO_TEST_CASE(a_rerun_writes_deleted_or_damaged_results_again_from_kie_s_record_without_paying)
{
    constexpr int tracks = 3;
    cli_env t;
    auto& [dir, kie, out] = t;
    const auto batch = t.journaled_batch(tracks, {});
    BOOST_TEST_REQUIRE(run_cli(batch, dir.path, out) == 0, out);
    const auto mid0 = read_file(t.out_dir() / "song-0.mid");
    const auto json1 = read_file(t.out_dir() / "song-1.json");
    fs::remove(t.out_dir() / "song-0.mid");
    fs::remove(t.out_dir() / "song-1.json");
    std::ofstream(t.out_dir() / "song-2.json", std::ios::trunc) << "{\"instruments\": [";  // cut short
    const auto paid = kie.server->snapshot();

    BOOST_TEST_REQUIRE(run_cli(batch, dir.path, out) == 0, out);
    BOOST_TEST(out.find("restored: 3 result(s)") != std::string::npos, out);
    BOOST_TEST(read_file(t.out_dir() / "song-0.mid") == mid0);
    BOOST_TEST(read_file(t.out_dir() / "song-1.json") == json1);
    BOOST_TEST(json_parses(t.out_dir() / "song-2.json"));
    for (const auto& e : journal_entries(t.journal())) BOOST_TEST((e.state == track_state::done), e.track.name);
    const auto after = kie.server->snapshot();
    check_paid(after, tracks, tracks);
    BOOST_TEST(record_reads(after) == record_reads(paid) + 3);

    // Whole files again: nothing more is read.
    BOOST_TEST_REQUIRE(run_cli(batch, dir.path, out) == 0, out);
    BOOST_TEST(out.find("restored:") == std::string::npos, out);
    BOOST_TEST(record_reads(kie.server->snapshot()) == record_reads(after));
}

BOOST_AUTO_TEST_CASE(a_result_kie_no_longer_keeps_is_said_left_alone_and_paid_again_only_with_resubmit)
{
    constexpr int tracks = 2;
    cli_env t;
    auto& [dir, kie, out] = t;
    const auto batch = t.journaled_batch(tracks, {});
    BOOST_TEST_REQUIRE(run_cli(batch, dir.path, out) == 0, out);
    const auto entries = journal_entries(t.journal());
    BOOST_TEST_REQUIRE(entries.size() == 2u);
    BOOST_TEST_REQUIRE(kie.server->forget_task(entries[1].midi_task_id));
    fs::remove(t.out_dir() / "song-1.mid");

    for (int run = 0; run < 2; ++run)  // said, and left alone, on every rerun
    {
        BOOST_TEST_REQUIRE(run_cli(batch, dir.path, out) == 1, out);
        BOOST_TEST(out.find("KIE no longer keeps") != std::string::npos, out);
        BOOST_TEST(out.find("--resubmit") != std::string::npos, out);
        BOOST_TEST(!fs::exists(t.out_dir() / "song-1.mid"));
        BOOST_TEST((journal_entries(t.journal()).at(1).state == track_state::result_lost));
        check_paid(kie.server->snapshot(), tracks, tracks);
    }

    BOOST_TEST_REQUIRE(run_cli(batch + std::vector<std::string>{"--resubmit"}, dir.path, out) == 0, out);
    BOOST_TEST(out.find("--resubmit: 1 track(s) to retry") != std::string::npos, out);
    BOOST_TEST(out.find("at most 2 paid submission(s)") != std::string::npos, out);
    BOOST_TEST(is_midi_file(t.out_dir() / "song-1.mid"));
    BOOST_TEST(is_midi_file(t.out_dir() / "song-0.mid"));
    const auto c = kie.server->snapshot();
    // The user's choice: song-1 paid again (both steps), song-0 not.
    BOOST_TEST(c.requests_to("POST /api/v1/vocal-removal/generate") == 3u);
    BOOST_TEST(c.requests_to("POST /api/v1/midi/generate") == 3u);
    BOOST_TEST((c.separation_submissions.at({"music-1", "track-1"}) == 2u));
    BOOST_TEST((c.separation_submissions.at({"music-0", "track-0"}) == 1u));
}

// Before: the CLI had no --retry-failed; failed tracks stayed failed on every rerun.
BOOST_AUTO_TEST_CASE(retry_failed_says_what_it_may_pay_then_fetches_finished_midi_and_resubmits_only_failed_midi)
{
    constexpr int tracks = 3;
    kiemidi::emulator::emulator_options eo;
    eo.faults.midi_failure_rate = 1;  // KIE fails every MIDI task of the first run
    cli_env t(eo);
    auto& [dir, kie, out] = t;
    const auto batch = t.journaled_batch(tracks, {});
    BOOST_TEST_REQUIRE(run_cli(batch, dir.path, out) == 1, out);
    check_paid(kie.server->snapshot(), tracks, tracks);
    auto f = kie.server->faults();
    f.midi_failure_rate = 0;
    kie.server->set_faults(f);

    // song-2 instead fails while KIE finishes its MIDI task (as a wait that timed out): its
    // MIDI is submitted again here, by hand, and recorded; a retry must only fetch it.
    {
        auto j = kiemidi::journal::open(t.journal());
        const auto e = j.entries().at(2);
        BOOST_TEST_REQUIRE((e.state == track_state::failed));
        track_state next{};
        kiemidi::diagnostics diag;
        BOOST_TEST_REQUIRE(!j.requeue(e.id, kiemidi::journal_stage::midi, next, diag), diag.to_string());
        BOOST_TEST_REQUIRE((next == track_state::separating));
    }
    // A plain rerun leaves failed tracks alone; song-2 (now separating) gets its MIDI.
    BOOST_TEST_REQUIRE(run_cli(batch, dir.path, out) == 1, out);
    BOOST_TEST(is_midi_file(t.out_dir() / "song-2.mid"), out);
    {
        auto j = kiemidi::journal::open(t.journal());
        const auto e = j.entries().at(2);
        j.mark_not_written(e.id, "files checked");
        j.mark_failed(e.id, "midi", "the MIDI wait timed out");
    }
    fs::remove(t.out_dir() / "song-2.mid");
    const auto before = kie.server->snapshot();
    BOOST_TEST(before.requests_to("POST /api/v1/midi/generate") == 4u);

    BOOST_TEST_REQUIRE(run_cli(batch + std::vector<std::string>{"--retry-failed"}, dir.path, out) == 0, out);
    BOOST_TEST(out.find("--retry-failed: 3 track(s) to retry: 3 with a MIDI task to fetch") != std::string::npos, out);
    BOOST_TEST(out.find("at most 3 paid submission(s)") != std::string::npos, out);
    for (int i = 0; i < tracks; ++i) BOOST_TEST(is_midi_file(t.out_dir() / (song(i) + ".mid")), song(i) << "\n" << out);
    const auto c = kie.server->snapshot();
    // No separation paid again; one MIDI each for the two whose MIDI task KIE failed; song-2 fetched.
    BOOST_TEST(c.requests_to("POST /api/v1/vocal-removal/generate") == 3u);
    BOOST_TEST(c.requests_to("POST /api/v1/midi/generate") == 6u);
    for (const auto& [key, n] : c.separation_submissions) BOOST_TEST(n == 1u, key.first);
    for (const auto& e : journal_entries(t.journal())) BOOST_TEST((e.state == track_state::done), e.track.name);
}

BOOST_AUTO_TEST_SUITE_END()

#endif
