// Shared batches in Redis: redis_batch_claims against a real redis-server (its own, on a free
// loopback port), and several `kiemidi batch` worker processes sharing one track list against
// one emulator, one of them killed with SIGKILL in the middle.
#include <kiemidi/batch.hpp>
#include <kiemidi/client.hpp>
#include <kiemidi/emulator/server.hpp>
#include <kiemidi/redis_batch_claims.hpp>
#include "redis/connection.hpp"

#include "common/batch_fixture.hpp"
#include "common/child_process.hpp"
#ifdef KIEMIDI_CLI_PATH
#include "common/cli_fixture.hpp"
#endif
#include "common/local_kie.hpp"
#include "common/temp_dir.hpp"
#include "common/redis_server.hpp"
#include "common/run_bounded.hpp"
#include "nothrow_awaitable.hpp"

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

// Every operation of the claims defaults to kiemidi's token, so a bare co_await works as on the client.
static_assert(requires(kiemidi::redis_batch_claims& claims, kiemidi::diagnostics& diag) {
    claims.async_connect(diag);
    claims.async_check_durability(diag);
});

namespace asio = boost::asio;
namespace fs = std::filesystem;
using namespace kiemidi;
using namespace std::chrono_literals;

namespace {


struct temp_dir : kiemidi::test::temp_dir
{
    temp_dir() : kiemidi::test::temp_dir("kiemidi-redis-batch") {}
};

using kiemidi::test::read_file;

redis::connection_options connection_to(const test::redis_server& srv)
{
    redis::connection_options o;
    o.host = srv.host();
    o.port = srv.port();
    return o;
}

/// One worker's view of the batch, in this process.
struct test_worker
{
    redis_batch_claims claims;
    diagnostics diag;

    test_worker(asio::io_context& ioc, const test::redis_server& srv, const std::string& id,
                std::chrono::milliseconds lease)
        : claims(ioc.get_executor(),
                 redis_batch_claims_options{.redis = connection_to(srv), .batch_id = "b", .worker_id = id, .lease = lease})
    {
    }

    asio::awaitable<void> connect()
    {
        auto [ec] = co_await claims.async_connect(diag, use_nothrow_awaitable);
        BOOST_TEST_REQUIRE(!ec, ec.message() << " " << diag.to_string());
    }

    asio::awaitable<track_claim> claim()
    {
        auto [ec, r] = co_await claims.async_claim(diag, use_nothrow_awaitable);
        BOOST_TEST_REQUIRE(!ec, ec.message() << " " << diag.to_string());
        BOOST_TEST_REQUIRE(r.claim.has_value(), "nothing claimable");
        co_return std::move(*r.claim);
    }

    /// Arguments are trivially destructible: g++ 12 mishandles temporaries inside co_await.
    asio::awaitable<std::tuple<error_code, track_state>> update(const track_claim& c, track_update::kind k,
                                                                journal_stage stage = journal_stage::separation,
                                                                const char* task_id = "", const char* error = "")
    {
        track_update u;
        u.what = k;
        u.stage = stage;
        u.task_id = task_id;
        u.error = error;
        auto id = c.entry.id;
        auto token = c.token;
        co_return co_await claims.async_update(id, std::move(token), std::move(u), diag, use_nothrow_awaitable);
    }
};

/// Runs `body(w1, w2)` (a coroutine) with workers "w1" and "w2" of batch "b", both holding
/// their claims for `lease`, connected to a fresh redis-server.
template <class Body>
void with_two_workers(std::chrono::milliseconds lease, Body body)
{
    test::redis_server srv;
    test::run_bounded(
        [&](asio::io_context& ioc) -> asio::awaitable<void> {
            test_worker w1(ioc, srv, "w1", lease), w2(ioc, srv, "w2", lease);
            co_await w1.connect();
            co_await w2.connect();
            co_await body(w1, w2);
            w1.claims.close();
            w2.claims.close();
        },
        30s);
}

/// KIE (the emulator, HTTP) and a client polling it, worker "w1"'s claims on batch `batch_id`,
/// and a direct connection to the same Redis, to read (or change) the batch's keys as another
/// worker would.
struct shared_batch_env : test::local_kie
{
    redis_batch_claims claims;
    redis::connection conn;
    diagnostics diag;

    shared_batch_env(asio::io_context& ioc, const test::redis_server& srv, emulator::emulator_options eo,
                     const std::string& batch_id, std::chrono::milliseconds lease)
        : local_kie(ioc.get_executor(), std::move(eo), /*attach=*/false,
                    [](client_options& co) { co.transport.rate_limit.enabled = false; }),
          claims(ioc.get_executor(),
                 redis_batch_claims_options{.redis = connection_to(srv), .batch_id = batch_id, .worker_id = "w1", .lease = lease}),
          conn(ioc.get_executor(), connection_to(srv))
    {
    }
    shared_batch_env(const shared_batch_env&) = delete;
    shared_batch_env& operator=(const shared_batch_env&) = delete;
    ~shared_batch_env()
    {
        claims.close();
        conn.close();
    }

    /// Connects both the claims and the direct connection.
    asio::awaitable<void> connect()
    {
        auto [cec] = co_await claims.async_connect(diag, use_nothrow_awaitable);
        BOOST_TEST_REQUIRE(!cec, cec.message() << " " << diag.to_string());
        auto [aec] = co_await conn.async_connect(diag, use_nothrow_awaitable);
        BOOST_TEST_REQUIRE(!aec, aec.message() << " " << diag.to_string());
    }
};

/// Runs `tracks` once, without events, with a fresh runner on env's client and claims.
asio::awaitable<std::tuple<error_code, batch_summary>> run_shared(shared_batch_env& env, const batch_options& bo,
                                                                  std::vector<track_spec> tracks)
{
    batch_runner runner(*env.cli, bo, env.claims);
    std::function<void(const batch_event&)> no_events;
    co_return co_await runner.async_run(std::move(tracks), std::move(no_events), use_nothrow_awaitable);
}

/// Waits (without blocking the io_context) until `d` has passed: lets a lease expire.
asio::awaitable<void> pass(std::chrono::milliseconds d) { return test::sleep_for(d); }

}  // namespace

BOOST_AUTO_TEST_SUITE(redis_batch, *boost::unit_test::label("redis"))

BOOST_AUTO_TEST_CASE(a_lapsed_claim_is_taken_over_with_its_task_id_and_the_old_owner_is_fenced_off)
{
    with_two_workers(300ms, [](test_worker& w1, test_worker& w2) -> asio::awaitable<void> {
        diagnostics diag;
        const claims_open_options no_requeue;

        // Both workers open the same list: the tracks are added once.
        std::vector<track_spec> tracks{{"m1", "a1", "one"}, {"m2", "a2", "one"}};
        auto t1 = tracks;
        auto [oec1, c1] = co_await w1.claims.async_open(std::move(t1), no_requeue, diag, use_nothrow_awaitable);
        BOOST_TEST_REQUIRE(!oec1, oec1.message() << " " << diag.to_string());
        auto t2 = tracks;
        auto [oec2, c2] = co_await w2.claims.async_open(std::move(t2), no_requeue, diag, use_nothrow_awaitable);
        BOOST_TEST_REQUIRE(!oec2);
        BOOST_TEST(c2.total == 2u);
        BOOST_TEST(c2[track_state::pending] == 2u);

        // w1 takes the first track, pays for its separation and records the task id, then stops renewing.
        auto a = co_await w1.claim();
        BOOST_TEST(a.entry.track.task_id == "m1");
        BOOST_TEST(a.output_name == "one");
        BOOST_TEST(a.previous_owner.empty());
        auto [iec, is] = co_await w1.update(a, track_update::kind::intent);
        BOOST_TEST_REQUIRE(!iec, iec.message() << " " << w1.diag.to_string());
        BOOST_TEST((is == track_state::separation_intent));
        auto [tec, ts] = co_await w1.update(a, track_update::kind::task_id, journal_stage::separation, "sep-1");
        BOOST_TEST_REQUIRE(!tec);
        BOOST_TEST((ts == track_state::separating));

        // w2 gets the other track (same name: made unique), then nothing until w1's lease lapses.
        auto b = co_await w2.claim();
        BOOST_TEST(b.entry.track.task_id == "m2");
        BOOST_TEST(b.output_name == "one-2");
        auto [nec, none] = co_await w2.claims.async_claim(diag, use_nothrow_awaitable);
        BOOST_TEST_REQUIRE(!nec);
        BOOST_TEST(!none.claim.has_value());
        BOOST_TEST(!none.finished);
        BOOST_TEST(none.retry_after.count() > 0);

        co_await pass(400ms);
        auto taken = co_await w2.claim();
        BOOST_TEST(taken.entry.id == a.entry.id);
        BOOST_TEST(taken.previous_owner == "w1");
        BOOST_TEST((taken.entry.state == track_state::separating));
        BOOST_TEST(taken.entry.separation_task_id == "sep-1");  // resumed, not paid again

        // w1 is fenced off: it may neither pay again nor finish the track.
        auto [lec, ls] = co_await w1.update(a, track_update::kind::intent, journal_stage::midi);
        BOOST_TEST((lec == claim_errc::claim_lost));
        BOOST_TEST(w1.diag.to_string().find("another worker") != std::string::npos, w1.diag.to_string());
        auto [dec, ds] = co_await w1.update(a, track_update::kind::done);
        BOOST_TEST((dec == claim_errc::claim_lost));

        // w2 finishes it; a retried change (its answer lost) is answered the same way.
        BOOST_TEST(!std::get<0>(co_await w2.update(taken, track_update::kind::intent, journal_stage::midi)));
        BOOST_TEST(!std::get<0>(co_await w2.update(taken, track_update::kind::intent, journal_stage::midi)));
        BOOST_TEST(!std::get<0>(co_await w2.update(taken, track_update::kind::task_id, journal_stage::midi, "midi-1")));
        BOOST_TEST(!std::get<0>(co_await w2.update(taken, track_update::kind::task_id, journal_stage::midi, "midi-1")));
        auto [fec, fs] = co_await w2.update(taken, track_update::kind::done);
        BOOST_TEST_REQUIRE(!fec);
        BOOST_TEST((fs == track_state::done));
        BOOST_TEST(!std::get<0>(co_await w2.update(b, track_update::kind::release)));

        auto [eec, entries] = co_await w1.claims.async_entries(diag, use_nothrow_awaitable);
        BOOST_TEST_REQUIRE(!eec);
        BOOST_TEST_REQUIRE(entries.size() == 2u);
        BOOST_TEST((entries[0].entry.state == track_state::done));
        BOOST_TEST(entries[0].entry.midi_task_id == "midi-1");
        BOOST_TEST(entries[0].entry.attempts == 2u);  // one separation, one MIDI: the retried intent counted once
        BOOST_TEST((entries[1].entry.state == track_state::pending));  // released: claimable again at once
        BOOST_TEST(entries[1].owner.empty());
    });
}

BOOST_AUTO_TEST_CASE(a_lapsed_claim_without_a_task_id_comes_back_as_an_intent_and_a_late_task_id_is_kept)
{
    with_two_workers(200ms, [](test_worker& w1, test_worker& w2) -> asio::awaitable<void> {
        diagnostics diag;
        const claims_open_options no_requeue;
        std::vector<track_spec> tracks{{"m1", "a1", ""}};
        auto [oec, counts] = co_await w1.claims.async_open(std::move(tracks), no_requeue, diag, use_nothrow_awaitable);
        BOOST_TEST_REQUIRE(!oec);

        auto a = co_await w1.claim();
        BOOST_TEST_REQUIRE(!std::get<0>(co_await w1.update(a, track_update::kind::intent)));
        co_await pass(300ms);  // w1 hangs in its POST past the lease

        // w2 sees a paid POST without a recorded answer: the runner marks it outcome_unknown.
        auto taken = co_await w2.claim();
        BOOST_TEST((taken.entry.state == track_state::separation_intent));
        auto [uec, us] = co_await w2.update(taken, track_update::kind::outcome_unknown, journal_stage::separation, "", "answer lost");
        BOOST_TEST_REQUIRE(!uec);
        BOOST_TEST((us == track_state::outcome_unknown));

        // w1's answer arrives late: the task id is kept and the track becomes resumable, never repaid.
        auto [tec, ts] = co_await w1.update(a, track_update::kind::task_id, journal_stage::separation, "sep-late");
        BOOST_TEST((tec == claim_errc::claim_lost));
        BOOST_TEST((ts == track_state::separating));
        auto again = co_await w2.claim();
        BOOST_TEST((again.entry.state == track_state::separating));
        BOOST_TEST(again.entry.separation_task_id == "sep-late");
        auto [cnt_ec, c] = co_await w2.claims.async_counts(diag, use_nothrow_awaitable);
        BOOST_TEST_REQUIRE(!cnt_ec);
        BOOST_TEST(c[track_state::outcome_unknown] == 0u);
        BOOST_TEST(c[track_state::separating] == 1u);
    });
}

BOOST_AUTO_TEST_CASE(a_worker_whose_claim_is_taken_over_stops_waiting_for_that_track)
{
    // KIE takes 60 s for the separation; the claim passes to another worker after the task id is
    // recorded. The first worker must give the track up at its next lease renewal, not hold a
    // slot until KIE answers.
    temp_dir dir;
    test::redis_server srv;
    test::run_bounded(
        [&](asio::io_context& ioc) -> asio::awaitable<void> {
            emulator::emulator_options eo;
            eo.separation_delay = 60s;
            shared_batch_env env(ioc, srv, eo, "takeover", 600ms);
            // env.conn is another worker's view of the same Redis, to read and steal the track directly.
            co_await env.connect();
            const auto bo = test::polling_batch_options(dir.path / "out", 1, 50ms, 100ms, 120s);
            batch_runner runner(*env.cli, bo, env.claims);

            std::optional<batch_event> skipped;
            asio::cancellation_signal stop;
            std::optional<std::tuple<error_code, batch_summary>> finished;
            runner.async_run({{"music-1", "track-1", "song"}},
                             [&](const batch_event& e) {
                                 if (e.what == batch_event::kind::track_skipped) skipped = e;
                             },
                             asio::bind_cancellation_slot(stop.slot(), [&](error_code ec, batch_summary s) {
                                 finished.emplace(ec, std::move(s));
                             }));

            // Once the separation's task id is recorded, another worker takes the track over.
            const std::string track_key = "kiemidi:batch:{takeover}:t:1";
            // (Checks below are not fatal from here on: the run is stopped and awaited either way.)
            bool separating = false;
            for (int i = 0; i < 500 && !separating; ++i)
            {
                std::vector<std::string> get{"HGET", track_key, "state"};
                auto [gec, state] = co_await env.conn.async_command(std::move(get), use_nothrow_awaitable);
                separating = !gec && state.str == "separating";
                if (!separating) co_await pass(20ms);
            }
            BOOST_TEST(separating, "the separation's task id was never recorded");
            std::vector<std::string> steal{"HSET", track_key, "owner", "another-worker-token"};
            auto [sec, sr] = co_await env.conn.async_command(std::move(steal), use_nothrow_awaitable);
            BOOST_TEST(!sec, sec.message());

            // Within a few renewal periods (200 ms each), far from KIE's 60 s.
            for (int i = 0; i < 200 && !skipped; ++i) co_await pass(20ms);
            BOOST_TEST(skipped.has_value(), "the worker still waits for a track it no longer holds");
            if (skipped) BOOST_TEST(skipped->message.find("taken over") != std::string::npos, skipped->message);
            BOOST_TEST(env.requests(test::sep_post) == 1u);
            BOOST_TEST(env.requests(test::midi_post) == 0u);

            // The run itself goes on while the other worker holds the track; stop it.
            stop.emit(asio::cancellation_type::terminal);
            while (!finished) co_await pass(20ms);
        },
        30s);
}

BOOST_AUTO_TEST_CASE(a_shared_batch_runs_each_track_s_own_type_and_stem)
{
    temp_dir dir;
    test::redis_server srv;
    test::run_bounded(
        [&](asio::io_context& ioc) -> asio::awaitable<void> {
            shared_batch_env env(ioc, srv, {}, "choices", 5s);
            // env.conn is a direct view of the same Redis, to read the track's hash.
            co_await env.connect();
            const auto bo = test::polling_batch_options(dir.path / "out", 2, 20ms, 50ms, 20s);
            // The same song twice: its Bass stem after split_stem, and all stems with the batch's defaults.
            const std::vector<track_spec> tracks{
                {.task_id = "m1", .audio_id = "a1", .name = {}, .separation = api::separation_type::split_stem, .stem = "bass",
                 .separation_task_id = {}},
                {.task_id = "m1", .audio_id = "a1", .name = {}, .separation = {}, .stem = {}, .separation_task_id = {}}};
            {
                auto list = tracks;
                auto [ec, s] = co_await run_shared(env, bo, std::move(list));
                BOOST_TEST_REQUIRE(!ec, ec.message());
                BOOST_TEST(s.done == 2u);
            }
            BOOST_TEST(fs::exists(bo.output_dir / "m1_a1_bass.mid"));
            BOOST_TEST(fs::exists(bo.output_dir / "m1_a1.mid"));
            // Redis keeps the track's choices, and its MIDI was made from the Bass stem.
            const std::string key = "kiemidi:batch:{choices}:t:1";
            std::vector<std::string> get{"HMGET", key, "type", "stem", "sep"};
            auto [gec, fields] = co_await env.conn.async_command(std::move(get), use_nothrow_awaitable);
            BOOST_TEST_REQUIRE((!gec && fields.elements.size() == 3u));
            BOOST_TEST(fields.elements[0].str == "split_stem");
            BOOST_TEST(fields.elements[1].str == "bass");
            const std::string sep = fields.elements[2].str;
            auto [rec_ec, rec] = co_await env.cli->async_get_separation(sep, env.diag, use_nothrow_awaitable);
            BOOST_TEST_REQUIRE(!rec_ec);
            const auto* bass = api::find_stem(rec.origin_data, "Bass");
            BOOST_TEST_REQUIRE(bass != nullptr);
            auto c = env.kie->snapshot();
            BOOST_TEST(c.midi_submissions.count({sep, bass->id}) == 1u);
            BOOST_TEST(c.requests_to("POST /api/v1/vocal-removal/generate") == 2u);
            BOOST_TEST(c.requests_to("POST /api/v1/midi/generate") == 2u);

            // The same list again: both tracks are known (their choices are part of them), nothing is paid.
            {
                auto list = tracks;
                auto [ec, s] = co_await run_shared(env, bo, std::move(list));
                BOOST_TEST_REQUIRE(!ec, ec.message());
                BOOST_TEST(s.total == 2u);
                BOOST_TEST(s.skipped_already_done == 2u);
            }
            c = env.kie->snapshot();
            BOOST_TEST(c.requests_to("POST /api/v1/vocal-removal/generate") == 2u);
            BOOST_TEST(c.requests_to("POST /api/v1/midi/generate") == 2u);
        },
        30s);
}

#ifdef KIEMIDI_CLI_PATH
BOOST_AUTO_TEST_CASE(three_workers_with_one_killed_complete_every_track_exactly_once, *boost::unit_test::label("slow"))
{
    temp_dir dir;
    test::redis_server srv;

    // KIE: an emulator in this process on its own thread; slow enough that tracks overlap.
    asio::io_context kie_ioc;
    emulator::emulator_options eo;
    // Waits much longer than a POST, so that a frozen worker is usually waiting, not posting.
    eo.separation_delay = 800ms;
    eo.midi_delay = 800ms;
    auto kie = std::make_unique<emulator::server>(kie_ioc.get_executor(), eo);
    kie->start();
    const auto ca_file = dir.path / "kie-ca.pem";
    std::ofstream(ca_file) << kie->ca_certificate_pem();
    std::thread kie_thread([&] { kie_ioc.run(); });
    struct stop_kie
    {
        asio::io_context& ioc;
        std::unique_ptr<emulator::server>& kie;
        std::thread& t;
        ~stop_kie()
        {
            asio::post(ioc, [this] { kie->stop(); });
            t.join();
        }
    } stopper{kie_ioc, kie, kie_thread};

    constexpr int tracks = 36;
    const auto list = dir.path / "tracks.csv";
    {
        std::ofstream l(list);
        for (int i = 0; i < tracks; ++i) l << "music-" << i << ",track-" << i << ",song-" << i << "\n";
    }
    const auto out_dir = dir.path / "out";
    const std::string redis_url = "redis://127.0.0.1:" + std::to_string(srv.port());
    const std::vector<std::string> shared{"--redis", redis_url, "--batch-id", "kill-test"};
    auto worker_args = [&](const std::string& id, int concurrency = 4) {
        std::vector<std::string> a{"batch", list.string(), "-o", out_dir.string(), "--concurrency", std::to_string(concurrency),
                                   "--worker-id", id, "--lease-ms", "1500", "--poll-interval-ms", "50",
                                   "--base-url", kie->https_base_url(), "--api-key", eo.api_key, "--ca-file", ca_file.string()};
        a.insert(a.end(), shared.begin(), shared.end());
        return a;
    };
    auto status_of = [&](std::string& out) {
        static int n = 0;
        auto log = dir.path / ("status-" + std::to_string(++n) + ".log");
        std::vector<std::string> a{"status"};
        a.insert(a.end(), shared.begin(), shared.end());
        test::child_process st(KIEMIDI_CLI_PATH, a, log);
        auto code = st.wait_for(30s);
        out = read_file(log);
        BOOST_TEST_REQUIRE(code.has_value(), "status did not finish:\n" << out);
        return *code;
    };

    std::vector<std::unique_ptr<test::child_process>> workers;
    // w2, the one to be killed, runs one track at a time: it is then rarely caught mid-POST, and
    // it still holds work when the others have taken most of the list (a slow, sanitized build
    // must not let it finish before a moment to kill it comes).
    for (const char* id : {"w1", "w2", "w3"})
        workers.push_back(std::make_unique<test::child_process>(KIEMIDI_CLI_PATH, worker_args(id, id == std::string("w2") ? 1 : 4),
                                                                dir.path / (std::string(id) + ".log")));

    // Kill w2 while it holds tracks whose KIE task ids are recorded. It is frozen first and
    // killed only if it is not between a paid POST and recording its answer: a kill there leaves
    // an unknown outcome, which kiemidi reports instead of paying twice (tested elsewhere).
    auto& victim = *workers[1];
    const std::regex held_by_victim(R"(claimed \S+ (\w+) by w2,)");
    std::size_t held_at_kill = 0;
    const auto give_up = std::chrono::steady_clock::now() + 30s;
    while (held_at_kill == 0)
    {
        BOOST_TEST_REQUIRE((std::chrono::steady_clock::now() < give_up), "w2 never held a resumable track");
        BOOST_TEST_REQUIRE(!victim.wait_for(100ms).has_value(), "w2 finished before it could be killed");
        victim.pause();
        std::string st;
        status_of(st);
        std::size_t resumable = 0, in_post = 0;
        for (std::sregex_iterator it(st.begin(), st.end(), held_by_victim), end; it != end; ++it)
        {
            const auto state = (*it)[1].str();
            if (state == "separating" || state == "transcribing") ++resumable;
            else if (state == "separation_intent" || state == "midi_intent") ++in_post;
        }
        if (resumable > 0 && in_post == 0)
        {
            victim.kill_hard();
            held_at_kill = resumable;
        }
        else victim.resume();
    }
    BOOST_TEST_MESSAGE("killed w2 holding " << held_at_kill << " track(s) with a recorded task id");

    std::string logs;
    int survivors_taken_over = 0;
    for (std::size_t i : {0u, 2u})
    {
        auto code = workers[i]->wait_for(60s);
        auto log = read_file(dir.path / ("w" + std::to_string(i + 1) + ".log"));
        BOOST_TEST_REQUIRE(code.has_value(), "worker " << i + 1 << " did not finish:\n" << log);
        BOOST_TEST(*code == 0, log);
        std::smatch m;
        if (std::regex_search(log, m, std::regex(R"((\d+) taken over\))"))) survivors_taken_over += std::stoi(m[1]);
        if (std::regex_search(log, m, std::regex(R"(batch kill-test: [^\n]*)"))) BOOST_TEST_MESSAGE("w" << i + 1 << ": " << m[0]);
        logs += log;
    }
    logs += read_file(dir.path / "w2.log");
    // The survivors took over (at least) what w2 held, after its lease expired.
    BOOST_TEST(survivors_taken_over >= static_cast<int>(held_at_kill));

    // Every track paid exactly once per stage, finished exactly once, its file written.
    const auto c = kie->snapshot();
    BOOST_TEST(c.duplicate_paid_submissions() == 0u);
    BOOST_TEST(c.separation_submissions.size() == static_cast<std::size_t>(tracks));
    BOOST_TEST(c.midi_submissions.size() == static_cast<std::size_t>(tracks));
    for (const auto& [key, n] : c.separation_submissions) BOOST_TEST(n == 1u, key.first);
    for (const auto& [key, n] : c.midi_submissions) BOOST_TEST(n == 1u, key.first);
    for (int i = 0; i < tracks; ++i)
    {
        const std::string name = "song-" + std::to_string(i);
        BOOST_TEST(read_file(out_dir / (name + ".mid")).starts_with("MThd"), name);
        std::size_t oks = 0;
        for (std::size_t p = 0; (p = logs.find("ok   " + name + ":", p)) != std::string::npos; ++p)
            if (p == 0 || logs[p - 1] == '\n') ++oks;
        BOOST_TEST(oks == 1u, name << " finished " << oks << " times");
    }
    for (const auto& f : fs::directory_iterator(out_dir))
        BOOST_TEST(f.path().filename().string().find(".tmp-") == std::string::npos);

    std::string st;
    BOOST_TEST(status_of(st) == 0, st);
    BOOST_TEST(st.find("done: " + std::to_string(tracks)) != std::string::npos, st);
    BOOST_TEST(st.find("claimed ") == std::string::npos, st);

    // A late worker finds the batch finished and pays for nothing.
    test::child_process late(KIEMIDI_CLI_PATH, worker_args("w4"), dir.path / "w4.log");
    auto late_code = late.wait_for(30s);
    BOOST_TEST_REQUIRE(late_code.has_value());
    BOOST_TEST(*late_code == 0, read_file(dir.path / "w4.log"));
    BOOST_TEST(kie->snapshot().tasks_created == c.tasks_created);
}

// ---- The shared state lost under the workers: a Redis restarted empty, flushed, or a key evicted ----

namespace {

using test::operator+;

/// Sends `cmd` to `srv` on a connection of its own; returns the reply (fails the test on error).
redis::reply redis_do(const test::redis_server& srv, std::vector<std::string> cmd)
{
    redis::reply out;
    test::run_bounded(
        [&](asio::io_context& ioc) -> asio::awaitable<void> {
            redis::connection c(ioc.get_executor(), connection_to(srv));
            diagnostics diag;
            auto [cec] = co_await c.async_connect(diag, use_nothrow_awaitable);
            BOOST_TEST_REQUIRE(!cec, cec.message() << " " << diag.to_string());
            auto [ec, r] = co_await c.async_command(std::move(cmd), diag, use_nothrow_awaitable);
            BOOST_TEST(!ec, ec.message() << " " << diag.to_string());
            out = std::move(r);
            c.close();
        },
        10s);
    return out;
}

/// A shared batch of `tracks` rows run by `kiemidi batch` worker processes against an emulator
/// in this process that takes its time (tracks overlap), and the checks every loss case makes.
struct lost_state_env
{
    test::cli_env env;
    test::redis_server srv;
    std::filesystem::path list;
    int tracks;

    static emulator::emulator_options slow()
    {
        emulator::emulator_options eo;
        eo.separation_delay = 700ms;
        eo.midi_delay = 700ms;
        return eo;
    }

    explicit lost_state_env(int n) : env(slow()), list(test::write_track_list(env.dir.path, n)), tracks(n) {}

    std::string redis_url() const { return "redis://127.0.0.1:" + std::to_string(srv.port()); }

    std::vector<std::string> worker_args(const std::string& id, const std::vector<std::string>& extra = {}) const
    {
        return std::vector<std::string>{"batch", list.string(), "-o", env.out_dir().string(), "--concurrency", "3",
                                        "--worker-id", id, "--lease-ms", "1500", "--poll-interval-ms", "50",
                                        "--redis", redis_url(), "--batch-id", "lost"} +
               extra + env.kie.flags();
    }

    std::size_t separations() const { return env.kie.server->snapshot().requests_to("POST /api/v1/vocal-removal/generate"); }

    /// Waits (bounded) until KIE was paid `n` separations.
    void wait_for_separations(std::size_t n) const
    {
        const auto give_up = std::chrono::steady_clock::now() + 30s;
        while (separations() < n)
        {
            BOOST_TEST_REQUIRE((std::chrono::steady_clock::now() < give_up), "the batch never got going");
            std::this_thread::sleep_for(20ms);
        }
    }

    std::size_t midi_files() const
    {
        std::size_t n = 0;
        for (int i = 0; i < tracks; ++i)
            if (fs::exists(env.out_dir() / ("song-" + std::to_string(i) + ".mid"))) ++n;
        return n;
    }

    /// After the loss: every track whose separation was paid was carried to its MIDI file (nothing
    /// paid is thrown away), nothing was paid twice, and the workers said what happened.
    void check_paid_work_kept(const std::string& logs) const
    {
        const auto c = env.kie.server->snapshot();
        const auto seps = c.requests_to("POST /api/v1/vocal-removal/generate");
        BOOST_TEST(seps > 0u);
        BOOST_TEST(c.requests_to("POST /api/v1/midi/generate") == seps, logs);
        BOOST_TEST(midi_files() == seps, logs);
        BOOST_TEST(c.duplicate_paid_submissions() == 0u);
        BOOST_TEST(logs.find("in Redis was lost") != std::string::npos, logs);
        BOOST_TEST(fs::exists(env.out_dir() / "kiemidi-shared-record.tsv"));
    }

    /// The same command again on the restarted Redis: re-seeds the batch, finishes it, and pays
    /// only for what was never paid.
    void check_rerun_pays_nothing_twice()
    {
        const auto before = separations();
        BOOST_TEST(env.run(std::vector<std::string>{"batch", list.string(), "-o", env.out_dir().string(), "--concurrency", "4",
                                                    "--worker-id", "rerun", "--lease-ms", "1000", "--poll-interval-ms", "50", "--redis", redis_url(),
                                                    "--batch-id", "lost"},
                           90s) == 0,
                   env.out);
        BOOST_TEST(env.out.find("results already written") != std::string::npos, env.out);
        const auto c = env.kie.server->snapshot();
        BOOST_TEST(c.duplicate_paid_submissions() == 0u);
        BOOST_TEST(c.separation_submissions.size() == static_cast<std::size_t>(tracks));
        BOOST_TEST(c.requests_to("POST /api/v1/vocal-removal/generate") == static_cast<std::size_t>(tracks));
        BOOST_TEST(c.requests_to("POST /api/v1/midi/generate") == static_cast<std::size_t>(tracks));
        BOOST_TEST(midi_files() == static_cast<std::size_t>(tracks));
        BOOST_TEST_MESSAGE("paid before the rerun: " << before << " separations; after: " << tracks);
    }
};

/// Waits for `w` (bounded) and returns its exit code and log.
int finish(test::child_process& w, const fs::path& log, std::string& logs)
{
    auto code = w.wait_for(90s);
    const auto text = read_file(log);
    logs += text;
    BOOST_TEST_REQUIRE(code.has_value(), "the worker did not finish:\n" << text);
    return *code;
}

}  // namespace

BOOST_AUTO_TEST_CASE(redis_restarted_empty_under_two_workers_is_exit_7_and_the_rerun_pays_nothing_twice)
{
    lost_state_env t(14);
    const auto log1 = t.env.dir.path / "w1.log", log2 = t.env.dir.path / "w2.log";
    test::child_process w1(test::cli_path, t.worker_args("w1"), log1);
    test::child_process w2(test::cli_path, t.worker_args("w2"), log2);
    t.wait_for_separations(4);
    // A Redis without persistence, killed and started again: empty.
    t.srv.stop();
    t.srv.start();
    std::string logs;
    BOOST_TEST(finish(w1, log1, logs) == 7, logs);
    BOOST_TEST(finish(w2, log2, logs) == 7, logs);
    t.check_paid_work_kept(logs);
    BOOST_TEST(t.midi_files() < 14u, "the loss came too late to test anything");
    t.check_rerun_pays_nothing_twice();
}

BOOST_AUTO_TEST_CASE(a_flushdb_mid_batch_is_exit_7_and_the_rerun_pays_nothing_twice)
{
    lost_state_env t(10);
    const auto log = t.env.dir.path / "w1.log";
    test::child_process w1(test::cli_path, t.worker_args("w1"), log);
    t.wait_for_separations(3);
    redis_do(t.srv, {"FLUSHDB"});
    std::string logs;
    BOOST_TEST(finish(w1, log, logs) == 7, logs);
    t.check_paid_work_kept(logs);
    t.check_rerun_pays_nothing_twice();
}

BOOST_AUTO_TEST_CASE(an_evicted_track_key_is_exit_7_and_its_paid_work_is_still_written)
{
    lost_state_env t(8);
    const auto log = t.env.dir.path / "w1.log";
    test::child_process w1(test::cli_path, t.worker_args("w1"), log);
    t.wait_for_separations(2);
    // As an evicting maxmemory-policy would: one key of a track the worker holds disappears.
    const auto held = redis_do(t.srv, {"ZRANGE", "kiemidi:batch:{lost}:leases", "0", "0"});
    BOOST_TEST_REQUIRE(held.elements.size() == 1u, "no track held");
    const std::string id = held.elements[0].str;
    BOOST_TEST(redis_do(t.srv, {"DEL", "kiemidi:batch:{lost}:t:" + id}).integer == 1);
    std::string logs;
    BOOST_TEST(finish(w1, log, logs) == 7, logs);
    BOOST_TEST(logs.find("track " + id + ", held by this worker, is gone") != std::string::npos, logs);
    t.check_paid_work_kept(logs);
    // Track `id` was song-(id-1): its separation was paid, so its file was written all the same.
    BOOST_TEST(test::is_midi_file(t.env.out_dir() / ("song-" + std::to_string(std::stoi(id) - 1) + ".mid")));
}

BOOST_AUTO_TEST_CASE(a_redis_that_may_lose_the_batch_is_named_before_anything_is_paid)
{
    lost_state_env t(2);
    // The test server runs without persistence: a warning, and the batch runs.
    BOOST_TEST(t.env.run(std::vector<std::string>{"batch", t.list.string(), "-o", t.env.out_dir().string(), "--redis",
                                                  t.redis_url(), "--batch-id", "warned", "--lease-ms", "1000"}) == 0,
               t.env.out);
    BOOST_TEST(t.env.out.find("may lose the batch's state: appendonly is off and RDB snapshots are off") != std::string::npos,
               t.env.out);
    const auto paid = t.separations();
    BOOST_TEST(paid == 2u);

    // Required: refused before anything is paid.
    BOOST_TEST(t.env.run(std::vector<std::string>{"batch", t.list.string(), "-o", (t.env.dir.path / "o2").string(), "--redis",
                                                  t.redis_url(), "--batch-id", "required", "--require-durable-redis", "--lease-ms", "1000"}) == 2,
               t.env.out);
    BOOST_TEST(t.env.out.find("--require-durable-redis") != std::string::npos, t.env.out);
    BOOST_TEST(t.separations() == paid);

    // Durable and never evicting: no warning; an evicting policy is named (CONFIG SET of the
    // persistence files is refused by Redis 7, so these are checked on the reading itself).
    redis_durability durable{.known = true, .refused = {}, .appendonly = "yes", .save = "", .maxmemory_policy = "noeviction"};
    BOOST_TEST(durable.warning().empty());
    auto evicting = durable;
    evicting.maxmemory_policy = "allkeys-lru";
    BOOST_TEST(evicting.warning().find("maxmemory-policy is allkeys-lru: keys of the batch may be evicted") != std::string::npos);
    redis_do(t.srv, {"CONFIG", "SET", "maxmemory-policy", "volatile-lru"});
    BOOST_TEST(t.env.run(std::vector<std::string>{"batch", t.list.string(), "-o", (t.env.dir.path / "o3").string(), "--redis",
                                                  t.redis_url(), "--batch-id", "evicting", "--lease-ms", "1000"}) == 0,
               t.env.out);
    BOOST_TEST(t.env.out.find("maxmemory-policy is volatile-lru") != std::string::npos, t.env.out);

    // A managed Redis that refuses CONFIG: said, and the batch goes on (an error when required).
    redis_do(t.srv, {"ACL", "SETUSER", "worker", "on", ">worker-secret", "~*", "&*", "+@all", "-config"});
    const std::string as_worker = "redis://worker:worker-secret@127.0.0.1:" + std::to_string(t.srv.port());
    BOOST_TEST(t.env.run(std::vector<std::string>{"batch", t.list.string(), "-o", (t.env.dir.path / "o4").string(), "--redis",
                                                  as_worker, "--batch-id", "managed", "--lease-ms", "1000"}) == 0,
               t.env.out);
    BOOST_TEST(t.env.out.find("cannot check whether Redis keeps the batch's state") != std::string::npos, t.env.out);
    const auto paid_before_refusal = t.separations();
    BOOST_TEST(t.env.run(std::vector<std::string>{"batch", t.list.string(), "-o", (t.env.dir.path / "o5").string(), "--redis",
                                                  as_worker, "--batch-id", "managed-required", "--require-durable-redis", "--lease-ms", "1000"}) == 2,
               t.env.out);
    BOOST_TEST(t.separations() == paid_before_refusal);
}
#endif

BOOST_AUTO_TEST_SUITE_END()
