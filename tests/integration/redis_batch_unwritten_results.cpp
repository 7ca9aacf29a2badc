// `kiemidi batch --redis` (a shared batch) when our own side loses what KIE finished, as a
// journaled batch does: results that cannot be written (a full disk) stay not_written with their
// task ids (exit 8) and a rerun fetches them from KIE's record for free; done tracks whose files
// were deleted or damaged are written again from KIE's record on a rerun; a result KIE no longer
// keeps is said and paid again only with --resubmit. Each case checks the exit code, the files,
// the shared state (`kiemidi status --redis`) and the emulator's paid counters.
#ifdef KIEMIDI_CLI_PATH  // only when the kiemidi executable is built
#include "common/cli_fixture.hpp"
#include "common/redis_server.hpp"
#include "common/small_disk.hpp"

#include <boost/json.hpp>
#include <boost/test/unit_test.hpp>

#include <filesystem>
#include <fstream>
#include <regex>
#include <string>
#include <vector>

namespace fs = std::filesystem;
using namespace kiemidi::test;

namespace {

std::string song(int i) { return "song-" + std::to_string(i); }

bool json_parses(const fs::path& p)
{
    boost::system::error_code ec;
    auto v = boost::json::parse(read_file(p), ec);
    return !ec && v.is_object();
}

std::uint64_t record_reads(const kiemidi::emulator::counters& c)
{
    return c.requests_to("GET /api/v1/midi/record-info");
}

/// A shared batch of `tracks` rows in a Redis of its own, run by `kiemidi batch` workers against
/// an emulator in this process.
struct shared_env
{
    cli_env t;
    redis_server srv;
    int tracks;
    fs::path list;

    explicit shared_env(int n) : tracks(n), list(write_track_list(t.dir.path, n)) {}

    std::vector<std::string> shared_flags() const
    {
        return {"--redis", "redis://127.0.0.1:" + std::to_string(srv.port()), "--batch-id", "unwritten"};
    }

    /// The batch command of one worker (short leases: an idle slot waits at most one).
    std::vector<std::string> batch(const std::vector<std::string>& extra = {}) const
    {
        return std::vector<std::string>{"batch", list.string(), "-o", t.out_dir().string(), "--concurrency", "4",
                                        "--lease-ms", "1000", "--poll-interval-ms", "50"} +
               shared_flags() + extra + t.kie.flags();
    }

    int run(const std::vector<std::string>& extra = {}) { return run_cli(batch(extra), t.dir.path, t.out, std::chrono::seconds(90)); }

    /// `kiemidi status --redis`: its exit code; `out` gets what it printed.
    int status(std::string& out) const
    {
        return run_cli(std::vector<std::string>{"status"} + shared_flags(), t.dir.path, out);
    }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(redis_batch_unwritten_results, *boost::unit_test::label("redis"))

// Before: the tracks were stored failed at "output" (status exit 1), and a rerun after freeing
// space left them failed (exit 1, no files).
BOOST_AUTO_TEST_CASE(results_that_cannot_be_written_stay_not_written_exit_eight_and_a_rerun_writes_them_without_paying)
{
    shared_env e(4);
    auto& t = e.t;
    small_disk disk(t.out_dir(), 4 * 1024 * 1024);
    std::vector<std::string> mids;
    for (int i = 0; i < e.tracks; ++i) mids.push_back(song(i) + ".mid");
    disk.fill(mids);

    BOOST_TEST_REQUIRE(e.run() == 8, t.out);
    BOOST_TEST(t.out.find("4 result(s) KIE finished (and charged for) could not be written") != std::string::npos, t.out);
    if (disk.mounted()) BOOST_TEST(t.out.find("No space left on device") != std::string::npos, t.out);
    BOOST_TEST(t.out.find("UNWRITTEN") != std::string::npos, t.out);
    for (int i = 0; i < e.tracks; ++i) BOOST_TEST(!is_midi_file(t.out_dir() / (song(i) + ".mid")), song(i));
    const auto paid = t.kie.server->snapshot();
    check_paid(paid, 4, 4);
    std::string status;
    BOOST_TEST(e.status(status) == 8, status);
    BOOST_TEST(status.find("not_written: 4") != std::string::npos, status);
    BOOST_TEST(status.find("failed: 0") != std::string::npos, status);
    BOOST_TEST(std::regex_search(status, std::regex("not_written song-0 \\(music-0, track-0\\) separation \\S+ midi \\S+: KIE finished")),
               status);

    disk.free();
    BOOST_TEST_REQUIRE(e.run() == 0, t.out);
    for (int i = 0; i < e.tracks; ++i)
    {
        BOOST_TEST(is_midi_file(t.out_dir() / (song(i) + ".mid")), song(i) << "\n" << t.out);
        BOOST_TEST(json_parses(t.out_dir() / (song(i) + ".json")), song(i));
    }
    const auto after = t.kie.server->snapshot();
    check_paid(after, 4, 4);  // nothing paid again
    BOOST_TEST(record_reads(after) >= record_reads(paid) + 4);
    BOOST_TEST(e.status(status) == 0, status);
    BOOST_TEST(status.find("done: 4") != std::string::npos, status);
}

// Before: a rerun said every track was done and restored nothing.
BOOST_AUTO_TEST_CASE(a_rerun_writes_deleted_or_damaged_results_again_from_kie_s_record_without_paying)
{
    shared_env e(3);
    auto& t = e.t;
    BOOST_TEST_REQUIRE(e.run() == 0, t.out);
    const auto mid0 = read_file(t.out_dir() / "song-0.mid");
    const auto json1 = read_file(t.out_dir() / "song-1.json");
    fs::remove(t.out_dir() / "song-0.mid");
    fs::remove(t.out_dir() / "song-1.json");
    std::ofstream(t.out_dir() / "song-2.json", std::ios::trunc) << "{\"instruments\": [";  // cut short
    const auto paid = t.kie.server->snapshot();

    BOOST_TEST_REQUIRE(e.run() == 0, t.out);
    BOOST_TEST(t.out.find("restored: 3 result(s)") != std::string::npos, t.out);
    BOOST_TEST(read_file(t.out_dir() / "song-0.mid") == mid0);
    BOOST_TEST(read_file(t.out_dir() / "song-1.json") == json1);
    BOOST_TEST(json_parses(t.out_dir() / "song-2.json"));
    const auto after = t.kie.server->snapshot();
    check_paid(after, 3, 3);
    BOOST_TEST(record_reads(after) == record_reads(paid) + 3);
    std::string status;
    BOOST_TEST(e.status(status) == 0, status);
    BOOST_TEST(status.find("done: 3") != std::string::npos, status);

    // Whole files again: nothing more is read.
    BOOST_TEST_REQUIRE(e.run() == 0, t.out);
    BOOST_TEST(t.out.find("restored:") == std::string::npos, t.out);
    BOOST_TEST(record_reads(t.kie.server->snapshot()) == record_reads(after));
}

BOOST_AUTO_TEST_CASE(a_result_kie_no_longer_keeps_is_said_left_alone_and_paid_again_only_with_resubmit)
{
    shared_env e(2);
    auto& t = e.t;
    BOOST_TEST_REQUIRE(e.run() == 0, t.out);
    // The result's provenance names its MIDI task: KIE forgets it.
    const auto json = boost::json::parse(read_file(t.out_dir() / "song-1.json"));
    const auto* midi_task = json.as_object().if_contains("midi_task_id");
    BOOST_TEST_REQUIRE((midi_task && midi_task->is_string()));
    BOOST_TEST_REQUIRE(t.kie.server->forget_task(std::string(midi_task->as_string())));
    fs::remove(t.out_dir() / "song-1.mid");

    for (int run = 0; run < 2; ++run)  // said, and left alone, on every rerun
    {
        BOOST_TEST_REQUIRE(e.run() == 1, t.out);
        BOOST_TEST(t.out.find("KIE no longer keeps") != std::string::npos, t.out);
        BOOST_TEST(t.out.find("--resubmit") != std::string::npos, t.out);
        BOOST_TEST(!fs::exists(t.out_dir() / "song-1.mid"));
        std::string status;
        BOOST_TEST(e.status(status) == 1, status);
        BOOST_TEST(status.find("result_lost: 1") != std::string::npos, status);
        check_paid(t.kie.server->snapshot(), 2, 2);
    }

    BOOST_TEST_REQUIRE(e.run({"--resubmit"}) == 0, t.out);
    BOOST_TEST(is_midi_file(t.out_dir() / "song-1.mid"));
    BOOST_TEST(is_midi_file(t.out_dir() / "song-0.mid"));
    const auto c = t.kie.server->snapshot();
    // The user's choice: song-1 paid again (both steps), song-0 not.
    BOOST_TEST(c.requests_to("POST /api/v1/vocal-removal/generate") == 3u);
    BOOST_TEST(c.requests_to("POST /api/v1/midi/generate") == 3u);
    BOOST_TEST((c.separation_submissions.at({"music-1", "track-1"}) == 2u));
    BOOST_TEST((c.separation_submissions.at({"music-0", "track-0"}) == 1u));
}

BOOST_AUTO_TEST_SUITE_END()

#endif
