// batch_runner end to end: emulator (KIE) + callback listener + hub + client + journal, on 127.0.0.1.
#include <kiemidi/batch.hpp>
#include <kiemidi/callback_listener.hpp>
#include <kiemidi/client.hpp>
#include <kiemidi/emulator/server.hpp>
#include <kiemidi/in_process_callback_hub.hpp>
#include <kiemidi/journal.hpp>

#include "common/batch_fixture.hpp"
#include "common/cli_fixture.hpp"
#include "common/local_kie.hpp"
#include "common/run_bounded.hpp"
#include "common/temp_dir.hpp"
#include "nothrow_awaitable.hpp"

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/system/system_error.hpp>
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <map>
#include <memory>
#include <string>
#include <unistd.h>
#include <vector>

namespace asio = boost::asio;
namespace fs = std::filesystem;
using namespace kiemidi;
using namespace std::chrono_literals;

// A named namespace, not a file-local one: test coroutines take batch_env, and in a unity build g++
// (-Wsubobject-linkage) refuses coroutine frames holding file-local types in an included file.
namespace batch_runner_fixtures {

using test::sep_post;

struct batch_dir : test::temp_dir
{
    batch_dir() : test::temp_dir("kiemidi-batch") {}
};

/// KIE (emulated) + listener + hub + client, as an embedding backend would wire them.
struct batch_env : test::local_kie
{
    explicit batch_env(asio::any_io_executor ex, emulator::emulator_options eo = {})
        : local_kie(ex, std::move(eo), /*attach=*/true, [](client_options& co) {
              co.transport.retry.max_attempts = 8;
              // The emulator does not limit; a raised limit keeps the limiter in the path without slowing the test.
              co.transport.rate_limit.submissions_per_window = 100000;
              co.transport.rate_limit.window = 50ms;
          })
    {
    }
};

batch_options fast_options(const batch_dir& dir, unsigned concurrency = 16)
{
    auto o = test::polling_batch_options(dir.path / "out", concurrency, 10ms, 40ms, 15s);
    o.journal_path = dir.path / "batch.journal";
    o.pipeline.wait.strategy = wait_strategy::hybrid;
    o.pipeline.wait.callback_overdue = 100ms;
    return o;
}


std::vector<track_spec> make_tracks(int n)
{
    std::vector<track_spec> t;
    for (int i = 0; i < n; ++i)
        t.push_back({"music" + std::to_string(i), "audio" + std::to_string(i), "song " + std::to_string(i)});
    return t;
}

using kiemidi::test::read_file;

std::vector<journal_entry> journal_entries(const fs::path& p)
{
    auto j = journal::open(p);
    return j.entries();
}

/// One run with a fresh runner.
asio::awaitable<std::tuple<error_code, batch_summary>> runner_run(client& cli, const batch_options& opts,
                                                                  std::vector<track_spec> tracks,
                                                                  std::function<void(const batch_event&)> on_event)
{
    batch_runner runner(cli, opts);
    co_return co_await runner.async_run(std::move(tracks), std::move(on_event), use_nothrow_awaitable);
}

/// One test's batch: KIE and a client (batch_env), a directory, and fast_options writing into it.
/// Tests name the parts: `auto& [env, dir, opts] = t;`.
struct batch_case
{
    batch_env env;
    batch_dir dir;
    batch_options opts;

    explicit batch_case(asio::any_io_executor ex, emulator::emulator_options eo = {}, unsigned concurrency = 16)
        : env(ex, std::move(eo)), opts(fast_options(dir, concurrency))
    {
    }

    /// Runs `n` tracks (make_tracks) without events, with a fresh runner.
    asio::awaitable<std::tuple<error_code, batch_summary>> run(int n)
    {
        auto tracks = make_tracks(n);
        std::function<void(const batch_event&)> no_events;
        co_return co_await runner_run(*env.cli, opts, std::move(tracks), std::move(no_events));
    }
};

/// Each of `n` tracks was paid once per stage: `n` separation and `n` MIDI POSTs, none twice.
void check_each_paid_once(const emulator::counters& c, std::size_t n)
{
    BOOST_TEST(c.requests_to(sep_post) == n);
    BOOST_TEST(c.requests_to(test::midi_post) == n);
    BOOST_TEST(c.duplicate_paid_submissions() == 0u);
}

/// All `n` tracks are done, both paid POSTs of each recovered (their answers were lost).
void check_all_recovered(const batch_summary& s, std::size_t n)
{
    BOOST_TEST(s.done == n);
    BOOST_TEST(s.failed == 0u);
    BOOST_TEST(s.outcome_unknown == 0u);
    BOOST_TEST(s.recovered == 2 * n);
}


}  // namespace batch_runner_fixtures
using namespace batch_runner_fixtures;

BOOST_AUTO_TEST_SUITE(batch)

BOOST_AUTO_TEST_CASE(output_names_never_escape_the_output_directory)
{
    BOOST_TEST(output_name({"t", "a", "../../etc/passwd"}).find('/') == std::string::npos);
    BOOST_TEST(output_name({"t", "a", "../../etc/passwd"}).find("..") == std::string::npos);
    BOOST_TEST(output_name({"t", "a", ".."}) != "..");
    BOOST_TEST(output_name({"t", "a", ".hidden"}).front() != '.');
    BOOST_TEST(output_name({"t", "a", "a\\b"}) == "a_b");
    BOOST_TEST(output_name({"task/1", "audio", ""}) == "task_1_audio");
    BOOST_TEST(output_name({"t", "a", "My Song"}) == "My Song");
    BOOST_TEST(output_name({"t", "a", std::string(500, 'x')}).size() == 200u);
}

BOOST_AUTO_TEST_CASE(five_hundred_tracks_under_faults_end_done_or_failed_and_nothing_is_paid_twice, *boost::unit_test::label("slow"))
{
    test::run_bounded(
        [](asio::io_context& ioc) -> asio::awaitable<void> {
            emulator::emulator_options eo;
            eo.separation_delay = 10ms;
            eo.midi_delay = 5ms;
            eo.faults.http_500_rate = 0.05;
            eo.faults.http_429_rate = 0.02;
            eo.faults.callback_drop_rate = 0.10;
            eo.faults.callback_duplicate_rate = 0.05;
            eo.faults.separation_failure_rate = 0.02;
            batch_case t(ioc.get_executor(), eo, 32);
            auto& [env, dir, opts] = t;
            // A {"code":500} answer may hide a paid task: its callback is looked for this long.
            opts.pipeline.unknown_outcome_wait = 300ms;
            batch_runner runner(*env.cli, opts);
            std::map<batch_event::kind, std::size_t> events;
            // Arguments are named locals: g++ 12 mishandles temporaries inside co_await.
            std::function<void(const batch_event&)> on_event = [&](const batch_event& e) { ++events[e.what]; };
            auto tracks = make_tracks(500);
            auto [ec, summary] = co_await runner.async_run(std::move(tracks), std::move(on_event), use_nothrow_awaitable);
            BOOST_TEST_REQUIRE(!ec, ec.message() << " " << runner.last_diagnostics().to_string());

            BOOST_TEST(summary.total == 500u);
            BOOST_TEST(summary.done + summary.failed + summary.outcome_unknown == 500u);
            BOOST_TEST(summary.unfinished == 0u);
            BOOST_TEST(summary.done > 350u);
            BOOST_TEST(summary.notes > 0u);
            BOOST_TEST(events[batch_event::kind::track_done] == summary.done);
            BOOST_TEST(events[batch_event::kind::track_failed] == summary.failed + summary.outcome_unknown);
            BOOST_TEST(events[batch_event::kind::track_started] == 500u);
            BOOST_TEST(events[batch_event::kind::progress] >= 1u);
            // Progress is throttled (200 ms): one at the start, one at the end, the rest spaced out.
            BOOST_TEST(events[batch_event::kind::progress] <= 2u + static_cast<std::size_t>(summary.elapsed / 200ms) + 1u);
            BOOST_TEST_MESSAGE("500 tracks: " << summary.done << " done, " << summary.failed << " failed, "
                                              << summary.outcome_unknown << " outcome unknown in " << summary.elapsed.count()
                                              << " ms");

            auto counters = env.kie->snapshot();
            BOOST_TEST(counters.duplicate_paid_submissions() == 0u);
            // Lost answers can only come from the injected HTTP 500s on submissions.
            BOOST_TEST(summary.outcome_unknown <= counters.responses_with_code(500));

            std::size_t failed_separations = 0;
            for (const auto& e : journal_entries(opts.journal_path))
            {
                const auto name = output_name(e.track);
                if (e.state == track_state::done)
                {
                    auto mid = read_file(opts.output_dir / (name + ".mid"));
                    BOOST_TEST_REQUIRE(mid.size() > 14u, name);
                    BOOST_TEST(mid.substr(0, 4) == "MThd", name);
                    auto json = read_file(opts.output_dir / (name + ".json"));
                    BOOST_TEST(!json.empty(), name);
                    BOOST_TEST(!e.separation_task_id.empty());
                    BOOST_TEST(!e.midi_task_id.empty());
                }
                else
                {
                    BOOST_TEST((e.state == track_state::failed || e.state == track_state::outcome_unknown), name);
                    BOOST_TEST(!e.error.empty(), name);
                    BOOST_TEST(!e.failed_stage.empty(), name);
                    if (e.state == track_state::failed && e.failed_stage == "separation") ++failed_separations;
                }
            }
            // The emulator's separation failures are reported as failed separations.
            BOOST_TEST(failed_separations > 0u);
            // No temporary file is left behind.
            for (const auto& f : fs::directory_iterator(opts.output_dir))
                BOOST_TEST(f.path().filename().string().find(".tmp-") == std::string::npos);
        },
        90s);
}

// An intent is journaled when the transport admits the POST, not while it waits for the rate
// limiter: a run stopped during that wait leaves those tracks as they were (nothing was sent),
// where before they were left in separation_intent and a rerun reported them outcome_unknown.
BOOST_AUTO_TEST_CASE(a_post_still_waiting_for_the_rate_limiter_leaves_no_intent_behind)
{
    test::run_bounded([](asio::io_context& ioc) -> asio::awaitable<void> {
        test::local_kie env(ioc.get_executor(), emulator::emulator_options{}, /*attach=*/true, [](client_options& co) {
            co.transport.rate_limit.submissions_per_window = 2;  // two POSTs now, the rest in a minute
            co.transport.rate_limit.window = std::chrono::minutes(1);
        });
        batch_dir dir;
        auto opts = fast_options(dir, 4);
        {
            batch_runner runner(*env.cli, opts);
            asio::cancellation_signal cancel;
            asio::steady_timer poll(ioc);
            // Stop once two POSTs were answered and the other two wait for the limiter.
            auto stopper = [&]() -> asio::awaitable<void> {
                while (env.kie->snapshot().requests_to(sep_post) < 2u || env.cli->transport_stats().limiter_waiting < 2u)
                {
                    poll.expires_after(5ms);
                    co_await poll.async_wait(use_nothrow_awaitable);
                }
                cancel.emit(asio::cancellation_type::terminal);
            };
            asio::co_spawn(ioc, stopper(), asio::detached);
            auto tracks = make_tracks(4);
            std::function<void(const batch_event&)> no_events;
            auto [ec, s] = co_await runner.async_run(std::move(tracks), std::move(no_events),
                                                     asio::bind_cancellation_slot(cancel.slot(), use_nothrow_awaitable));
            BOOST_TEST((ec == asio::error::operation_aborted), ec.message());
            BOOST_TEST(s.outcome_unknown == 0u);
        }
        std::map<track_state, std::size_t> states;
        for (const auto& e : journal_entries(opts.journal_path)) ++states[e.state];
        BOOST_TEST(states[track_state::separation_intent] == 0u);
        BOOST_TEST(states[track_state::pending] == 2u);
        BOOST_TEST(states[track_state::outcome_unknown] == 0u);
        BOOST_TEST(env.requests(sep_post) == 2u);
    });
}

BOOST_AUTO_TEST_CASE(a_cancelled_batch_resumes_without_resubmitting_and_finishes_every_track)
{
    test::run_bounded(
        [](asio::io_context& ioc) -> asio::awaitable<void> {
            emulator::emulator_options eo;
            eo.separation_delay = 20ms;
            eo.midi_delay = 20ms;
            eo.faults.callback_drop_rate = 0.10;
            batch_case t(ioc.get_executor(), eo, 8);
            auto& [env, dir, opts] = t;
            const auto tracks = make_tracks(60);

            // First run: cancelled once 15 tracks are done.
            std::size_t first_done = 0;
            {
                batch_runner runner(*env.cli, opts);
                asio::cancellation_signal cancel;
                bool cancel_sent = false;
                std::function<void(const batch_event&)> on_event = [&](const batch_event& e) {
                    if (e.what == batch_event::kind::track_done && e.done >= 15 && !cancel_sent)
                    {
                        cancel_sent = true;
                        asio::post(ioc, [&] { cancel.emit(asio::cancellation_type::terminal); });
                    }
                };
                auto first_tracks = tracks;
                auto [ec, s] = co_await runner.async_run(std::move(first_tracks), std::move(on_event),
                                                         asio::bind_cancellation_slot(cancel.slot(), use_nothrow_awaitable));
                BOOST_TEST((ec == asio::error::operation_aborted));
                BOOST_TEST(s.done >= 15u);
                BOOST_TEST(s.done < 60u);
                BOOST_TEST(s.unfinished == 60u - s.done);
                first_done = s.done;
            }
            std::size_t in_progress = 0;
            for (const auto& e : journal_entries(opts.journal_path))
            {
                // A stop never leaves an unanswered submission behind.
                BOOST_TEST((e.state != track_state::separation_intent && e.state != track_state::midi_intent &&
                            e.state != track_state::outcome_unknown && e.state != track_state::failed));
                if (e.state == track_state::separating || e.state == track_state::transcribing) ++in_progress;
            }

            // Second run with the same journal.
            batch_runner runner(*env.cli, opts);
            std::size_t skipped_events = 0;
            std::function<void(const batch_event&)> on_event = [&](const batch_event& e) {
                if (e.what == batch_event::kind::track_skipped) ++skipped_events;
            };
            auto second_tracks = tracks;
            auto [ec, s] = co_await runner.async_run(std::move(second_tracks), std::move(on_event), use_nothrow_awaitable);
            BOOST_TEST_REQUIRE(!ec, ec.message());
            BOOST_TEST(s.skipped_already_done == first_done);
            BOOST_TEST(skipped_events == first_done);
            BOOST_TEST(s.resumed == in_progress);
            BOOST_TEST(s.done == 60u - first_done);
            BOOST_TEST(s.failed == 0u);
            BOOST_TEST(s.outcome_unknown == 0u);
            for (const auto& e : journal_entries(opts.journal_path))
                BOOST_TEST((e.state == track_state::done), e.track.name << " " << to_string(e.state) << " " << e.error);

            auto counters = env.kie->snapshot();
            BOOST_TEST(counters.separation_submissions.size() == 60u);
            for (const auto& [key, n] : counters.separation_submissions) BOOST_TEST(n == 1u, key.first);
            BOOST_TEST(counters.midi_submissions.size() == 60u);
            BOOST_TEST(counters.duplicate_paid_submissions() == 0u);
            BOOST_TEST(counters.requests_to(sep_post) == 60u);
        },
        60s);
}

BOOST_AUTO_TEST_CASE(an_intent_without_a_task_id_becomes_outcome_unknown_and_is_not_resubmitted)
{
    test::run_bounded([](asio::io_context& ioc) -> asio::awaitable<void> {
        batch_case t(ioc.get_executor(), {}, 4);
        auto& [env, dir, opts] = t;
        std::vector<track_spec> tracks{{"music-lost", "audio-lost", "lost"}, {"music-ok", "audio-ok", "ok"}};
        {
            // A crash between sending the separation and recording its answer.
            auto j = journal::open(opts.journal_path);
            j.add_tracks(tracks);
            j.record_intent(j.entries().at(0).id, journal_stage::separation);
        }
        batch_runner runner(*env.cli, opts);
        std::vector<batch_event> failures;
        std::function<void(const batch_event&)> on_event = [&](const batch_event& e) {
            if (e.what == batch_event::kind::track_failed) failures.push_back(e);
        };
        auto run_tracks = tracks;
        auto [ec, s] = co_await runner.async_run(std::move(run_tracks), std::move(on_event), use_nothrow_awaitable);
        BOOST_TEST_REQUIRE(!ec, ec.message());
        BOOST_TEST(s.outcome_unknown == 1u);
        BOOST_TEST(s.done == 1u);
        BOOST_TEST_REQUIRE(failures.size() == 1u);
        BOOST_TEST(failures[0].track_name == "lost");
        BOOST_TEST((failures[0].state == track_state::outcome_unknown));
        BOOST_TEST(failures[0].message.find("not recorded") != std::string::npos);

        auto entries = journal_entries(opts.journal_path);
        BOOST_TEST((entries.at(0).state == track_state::outcome_unknown));
        BOOST_TEST(entries.at(0).failed_stage == "separation");
        BOOST_TEST((entries.at(1).state == track_state::done));
        auto counters = env.kie->snapshot();
        BOOST_TEST(counters.separation_submissions.count({"music-lost", "audio-lost"}) == 0u);
        BOOST_TEST(counters.requests_to(sep_post) == 1u);

        // Running again leaves it alone...
        batch_runner again(*env.cli, opts);
        auto again_tracks = tracks;
        std::function<void(const batch_event&)> no_events;
        auto [ec2, s2] = co_await again.async_run(std::move(again_tracks), std::move(no_events), use_nothrow_awaitable);
        BOOST_TEST(!ec2);
        BOOST_TEST(s2.outcome_unknown == 1u);
        BOOST_TEST(s2.skipped_already_done == 1u);
        BOOST_TEST(env.kie->snapshot().requests_to(sep_post) == 1u);
    });
}

BOOST_AUTO_TEST_CASE(resubmit_unknown_sends_the_unknown_submission_again_by_explicit_choice)
{
    test::run_bounded([](asio::io_context& ioc) -> asio::awaitable<void> {
        batch_case t(ioc.get_executor(), {}, 4);
        auto& [env, dir, opts] = t;
        opts.resubmit_unknown = true;
        std::vector<track_spec> tracks{{"music-lost", "audio-lost", "lost"}};
        {
            auto j = journal::open(opts.journal_path);
            j.add_tracks(tracks);
            j.record_intent(j.entries().at(0).id, journal_stage::separation);
        }
        batch_runner runner(*env.cli, opts);
        std::vector<track_spec> none;  // resume the journal as it is
        std::function<void(const batch_event&)> no_events;
        auto [ec, s] = co_await runner.async_run(std::move(none), std::move(no_events), use_nothrow_awaitable);
        BOOST_TEST_REQUIRE(!ec, ec.message());
        BOOST_TEST(s.done == 1u);
        BOOST_TEST(s.outcome_unknown == 0u);
        auto entries = journal_entries(opts.journal_path);
        BOOST_TEST((entries.at(0).state == track_state::done));
        BOOST_TEST(entries.at(0).attempts == 3u);  // the lost separation, the new one, the MIDI
        BOOST_TEST(fs::exists(opts.output_dir / "lost.mid"));
        auto counters = env.kie->snapshot();
        BOOST_TEST(counters.separation_submissions.count({"music-lost", "audio-lost"}) == 1u);
    });
}

// A write error after KIE finished (here the output directory removed while the tracks run:
// ENOENT) is not a failed track: it keeps its task ids as not_written, and the next run writes
// its files from KIE's record, paying nothing.
BOOST_AUTO_TEST_CASE(results_whose_directory_vanished_stay_not_written_and_the_next_run_writes_them_without_paying)
{
    test::run_bounded([](asio::io_context& ioc) -> asio::awaitable<void> {
        constexpr int n = 4;
        batch_case t(ioc.get_executor());
        auto& [env, dir, opts] = t;
        const auto out = opts.output_dir;
        std::function<void(const batch_event&)> remove_output = [out](const batch_event& e) {
            if (e.what == batch_event::kind::track_started) fs::remove_all(out);
        };
        auto [ec, s] = co_await runner_run(*env.cli, opts, make_tracks(n), remove_output);
        BOOST_TEST_REQUIRE(!ec);
        BOOST_TEST(s.not_written == static_cast<std::size_t>(n));
        BOOST_TEST(s.failed == 0u);
        BOOST_TEST(s.done == 0u);
        BOOST_TEST(s.not_written_reason.find("No such file or directory") != std::string::npos, s.not_written_reason);
        for (const auto& e : journal_entries(opts.journal_path))
        {
            BOOST_TEST((e.state == track_state::not_written));
            BOOST_TEST(!e.midi_task_id.empty());
        }
        check_each_paid_once(env.kie->snapshot(), n);

        auto [ec2, s2] = co_await t.run(n);
        BOOST_TEST_REQUIRE(!ec2);
        BOOST_TEST(s2.done == static_cast<std::size_t>(n));
        BOOST_TEST(s2.rewritten == static_cast<std::size_t>(n));
        BOOST_TEST(s2.not_written == 0u);
        for (int i = 0; i < n; ++i) BOOST_TEST(read_file(out / ("song " + std::to_string(i) + ".mid")).starts_with("MThd"));
        check_each_paid_once(env.kie->snapshot(), n);
    });
}

BOOST_AUTO_TEST_CASE(a_track_failed_by_kie_is_recorded_with_its_stage_and_message)
{
    test::run_bounded([](asio::io_context& ioc) -> asio::awaitable<void> {
        emulator::emulator_options eo;
        eo.faults.separation_failure_rate = 1.0;
        batch_case t(ioc.get_executor(), eo, 2);
        auto& [env, dir, opts] = t;
        batch_runner runner(*env.cli, opts);
        std::string message;
        std::function<void(const batch_event&)> on_event = [&](const batch_event& e) {
            if (e.what == batch_event::kind::track_failed) message = e.message;
        };
        auto tracks = make_tracks(1);
        auto [ec, s] = co_await runner.async_run(std::move(tracks), std::move(on_event), use_nothrow_awaitable);
        BOOST_TEST_REQUIRE(!ec);
        BOOST_TEST(s.failed == 1u);
        BOOST_TEST(!message.empty());
        auto e = journal_entries(opts.journal_path).at(0);
        BOOST_TEST((e.state == track_state::failed));
        BOOST_TEST(e.failed_stage == "separation");
        BOOST_TEST(e.error == message);
        BOOST_TEST(!e.separation_task_id.empty());
        BOOST_TEST(!fs::exists(opts.output_dir / "song 0.mid"));
    });
}

BOOST_AUTO_TEST_CASE(tracks_with_the_same_name_write_separate_files)
{
    test::run_bounded([](asio::io_context& ioc) -> asio::awaitable<void> {
        batch_case t(ioc.get_executor(), {}, 4);
        auto& [env, dir, opts] = t;
        std::vector<track_spec> tracks{{"m1", "a1", "same"}, {"m2", "a2", "same"}};
        std::vector<std::string> done_names;
        std::function<void(const batch_event&)> on_event = [&](const batch_event& e) {
            if (e.what == batch_event::kind::track_done) done_names.push_back(e.track_name);
        };
        auto [ec, s] = co_await runner_run(*env.cli, opts, std::move(tracks), std::move(on_event));
        BOOST_TEST_REQUIRE(!ec);
        BOOST_TEST(s.done == 2u);
        auto entries = journal_entries(opts.journal_path);
        BOOST_TEST(fs::exists(opts.output_dir / "same.mid"));
        BOOST_TEST(fs::exists(opts.output_dir / ("same-" + std::to_string(entries.at(1).id) + ".mid")));
        BOOST_TEST(done_names.size() == 2u);
    });
}

BOOST_AUTO_TEST_CASE(the_coroutine_spelling_returns_the_summary_and_throws_when_the_batch_cannot_run)
{
    test::run_bounded([](asio::io_context& ioc) -> asio::awaitable<void> {
        batch_case t(ioc.get_executor(), {}, 2);
        auto& [env, dir, opts] = t;
        batch_runner runner(*env.cli, opts);
        auto tracks = make_tracks(2);
        batch_summary s = co_await runner.run(std::move(tracks));
        BOOST_TEST(s.done == 2u);

        auto bad = opts;
        bad.journal_path = dir.path / "no-such-dir" / "j.sqlite";
        batch_runner broken(*env.cli, bad);
        bool threw = false;
        try
        {
            auto more = make_tracks(1);
            co_await broken.run(std::move(more));
        }
        catch (const boost::system::system_error& e)
        {
            threw = true;
            BOOST_TEST(std::string(e.what()).find("journal") != std::string::npos, e.what());
        }
        BOOST_TEST(threw);
    });
}

BOOST_AUTO_TEST_CASE(an_unusable_journal_path_fails_the_run_with_diagnostics)
{
    test::run_bounded([](asio::io_context& ioc) -> asio::awaitable<void> {
        batch_case t(ioc.get_executor());
        auto& [env, dir, opts] = t;
        opts.journal_path = dir.path / "no-such-dir" / "j.sqlite";
        batch_runner runner(*env.cli, opts);
        auto tracks = make_tracks(2);
        std::function<void(const batch_event&)> no_events;
        auto [ec, s] = co_await runner.async_run(std::move(tracks), std::move(no_events), use_nothrow_awaitable);
        BOOST_TEST(ec.failed());
        BOOST_TEST(!runner.last_diagnostics().client_message().empty());
        BOOST_TEST(env.kie->snapshot().requests_to(sep_post) == 0u);
    });
}

BOOST_AUTO_TEST_CASE(a_run_given_its_own_diagnostics_reports_there_like_every_other_operation)
{
    test::run_bounded([](asio::io_context& ioc) -> asio::awaitable<void> {
        batch_case t(ioc.get_executor());
        auto& [env, dir, opts] = t;
        opts.journal_path = dir.path / "no-such-dir" / "j.sqlite";
        batch_runner runner(*env.cli, opts);
        auto tracks = make_tracks(2);
        std::function<void(const batch_event&)> no_events;
        diagnostics diag;
        auto [ec, s] = co_await runner.async_run(std::move(tracks), std::move(no_events), diag, use_nothrow_awaitable);
        BOOST_TEST(ec.failed());
        BOOST_TEST(!diag.client_message().empty());
        BOOST_TEST(runner.last_diagnostics().client_message().empty());  // the caller's, not the runner's
        BOOST_TEST(env.kie->snapshot().requests_to(sep_post) == 0u);
    });
}

BOOST_AUTO_TEST_CASE(paid_posts_whose_answers_are_lost_are_found_by_their_tagged_callbacks)
{
    test::run_bounded([](asio::io_context& ioc) -> asio::awaitable<void> {
        emulator::emulator_options eo;
        // Every request is processed (and charged), then its connection is reset unanswered.
        eo.faults.reset_after_processing_rate = 1.0;
        batch_case t(ioc.get_executor(), eo, 3);
        auto& [env, dir, opts] = t;
        // Callbacks only: a record-info read would be reset too.
        opts.pipeline.wait.strategy = wait_strategy::callback;
        opts.pipeline.unknown_outcome_wait = 10s;
        auto [ec, s] = co_await t.run(3);
        BOOST_TEST_REQUIRE(!ec, ec.message());
        check_all_recovered(s, 3);
        check_each_paid_once(env.kie->snapshot(), 3);
        for (const auto& e : journal_entries(opts.journal_path))
        {
            BOOST_TEST((e.state == track_state::done));
            BOOST_TEST(!e.intent_ref.empty());
            BOOST_TEST(!e.midi_task_id.empty());
        }
    });
}

BOOST_AUTO_TEST_CASE(paid_posts_answered_by_a_gateway_html_502_end_done_never_failed)
{
    test::run_bounded([](asio::io_context& ioc) -> asio::awaitable<void> {
        emulator::emulator_options eo;
        // Every paid POST is processed and charged, and answered by a gateway's HTML 502.
        eo.faults.processed_then_html_502_rate = 1.0;
        batch_case t(ioc.get_executor(), eo, 3);
        auto& [env, dir, opts] = t;
        opts.pipeline.unknown_outcome_wait = 10s;
        auto [ec, s] = co_await t.run(4);
        BOOST_TEST_REQUIRE(!ec, ec.message());
        check_all_recovered(s, 4);
        const auto c = env.kie->snapshot();
        check_each_paid_once(c, 4);
        BOOST_TEST(c.garbled_after_processing == 8u);
        for (const auto& e : journal_entries(opts.journal_path)) BOOST_TEST((e.state == track_state::done));
    });
}

BOOST_AUTO_TEST_CASE(credits_running_out_leave_the_rest_pending_and_a_rerun_after_a_top_up_resumes_them)
{
    test::run_bounded([](asio::io_context& ioc) -> asio::awaitable<void> {
        emulator::emulator_options eo;
        // Enough for three tracks (10 per separation, 10 per MIDI), refused the way KIE's Suno
        // OpenAPI spells it: HTTP 429, {"code":429,"msg":"Insufficient credits..."}.
        eo.initial_credits = 60;
        eo.insufficient_credits_code = 429;
        eo.error_http_status_mirrors_code = true;
        batch_case t(ioc.get_executor(), eo, 2);
        auto& [env, dir, opts] = t;
        std::size_t skipped_for_credits = 0;
        std::function<void(const batch_event&)> on_event = [&](const batch_event& e) {
            if (e.what == batch_event::kind::track_skipped && e.message.find("credits") != std::string::npos) ++skipped_for_credits;
        };
        auto [ec, s] = co_await runner_run(*env.cli, opts, make_tracks(8), on_event);
        BOOST_TEST_REQUIRE(!ec, ec.message());
        BOOST_TEST(s.stopped_for_credits);
        BOOST_TEST(s.failed == 0u);
        BOOST_TEST(s.outcome_unknown == 0u);
        BOOST_TEST(s.done >= 1u);
        BOOST_TEST(s.done <= 3u);
        BOOST_TEST(s.not_started_no_credits == 8u - s.done);
        BOOST_TEST(s.unfinished == 8u - s.done);
        BOOST_TEST(skipped_for_credits >= 1u);
        std::size_t done = 0;
        for (const auto& e : journal_entries(opts.journal_path))
        {
            BOOST_TEST((e.state == track_state::done || e.state == track_state::pending || e.state == track_state::separating),
                       to_string(e.state));
            if (e.state == track_state::done) ++done;
        }
        BOOST_TEST(done == s.done);
        const auto first = env.kie->snapshot();
        // No further track was started once KIE refused: at most the two in flight asked again.
        BOOST_TEST(first.responses_with_code(429) <= 2u);
        BOOST_TEST(first.requests_to(sep_post) <= 5u);

        env.kie->set_credits(100000);  // the top-up
        std::function<void(const batch_event&)> no_events;
        std::vector<track_spec> none;
        auto [ec2, s2] = co_await runner_run(*env.cli, opts, std::move(none), no_events);
        BOOST_TEST_REQUIRE(!ec2, ec2.message());
        BOOST_TEST(!s2.stopped_for_credits);
        BOOST_TEST(s2.not_started_no_credits == 0u);
        BOOST_TEST(s2.done == 8u - s.done);
        BOOST_TEST(s2.failed == 0u);
        const auto c = env.kie->snapshot();
        BOOST_TEST(c.separation_submissions.size() == 8u);
        BOOST_TEST(c.midi_submissions.size() == 8u);
        BOOST_TEST(c.duplicate_paid_submissions() == 0u);
        for (const auto& e : journal_entries(opts.journal_path)) BOOST_TEST((e.state == track_state::done));
    });
}

BOOST_AUTO_TEST_CASE(a_track_s_own_separation_type_and_stem_win_over_the_batch_s)
{
    test::run_bounded([](asio::io_context& ioc) -> asio::awaitable<void> {
        batch_case t(ioc.get_executor(), {}, 2);  // the batch's defaults: separate_vocal, all stems
        auto& [env, dir, opts] = t;
        std::vector<track_spec> tracks{
            {.task_id = "m1", .audio_id = "a1", .name = {}, .separation = api::separation_type::split_stem, .stem = "dRUMS",
             .separation_task_id = {}},
            {.task_id = "m2", .audio_id = "a2", .name = {}, .separation = {}, .stem = {}, .separation_task_id = {}}};
        std::function<void(const batch_event&)> no_events;
        auto [ec, s] = co_await runner_run(*env.cli, opts, std::move(tracks), std::move(no_events));
        BOOST_TEST_REQUIRE(!ec, ec.message());
        BOOST_TEST(s.done == 2u);
        auto entries = journal_entries(opts.journal_path);
        BOOST_TEST_REQUIRE(entries.size() == 2u);
        // The journal keeps each track's choices; the stem is in the default output name.
        BOOST_TEST((entries[0].track.separation == api::separation_type::split_stem));
        BOOST_TEST(entries[0].track.stem == "dRUMS");
        BOOST_TEST(!entries[1].track.separation.has_value());
        BOOST_TEST(fs::exists(opts.output_dir / "m1_a1_dRUMS.mid"));
        BOOST_TEST(fs::exists(opts.output_dir / "m2_a2.mid"));
        // The first track's MIDI is of its separation's Drums stem (only split_stem makes one), the second of all stems.
        diagnostics diag;
        auto [gec, rec] = co_await env.cli->async_get_separation(entries[0].separation_task_id, diag, use_nothrow_awaitable);
        BOOST_TEST_REQUIRE(!gec);
        const auto* drums = api::find_stem(rec.origin_data, "Drums");
        BOOST_TEST_REQUIRE(drums != nullptr);
        const auto c = env.kie->snapshot();
        BOOST_TEST(c.midi_submissions.count({entries[0].separation_task_id, drums->id}) == 1u);
        BOOST_TEST(c.midi_submissions.count({entries[1].separation_task_id, ""}) == 1u);
        BOOST_TEST(c.duplicate_paid_submissions() == 0u);
        const auto json = read_file(opts.output_dir / "m1_a1_dRUMS.json");
        BOOST_TEST(json.find("\"stem\":\"Drums\"") != std::string::npos, json);
        BOOST_TEST(json.find("\"stems\":[{\"name\":") != std::string::npos, json);
    });
}

/// A separation made earlier, elsewhere, and finished: its record; its task id in `id`.
asio::awaitable<api::separation_record> separation_made_earlier(batch_env& env, std::string& id)
{
    diagnostics diag;
    api::separation_request req{.task_id = "m0", .audio_id = "a0", .type = api::separation_type::separate_vocal,
                                .callback_url = {}};
    auto [sec, created] = co_await env.cli->async_submit_separation(req, diag, use_nothrow_awaitable);
    BOOST_TEST_REQUIRE(!sec);
    wait_options w;
    w.strategy = wait_strategy::polling;
    w.poll_interval = 10ms;
    auto [wec, rec] = co_await env.cli->async_wait_separation(created.task_id, w, diag, use_nothrow_awaitable);
    BOOST_TEST_REQUIRE(!wec);
    id = created.task_id;
    co_return rec;
}

BOOST_AUTO_TEST_CASE(a_track_naming_a_finished_separation_pays_only_its_midi_and_an_unknown_one_fails_with_nothing_paid)
{
    test::run_bounded([](asio::io_context& ioc) -> asio::awaitable<void> {
        batch_env env(ioc.get_executor());
        batch_dir dir;
        std::string sep;
        const auto rec = co_await separation_made_earlier(env, sep);
        const auto credits = env.kie->snapshot().credits;

        auto opts = fast_options(dir, 2);
        std::vector<track_spec> tracks{
            {.task_id = {}, .audio_id = {}, .name = {}, .separation = {}, .stem = "vocals", .separation_task_id = sep},
            {.task_id = {}, .audio_id = {}, .name = "nowhere", .separation = {}, .stem = {},
             .separation_task_id = "0123456789abcdef0123456789abcdef"}};
        std::string failure;
        std::function<void(const batch_event&)> on_event = [&](const batch_event& e) {
            if (e.what == batch_event::kind::track_failed) failure = e.message;
        };
        auto [ec, s] = co_await runner_run(*env.cli, opts, std::move(tracks), std::move(on_event));
        BOOST_TEST_REQUIRE(!ec, ec.message());
        BOOST_TEST(s.done == 1u);
        BOOST_TEST(s.failed == 1u);
        BOOST_TEST(failure.find("KIE has no record for this task id") != std::string::npos, failure);
        const auto c = env.kie->snapshot();
        BOOST_TEST(c.requests_to(sep_post) == 1u);  // only the one made earlier
        BOOST_TEST(c.requests_to("POST /api/v1/midi/generate") == 1u);
        BOOST_TEST(c.credits < credits);  // the one MIDI
        const auto* vocals = api::find_stem(rec.origin_data, "Vocals");
        BOOST_TEST_REQUIRE(vocals != nullptr);
        BOOST_TEST(c.midi_submissions.count({sep, vocals->id}) == 1u);
        auto entries = journal_entries(opts.journal_path);
        BOOST_TEST_REQUIRE(entries.size() == 2u);
        BOOST_TEST((entries[0].state == track_state::done));
        BOOST_TEST(entries[0].attempts == 1u);  // the MIDI submission only
        BOOST_TEST(entries[0].separation_task_id == sep);
        BOOST_TEST((entries[1].state == track_state::failed));
        BOOST_TEST(entries[1].failed_stage == "separation");
        BOOST_TEST(entries[1].attempts == 0u);
        const auto json = read_file(opts.output_dir / (sep + "_vocals.json"));
        BOOST_TEST(json.find("\"separation_task_id\":\"" + sep + "\"") != std::string::npos, json);
        BOOST_TEST(!fs::exists(opts.output_dir / "nowhere.mid"));
    });
}

BOOST_AUTO_TEST_CASE(the_batch_picks_a_stem_by_audio_id_like_the_pipeline_and_an_id_the_separation_lacks_costs_nothing)
{
    test::run_bounded([](asio::io_context& ioc) -> asio::awaitable<void> {
        batch_env env(ioc.get_executor());
        batch_dir dir;
        std::string sep;
        const auto rec = co_await separation_made_earlier(env, sep);
        const auto* vocals = api::find_stem(rec.origin_data, "Vocals");
        BOOST_TEST_REQUIRE(vocals != nullptr);

        // The batch's stem by audio id, as midi_params::stem_audio_id chooses it for one pipeline.
        auto opts = fast_options(dir, 1);
        opts.pipeline.stem_audio_id = vocals->id;
        std::vector<track_spec> tracks{
            {.task_id = {}, .audio_id = {}, .name = "by_id", .separation = {}, .stem = {}, .separation_task_id = sep}};
        std::function<void(const batch_event&)> no_events;
        auto [ec, s] = co_await runner_run(*env.cli, opts, std::move(tracks), std::move(no_events));
        BOOST_TEST_REQUIRE(!ec, ec.message());
        BOOST_TEST(s.done == 1u);
        auto c = env.kie->snapshot();
        BOOST_TEST(c.midi_submissions.count({sep, vocals->id}) == 1u);
        BOOST_TEST(c.requests_to("POST /api/v1/midi/generate") == 1u);
        const auto json = read_file(opts.output_dir / "by_id.json");
        BOOST_TEST(json.find("\"stem\":\"Vocals\"") != std::string::npos, json);

        // An id the separation does not list: the track fails before its MIDI POST, with the
        // pipeline's message, and nothing is paid.
        batch_dir dir2;
        auto opts2 = fast_options(dir2, 1);
        opts2.pipeline.stem_audio_id = "no-such-stem";
        std::vector<track_spec> tracks2{
            {.task_id = {}, .audio_id = {}, .name = "bad_id", .separation = {}, .stem = {}, .separation_task_id = sep}};
        std::string failure;
        std::function<void(const batch_event&)> on_event = [&](const batch_event& e) {
            if (e.what == batch_event::kind::track_failed) failure = e.message;
        };
        auto [ec2, s2] = co_await runner_run(*env.cli, opts2, std::move(tracks2), std::move(on_event));
        BOOST_TEST_REQUIRE(!ec2, ec2.message());
        BOOST_TEST(s2.failed == 1u);
        BOOST_TEST(failure.find("separation " + sep + " has no stem with audio id \"no-such-stem\"; it has: ") != std::string::npos,
                   failure);
        BOOST_TEST(failure.find(vocals->id + " (Vocals)") != std::string::npos, failure);
        c = env.kie->snapshot();
        BOOST_TEST(c.requests_to("POST /api/v1/midi/generate") == 1u);  // still only the first track's
        BOOST_TEST(!fs::exists(opts2.output_dir / "bad_id.mid"));
    });
}

BOOST_AUTO_TEST_SUITE_END()
