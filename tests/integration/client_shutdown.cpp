// A backend's shutdown with pipelines in flight: client::async_shutdown (every operation stopped
// and accounted for, new ones refused), destruction after the io_context was stopped with work in
// flight (nothing freed is touched: operations keep what they use alive), and a 4-thread soak of
// cancelled pipelines in which every charged task stays known or findable.
#include <kiemidi/batch.hpp>
#include <kiemidi/client.hpp>
#include <kiemidi/emulator/server.hpp>
#include <kiemidi/metrics/model.hpp>

#include "common/batch_fixture.hpp"
#include "common/client_fixture.hpp"
#include "common/temp_dir.hpp"
#include "common/run_bounded.hpp"
#include "nothrow_awaitable.hpp"

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <chrono>
#include <deque>
#include <future>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace asio = boost::asio;
using namespace kiemidi;
using namespace kiemidi::test;
using namespace std::chrono_literals;

namespace {

midi_params shutdown_params_for(const std::string& track)
{
    midi_params p;
    p.task_id = "music-" + track;
    p.audio_id = track;
    p.stage_timeout = 20s;
    p.deadline = 30s;
    p.unknown_outcome_wait = 0ms;  // a lost answer is reported at once: the test looks for it itself
    return p;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(client_shutdown)

BOOST_AUTO_TEST_CASE(a_client_destroyed_after_its_io_context_stopped_with_pipelines_in_flight_touches_nothing_freed)
{
    // The order a backend destroys things in: the io_context is stopped with pipelines in flight,
    // the client is destroyed, the io_context last (destroying the pipelines' coroutine frames).
    std::weak_ptr<metrics::registry> registry;
    std::deque<diagnostics> diags;  // outlive every operation
    constexpr int n = 40;
    {
        asio::io_context ioc;
        emulator::emulator_options eo;
        eo.separation_delay = 300ms;
        eo.faults.paid_answer_delay = 150ms;  // some POSTs are in flight when the io_context stops
        auto env = std::make_unique<local_kie>(ioc.get_executor(), eo, true, [&](client_options& co) {
            co.transport.rate_limit.enabled = false;
            auto owned = std::make_shared<metrics::registry>();  // the client is its only owner
            registry = owned;
            co.metrics = std::move(owned);
        });
        for (int i = 0; i < n; ++i)
        {
            auto& diag = diags.emplace_back();
            env->cli->async_generate_midi(shutdown_params_for("s" + std::to_string(i)), diag, [](error_code, midi_result) {});
        }
        ioc.run_for(250ms);
        BOOST_TEST(env->cli->metrics().pipelines.in_flight.value() == n);
        ioc.stop();
        env.reset();  // the client first
        // The pending pipelines still hold what they use.
        BOOST_TEST(!registry.expired());
    }
    // The io_context destroyed them, and with them the last reference.
    BOOST_TEST(registry.expired());
}

BOOST_AUTO_TEST_CASE(async_shutdown_stops_pipelines_and_waits_accounts_for_paid_posts_and_refuses_new_work)
{
    run_bounded([](asio::io_context& ioc) -> asio::awaitable<void> {
        emulator::emulator_options eo;
        eo.separation_delay = 10s;
        eo.faults.paid_answer_delay = 1500ms;
        unpaced_kie env(ioc.get_executor(), eo);

        // A pipeline whose separation POST is in flight, another waiting, and a standalone wait.
        struct outcome
        {
            std::optional<error_code> ec;
            diagnostics diag;
            midi_result r;
        };
        outcome in_flight, waiting, wait_only;
        auto keep = [](outcome& o) {
            return [&o](error_code ec, midi_result r) {
                o.ec = ec;
                o.r = std::move(r);
            };
        };
        diagnostics sdiag;
        api::separation_request req{.task_id = "music-sd", .audio_id = "sd", .type = api::separation_type::separate_vocal, .callback_url = {}};
        env.cli->async_generate_midi(shutdown_params_for("waiting"), waiting.diag, keep(waiting));
        auto [sec, created] = co_await env.cli->async_submit_separation(req, sdiag, use_nothrow_awaitable);
        BOOST_TEST_REQUIRE(!sec, sdiag.to_string());
        const wait_options w;
        env.cli->async_wait_separation(created.task_id, w, wait_only.diag, [&](error_code ec, api::separation_record) {
            wait_only.ec = ec;
        });
        env.cli->async_generate_midi(shutdown_params_for("in-flight"), in_flight.diag, keep(in_flight));
        co_await sleep_for(300ms);
        BOOST_TEST(env.cli->pending_operations() == 3u);

        const auto t0 = std::chrono::steady_clock::now();
        co_await env.cli->async_shutdown(asio::use_awaitable);
        BOOST_TEST((std::chrono::steady_clock::now() - t0) < 1s);
        BOOST_TEST(env.cli->pending_operations() == 0u);
        co_await eventually([&] { return in_flight.ec && waiting.ec && wait_only.ec; });

        // The waits end with shut_down, keeping what they learned.
        BOOST_TEST((*waiting.ec == client_errc::shut_down), waiting.ec->message() << " " << waiting.diag.to_string());
        BOOST_TEST(!waiting.r.separation_task_id.empty());
        BOOST_TEST((*wait_only.ec == client_errc::shut_down), wait_only.ec->message());
        // The POST in flight ends as an unknown outcome with its reference.
        BOOST_TEST((*in_flight.ec == client_errc::outcome_unknown), in_flight.ec->message() << " " << in_flight.diag.to_string());
        BOOST_TEST(!in_flight.r.separation_reference.empty());
        BOOST_TEST(in_flight.diag.callback_reference() == in_flight.r.separation_reference);

        // New work is refused at once.
        diagnostics late;
        auto [lec, credits] = co_await env.cli->async_get_credits(late, use_nothrow_awaitable);
        BOOST_TEST((lec == client_errc::shut_down), lec.message());
        auto [pec, pr] = co_await env.cli->async_generate_midi(shutdown_params_for("late"), late, use_nothrow_awaitable);
        BOOST_TEST((pec == client_errc::shut_down), pec.message());

        // Every charged separation is known or found by its reference (another client, same hub).
        client_options co;
        co.base_url = env.kie->http_base_url();
        co.api_key = emulator::emulator_options{}.api_key;
        client other(ioc.get_executor(), std::move(co));
        other.attach_callbacks(env.hub, env.listener);
        diagnostics fdiag;
        auto [fec, found] = co_await other.async_find_task(callback_kind::separation, in_flight.r.separation_reference, 15s,
                                                          fdiag, use_nothrow_awaitable);
        BOOST_TEST(!fec, fec.message() << " " << fdiag.to_string());
        const auto kie = env.kie->snapshot();
        BOOST_TEST(charged(kie.separation_submissions) == 3u);  // the waiting pipeline's, the standalone one, the cut one
        BOOST_TEST(kie.requests_to(midi_post) == 0u);
        co_await other.async_shutdown(asio::use_awaitable);

        // Destroyed now, while the io_context still runs: nothing refers to it any more.
        env.cli.reset();
        co_await sleep_for(50ms);
    }, 40s);
}

BOOST_AUTO_TEST_CASE(cancelled_pipelines_on_four_threads_lose_no_paid_task, *boost::unit_test::label("multithreaded"))
{
    asio::io_context ioc(4);
    auto work = asio::make_work_guard(ioc);
    std::vector<std::thread> threads;
    for (int i = 0; i < 4; ++i) threads.emplace_back([&] { ioc.run(); });
    constexpr int n = 120;
    struct one
    {
        diagnostics diag;
        error_code ec;
        midi_result r;
    };
    std::deque<one> runs(n);
    std::atomic<int> done{0};
    std::promise<void> all_done;
    {
        emulator::emulator_options eo;
        eo.separation_delay = 60ms;
        eo.midi_delay = 60ms;
        eo.faults.paid_answer_delay = 80ms;
        unpaced_kie env(ioc.get_executor(), eo);
        std::vector<std::shared_ptr<asio::cancellation_signal>> signals;
        for (int i = 0; i < n; ++i) signals.push_back(std::make_shared<asio::cancellation_signal>());
        for (int i = 0; i < n; ++i)
        {
            auto p = shutdown_params_for("mt" + std::to_string(i));
            const int mode = i % 5;  // none, terminal, partial, total, deadline
            if (mode == 4) p.deadline = std::chrono::milliseconds(40 + (i * 7) % 400);
            auto strand = asio::make_strand(ioc);
            auto sig = signals[std::size_t(i)];
            asio::post(strand, [&, i, p = std::move(p), strand, sig, mode]() mutable {
                auto& run = runs[std::size_t(i)];
                env.cli->async_generate_midi(std::move(p), run.diag,
                                             asio::bind_cancellation_slot(sig->slot(), asio::bind_executor(strand, [&, i](error_code ec, midi_result r) {
                                                 runs[std::size_t(i)].ec = ec;
                                                 runs[std::size_t(i)].r = std::move(r);
                                                 if (++done == n) all_done.set_value();
                                             })));
                if (mode >= 1 && mode <= 3)
                {
                    const auto type = mode == 1 ? asio::cancellation_type::terminal
                                                : mode == 2 ? asio::cancellation_type::partial : asio::cancellation_type::total;
                    auto t = std::make_shared<asio::steady_timer>(strand, std::chrono::milliseconds((i * 13) % 400));
                    t->async_wait([t, sig, type](error_code) { sig->emit(type); });
                }
            });
        }
        const auto status = all_done.get_future().wait_for(60s);
        BOOST_TEST_REQUIRE((status == std::future_status::ready), "pipelines did not finish in time");

        // Every charged task is in a result, or found by the reference of its unknown outcome.
        std::atomic<int> found_sep{0}, found_midi{0}, looked{0};
        int known_sep = 0, known_midi = 0, to_find = 0, succeeded = 0;
        std::promise<void> finds_done;
        std::vector<std::pair<callback_kind, std::string>> refs;
        for (const auto& run : runs)
        {
            const auto& r = run.r;
            if (!run.ec) ++succeeded;
            BOOST_TEST((!run.ec || run.ec == asio::error::operation_aborted || run.ec == client_errc::outcome_unknown ||
                        run.ec == client_errc::timeout),
                       run.ec.message() << " " << run.diag.to_string());
            if (!r.separation_task_id.empty()) ++known_sep;
            if (!r.midi_task_id.empty()) ++known_midi;
            if (run.ec == client_errc::outcome_unknown)
            {
                const bool midi = !r.separation_task_id.empty();
                const auto& ref = midi ? r.midi_reference : r.separation_reference;
                BOOST_TEST(!ref.empty(), run.diag.to_string());
                refs.emplace_back(midi ? callback_kind::midi : callback_kind::separation, ref);
            }
        }
        to_find = int(refs.size());
        std::deque<diagnostics> fdiags(refs.size());
        if (to_find == 0) finds_done.set_value();
        for (std::size_t k = 0; k < refs.size(); ++k)
        {
            env.cli->async_find_task(refs[k].first, refs[k].second, 2s, fdiags[k], [&, kind = refs[k].first](error_code ec, api::task_created) {
                if (!ec) ++(kind == callback_kind::midi ? found_midi : found_sep);
                if (++looked == to_find) finds_done.set_value();
            });
        }
        BOOST_TEST_REQUIRE((finds_done.get_future().wait_for(30s) == std::future_status::ready));
        const auto kie = env.kie->snapshot();
        BOOST_TEST(succeeded > 0);
        BOOST_TEST(kie.duplicate_paid_submissions() == 0u);
        BOOST_TEST(charged(kie.separation_submissions) == std::uint64_t(known_sep + found_sep.load()));
        BOOST_TEST(charged(kie.midi_submissions) == std::uint64_t(known_midi + found_midi.load()));

        std::promise<void> stopped;
        env.cli->async_shutdown([&](error_code) { stopped.set_value(); });
        BOOST_TEST_REQUIRE((stopped.get_future().wait_for(10s) == std::future_status::ready));
        BOOST_TEST(env.cli->pending_operations() == 0u);
    }
    work.reset();
    ioc.stop();
    for (auto& t : threads) t.join();
}

BOOST_AUTO_TEST_CASE(async_shutdown_counts_a_batch_run_stops_it_and_completes_only_after_it)
{
    run_bounded([](asio::io_context& ioc) -> asio::awaitable<void> {
        emulator::emulator_options eo;
        eo.separation_delay = 10s;  // the tracks stay separating
        unpaced_kie env(ioc.get_executor(), eo);
        temp_dir out;
        batch_runner runner(*env.cli, polling_batch_options(out.path, 2, 50ms, 200ms, 30s));
        std::optional<error_code> batch_ec;
        batch_summary summary;
        std::vector<track_spec> tracks{track_spec{.task_id = "music-b1", .audio_id = "b1"},
                                       track_spec{.task_id = "music-b2", .audio_id = "b2"}};
        runner.async_run(std::move(tracks), {}, [&](error_code ec, batch_summary s) {
            batch_ec = ec;
            summary = std::move(s);
        });
        // Counted from its start, before it runs a client operation of its own (it opens its journal first).
        BOOST_TEST(env.cli->pending_operations() == 1u);
        for (int i = 0; i < 300 && charged(env.kie->snapshot().separation_submissions) < 2u; ++i) co_await sleep_for(10ms);
        BOOST_TEST_REQUIRE(charged(env.kie->snapshot().separation_submissions) == 2u);

        co_await env.cli->async_shutdown(asio::use_awaitable);
        // The run had ended (its handler ran) before the shutdown completed.
        BOOST_TEST_REQUIRE(batch_ec.has_value());
        BOOST_TEST((*batch_ec == client_errc::shut_down), batch_ec->message());
        BOOST_TEST(summary.done == 0u);
        BOOST_TEST(env.cli->pending_operations() == 0u);
        // Nothing was paid twice, and a new run is refused.
        BOOST_TEST(charged(env.kie->snapshot().separation_submissions) == 2u);
        auto [ec2, s2] = co_await runner.async_run({}, {}, use_nothrow_awaitable);
        BOOST_TEST((ec2 == client_errc::shut_down), ec2.message());
    });
}

BOOST_AUTO_TEST_SUITE_END()
