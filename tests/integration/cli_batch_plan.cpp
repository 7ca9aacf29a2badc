// `kiemidi batch` before paying: lists with bad rows (exit 10, --skip-bad-rows, --check), the
// plan and its cost (--dry-run, --json, the line at the start of every batch), the credit budget
// (--max-credits, exit 9, resumed with a higher one) and rows asking for the same work, paid once.
// The executable runs as a child process (tests/common/cli_fixture.hpp) against an emulator on
// 127.0.0.1; what KIE was paid is read from the emulator's counters.
#ifdef KIEMIDI_CLI_PATH  // only when the kiemidi executable is built
#include "common/cli_fixture.hpp"

#include <kiemidi/journal.hpp>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <boost/test/unit_test.hpp>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace fs = std::filesystem;
using namespace kiemidi::test;
using namespace std::chrono_literals;

namespace {

constexpr const char* separation_post = "POST /api/v1/vocal-removal/generate";
constexpr const char* midi_post = "POST /api/v1/midi/generate";

/// A catalog export with two good rows and three bad ones: a '/' in a name, an empty audio_id
/// and an unterminated quote (the last line).
fs::path list_with_bad_rows(const fs::path& dir)
{
    auto list = dir / "tracks.csv";
    std::ofstream(list) << "task_id,audio_id,name\n"
                           "music-1,track-1,first\n"
                           "music-2,track-2,live/2019\n"
                           "music-3,,third\n"
                           "music-4,track-4,fourth\n"
                           "music-5,track-5,\"unterminated\n";
    return list;
}

/// Nothing paid, and the credits as they were.
void expect_nothing_paid(const external_kie& kie, std::int64_t credits_before)
{
    const auto c = kie.server->snapshot();
    BOOST_TEST(c.requests_to(separation_post) == 0u);
    BOOST_TEST(c.requests_to(midi_post) == 0u);
    BOOST_TEST(c.credits == credits_before);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(cli_batch_plan)

BOOST_AUTO_TEST_CASE(bad_rows_run_the_rest_then_exit_ten_with_a_summary_and_skip_bad_rows_makes_it_zero)
{
    cli_env t;
    auto& [dir, kie, out] = t;
    const auto list = list_with_bad_rows(dir.path);
    const auto out_dir = t.out_dir();
    const auto batch = std::vector<std::string>{"batch", list.string(), "-o", out_dir.string()};
    BOOST_TEST_REQUIRE(t.run(batch) == 10, out);
    for (const char* line : {"tracks.csv:3:", "tracks.csv:4:", "tracks.csv:6:"}) BOOST_TEST(out.find(line) != std::string::npos, line);
    BOOST_TEST(out.find("3 bad row(s) in " + list.string() + " (line 3, 4, 6) were not run") != std::string::npos, out);
    BOOST_TEST(is_midi_file(out_dir / "first.mid"));
    BOOST_TEST(is_midi_file(out_dir / "fourth.mid"));
    check_paid(kie.server->snapshot(), 2u, 2u);

    // A user who accepts the bad rows: a warning, exit 0, and nothing paid again.
    BOOST_TEST_REQUIRE(t.run(batch + std::vector<std::string>{"--skip-bad-rows"}) == 0, out);
    BOOST_TEST(out.find("warning: 3 bad row(s)") != std::string::npos, out);
    check_paid(kie.server->snapshot(), 2u, 2u);
}

BOOST_AUTO_TEST_CASE(check_validates_a_list_without_running_it_nor_asking_kie)
{
    cli_env t;
    auto& [dir, kie, out] = t;
    const auto credits = kie.server->snapshot().credits;
    const auto list = list_with_bad_rows(dir.path);
    BOOST_TEST_REQUIRE(t.run({"batch", list.string(), "-o", t.out_dir().string(), "--check"}) == 10, out);
    BOOST_TEST(out.find("5 rows: 2 to run, 0 duplicate(s), 3 bad") != std::string::npos, out);
    BOOST_TEST(out.find("tracks.csv:6: unterminated quoted field") != std::string::npos, out);
    BOOST_TEST(!fs::exists(t.out_dir()));
    BOOST_TEST(kie.server->snapshot().requests_to("GET /api/v1/chat/credit") == 0u);
    expect_nothing_paid(kie, credits);

    const auto good = write_track_list(dir.path, 3);
    BOOST_TEST(t.run({"batch", good.string(), "--check"}) == 0, out);
    BOOST_TEST(out.find("3 rows: 3 to run, 0 duplicate(s), 0 bad") != std::string::npos, out);
}

BOOST_AUTO_TEST_CASE(a_dry_run_plans_new_and_resumed_tracks_with_their_cost_and_pays_nothing)
{
    cli_env t;
    auto& [dir, kie, out] = t;
    const auto credits = kie.server->snapshot().credits;
    // A journal left by an earlier run: one track separated (its MIDI is ahead), one waiting for
    // its MIDI, one done.
    {
        auto j = kiemidi::journal::open(t.journal());
        std::vector<kiemidi::track_spec> earlier;
        for (int i = 0; i < 3; ++i)
            earlier.push_back({.task_id = "music-" + std::to_string(i), .audio_id = "track-" + std::to_string(i),
                               .name = "song-" + std::to_string(i), .separation = {}, .stem = {}, .separation_task_id = {}});
        j.add_tracks(earlier);
        const auto e = j.entries();
        j.record_intent(e[0].id, kiemidi::journal_stage::separation);
        j.record_task_id(e[0].id, kiemidi::journal_stage::separation, "sep-earlier");
        j.record_intent(e[1].id, kiemidi::journal_stage::separation);
        j.record_task_id(e[1].id, kiemidi::journal_stage::separation, "sep-one");
        j.record_intent(e[1].id, kiemidi::journal_stage::midi);
        j.record_task_id(e[1].id, kiemidi::journal_stage::midi, "midi-one");
        j.record_intent(e[2].id, kiemidi::journal_stage::separation);
        j.record_task_id(e[2].id, kiemidi::journal_stage::separation, "sep-two");
        j.record_intent(e[2].id, kiemidi::journal_stage::midi);
        j.record_task_id(e[2].id, kiemidi::journal_stage::midi, "midi-two");
        j.mark_done(e[2].id);
    }
    // The same three and two new ones, one of them split into stems.
    auto list = dir.path / "tracks.csv";
    std::ofstream(list) << "task_id,audio_id,name,type\n"
                           "music-0,track-0,song-0,\nmusic-1,track-1,song-1,\nmusic-2,track-2,song-2,\n"
                           "music-3,track-3,song-3,\nmusic-4,track-4,song-4,split_stem\n";
    const auto plan = std::vector<std::string>{"batch", list.string(), "-o", t.out_dir().string(), "--journal",
                                               t.journal().string(), "--dry-run"};
    BOOST_TEST_REQUIRE(t.run(plan) == 0, out);
    BOOST_TEST(out.find("tracks: 5: 2 new, 2 to resume, 1 done, 0 failed, 0 outcome unknown") != std::string::npos, out);
    BOOST_TEST(out.find("resume song-0: wait for separation sep-earlier, then MIDI") != std::string::npos, out);
    BOOST_TEST(out.find("resume song-1: wait for MIDI task midi-one") != std::string::npos, out);
    BOOST_TEST(out.find("5 paid submissions (1 separate_vocal, 1 split_stem, 3 midi)") != std::string::npos, out);
    BOOST_TEST(out.find("estimated credits: 90") != std::string::npos, out);  // 10 + 50 + 3 * 10
    BOOST_TEST(out.find("account credits: " + std::to_string(credits) + " remaining: enough") != std::string::npos, out);
    BOOST_TEST(out.find("rate limit: at least 0 s") != std::string::npos, out);
    BOOST_TEST(kie.server->snapshot().requests_to("GET /api/v1/chat/credit") == 1u);  // the one free read
    expect_nothing_paid(kie, credits);
    BOOST_TEST(!fs::exists(t.out_dir()));

    // The same as JSON, with the user's cost of a split into stems.
    BOOST_TEST_REQUIRE(t.run(plan + std::vector<std::string>{"--json", "--credit-cost", "split_stem=5"}) == 0, out);
    const auto brace = out.find("{\"list\"");
    BOOST_TEST_REQUIRE(brace != std::string::npos, out);
    const auto v = boost::json::parse(out.substr(brace, out.find('\n', brace) - brace));
    BOOST_TEST(v.at("tracks").at("new").as_int64() == 2);
    BOOST_TEST(v.at("tracks").at("resume").as_int64() == 2);
    BOOST_TEST(v.at("tracks").at("done").as_int64() == 1);
    BOOST_TEST(v.at("paid_submissions").at("total").as_int64() == 5);
    BOOST_TEST(v.at("estimated_credits").as_int64() == 45);
    BOOST_TEST(v.at("remaining_credits").as_int64() == credits);
    BOOST_TEST(v.at("credits_suffice").as_bool());
    BOOST_TEST(v.at("plan").as_array().size() == 5u);
    BOOST_TEST(v.at("plan").at(0).at("next_step").as_string() == "wait for separation sep-earlier, then MIDI");
    expect_nothing_paid(kie, credits);
}

BOOST_AUTO_TEST_CASE(a_dry_run_plans_what_retry_failed_and_resubmit_will_pay_as_the_run_then_pays_it)
{
    cli_env t;
    auto& [dir, kie, out] = t;
    const auto credits = kie.server->snapshot().credits;
    // An earlier run left one track failed before its separation had a task id (retried from
    // the start: 2 paid submissions) and one whose files were not written and whose result KIE no
    // longer keeps (resubmitted from the start: 2 more).
    {
        auto j = kiemidi::journal::open(t.journal());
        std::vector<kiemidi::track_spec> earlier;
        for (int i = 0; i < 2; ++i)
            earlier.push_back({.task_id = "music-" + std::to_string(i), .audio_id = "track-" + std::to_string(i),
                               .name = "song-" + std::to_string(i), .separation = {}, .stem = {}, .separation_task_id = {}});
        j.add_tracks(earlier);
        const auto e = j.entries();
        j.record_intent(e[0].id, kiemidi::journal_stage::separation);
        j.mark_failed(e[0].id, "separation", "KIE said 500");
        j.record_intent(e[1].id, kiemidi::journal_stage::separation);
        j.record_task_id(e[1].id, kiemidi::journal_stage::separation, "sep-gone");
        j.record_intent(e[1].id, kiemidi::journal_stage::midi);
        j.record_task_id(e[1].id, kiemidi::journal_stage::midi, "midi-gone");
        j.mark_not_written(e[1].id, "disk full");
        j.mark_result_lost(e[1].id, "KIE no longer keeps the result");
    }
    const auto list = write_track_list(dir.path, 2);
    const auto batch = std::vector<std::string>{"batch", list.string(), "-o", t.out_dir().string(), "--journal",
                                                t.journal().string(), "--retry-failed", "--resubmit"};
    BOOST_TEST_REQUIRE(t.run(batch + std::vector<std::string>{"--dry-run"}) == 0, out);
    BOOST_TEST(out.find("4 paid submissions (2 separate_vocal, 0 split_stem, 2 midi)") != std::string::npos, out);
    BOOST_TEST(out.find("estimated credits: 40") != std::string::npos, out);
    expect_nothing_paid(kie, credits);

    // The run pays what its dry run said.
    BOOST_TEST_REQUIRE(t.run(batch) == 0, out);
    check_paid(kie.server->snapshot(), 2u, 2u);
    BOOST_TEST(is_midi_file(t.out_dir() / "song-0.mid"));
    BOOST_TEST(is_midi_file(t.out_dir() / "song-1.mid"));
}

BOOST_AUTO_TEST_CASE(a_dry_run_says_when_the_account_s_credits_do_not_cover_the_plan)
{
    kiemidi::emulator::emulator_options eo;
    eo.initial_credits = 30;
    cli_env t(eo);
    auto& [dir, kie, out] = t;
    const auto list = write_track_list(dir.path, 2);  // 2 × (10 + 10) = 40 credits
    BOOST_TEST(t.run({"batch", list.string(), "-o", t.out_dir().string(), "--dry-run"}) == 5, out);
    BOOST_TEST(out.find("account credits: 30 remaining: NOT enough (10 short)") != std::string::npos, out);
    expect_nothing_paid(kie, 30);
}

BOOST_AUTO_TEST_CASE(a_credit_budget_stops_the_run_before_a_track_that_could_pass_it_and_a_higher_one_resumes)
{
    cli_env t;
    auto& [dir, kie, out] = t;
    const auto credits = kie.server->snapshot().credits;
    const auto batch = t.journaled_batch(5, {"--concurrency", "3"});
    // Each track costs 20 (separate_vocal 10 + midi 10): 45 covers two.
    BOOST_TEST_REQUIRE(run_cli(batch + std::vector<std::string>{"--max-credits", "45"}, dir.path, out) == 9, out);
    BOOST_TEST(out.find("plan: 5 tracks (5 new, 0 to resume, 0 done") != std::string::npos, out);
    BOOST_TEST(out.find("10 paid submissions (5 separate_vocal, 0 split_stem, 5 midi), ~100 credits of " +
                        std::to_string(credits) + " remaining, budget 45") != std::string::npos, out);
    BOOST_TEST(out.find("3 track(s) did not start") != std::string::npos, out);
    check_paid(kie.server->snapshot(), 2u, 2u);
    BOOST_TEST(credits - kie.server->snapshot().credits <= 45);
    std::string status;
    BOOST_TEST(run_cli({"status", t.journal().string()}, dir.path, status) == 0, status);
    BOOST_TEST(status.find("pending: 3") != std::string::npos, status);

    BOOST_TEST_REQUIRE(run_cli(batch + std::vector<std::string>{"--max-credits", "100"}, dir.path, out) == 0, out);
    BOOST_TEST(out.find("plan: 5 tracks (3 new, 0 to resume, 2 done") != std::string::npos, out);
    check_paid(kie.server->snapshot(), 5u, 5u);
    for (int i = 0; i < 5; ++i) BOOST_TEST(is_midi_file(t.out_dir() / ("song-" + std::to_string(i) + ".mid")), i);
}

BOOST_AUTO_TEST_CASE(rows_asking_for_the_same_work_are_paid_once_and_each_gets_its_own_files)
{
    cli_env t;
    auto& [dir, kie, out] = t;
    auto list = dir.path / "tracks.csv";
    std::ofstream(list) << "music-1,track-1,original\n"
                           "music-2,track-2,other\n"
                           "music-1,track-1,remaster\n";  // the first one again, under another name
    const auto batch = std::vector<std::string>{"batch", list.string(), "-o", t.out_dir().string()};
    BOOST_TEST_REQUIRE(t.run(batch) == 0, out);
    BOOST_TEST(out.find("duplicate: " + list.string() + ":3 (remaster) asks for the same work as line 1 (original)") !=
                   std::string::npos, out);
    check_paid(kie.server->snapshot(), 2u, 2u);
    BOOST_TEST(is_midi_file(t.out_dir() / "remaster.mid"));
    BOOST_TEST(read_file(t.out_dir() / "remaster.mid") == read_file(t.out_dir() / "original.mid"));
    BOOST_TEST(read_file(t.out_dir() / "remaster.json") == read_file(t.out_dir() / "original.json"));

    // The dry run counts it once too.
    BOOST_TEST(t.run(batch + std::vector<std::string>{"--dry-run"}) == 0, out);
    BOOST_TEST(out.find("2 done, 0 failed, 0 outcome unknown; 0 bad rows, 1 duplicates") != std::string::npos, out);
    BOOST_TEST(out.find("0 paid submissions") != std::string::npos, out);
}

BOOST_AUTO_TEST_CASE(allow_duplicates_pays_again_for_fresh_results)
{
    cli_env t;
    auto& [dir, kie, out] = t;
    auto list = dir.path / "tracks.csv";
    std::ofstream(list) << "music-1,track-1,original\nmusic-1,track-1,remaster\n";
    BOOST_TEST_REQUIRE(t.run({"batch", list.string(), "-o", t.out_dir().string(), "--allow-duplicates"}) == 0, out);
    const auto c = kie.server->snapshot();
    BOOST_TEST(c.requests_to(separation_post) == 2u);
    BOOST_TEST(c.requests_to(midi_post) == 2u);
    BOOST_TEST(is_midi_file(t.out_dir() / "remaster.mid"));
    BOOST_TEST(out.find("duplicate:") == std::string::npos, out);
}

BOOST_AUTO_TEST_SUITE_END()

#endif
