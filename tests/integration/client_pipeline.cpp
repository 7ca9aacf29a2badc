// generate_midi end to end: emulator (KIE) + callback listener + hub + client, on 127.0.0.1.
#include <kiemidi/callback_listener.hpp>
#include <kiemidi/client.hpp>
#include <kiemidi/emulator/server.hpp>
#include <kiemidi/in_process_callback_hub.hpp>

#include "common/client_fixture.hpp"
#include "common/run_bounded.hpp"
#include "nothrow_awaitable.hpp"

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/system/system_error.hpp>
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <chrono>
#include <future>
#include <memory>
#include <thread>

namespace asio = boost::asio;
using namespace kiemidi;
using namespace kiemidi::test;
using namespace std::chrono_literals;

namespace {

using pipeline_env = unpaced_kie;
constexpr bool polling_only = false;  // no callbacks attached: only polls see the results

midi_params params_for(int i, wait_options w = {})
{
    midi_params p;
    p.task_id = "music" + std::to_string(i);
    p.audio_id = "audio" + std::to_string(i);
    p.wait = w;
    p.stage_timeout = 20s;
    p.deadline = 30s;
    return p;
}

wait_options fast_polls(wait_strategy s, std::chrono::milliseconds overdue = 90s)
{
    wait_options w;
    w.strategy = s;
    w.callback_overdue = overdue;
    w.poll_interval = 10ms;
    w.max_poll_interval = 50ms;
    return w;
}

/// generate_midi against KIE with `fault` always on fails in `stage`, carrying KIE's message.
generated fails_in_stage(double emulator::fault_options::*fault, int track, const std::string& stage)
{
    auto out = generate_against(always(fault), params_for(track));
    BOOST_TEST(!!out.ec);
    BOOST_TEST(out.diag.stage() == stage);
    BOOST_TEST(!out.diag.server_message().empty());
    return out;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(pipeline)

BOOST_AUTO_TEST_CASE(callbacks_complete_a_pipeline_with_two_paid_posts_and_no_polls)
{
    const auto out = generate_against({}, params_for(1));
    const auto& r = out.r;
    BOOST_TEST_REQUIRE(!out.ec, out.diag.to_string());
    BOOST_TEST(r.note_count() > 0u);
    BOOST_TEST(!r.instruments.empty());
    BOOST_TEST(!r.separation_task_id.empty());
    BOOST_TEST(!r.midi_task_id.empty());
    BOOST_TEST(r.stems.vocal.has_value());
    BOOST_TEST(r.polls == 0u);
    BOOST_TEST(r.callbacks == 2u);
    BOOST_TEST(out.requests(sep_post) == 1u);
    BOOST_TEST(out.requests(midi_post) == 1u);
    BOOST_TEST(out.requests(sep_get) == 0u);
    BOOST_TEST(out.requests(midi_get) == 0u);
}

BOOST_AUTO_TEST_CASE(the_result_carries_the_tempo_map_unless_the_caller_declines_it)
{
    const auto with_grid = generate_against({}, params_for(31));
    BOOST_TEST_REQUIRE(!with_grid.ec, with_grid.diag.to_string());
    BOOST_TEST(!with_grid.r.grid.empty());
    BOOST_TEST(with_grid.r.grid.bpm > 0.0);
    BOOST_TEST((with_grid.r.grid == smf::estimate_beat_grid(with_grid.r.instruments)));

    auto p = params_for(32);
    p.tempo = smf::tempo_choice{smf::tempo_mode::given, 100};
    const auto given = generate_against({}, p);
    BOOST_TEST_REQUIRE(!given.ec, given.diag.to_string());
    BOOST_TEST(given.r.grid.bpm == 100.0, boost::test_tools::tolerance(0.5));

    p = params_for(33);
    p.tempo = std::nullopt;  // not wanted: no CPU spent on it
    const auto without = generate_against({}, p);
    BOOST_TEST_REQUIRE(!without.ec, without.diag.to_string());
    BOOST_TEST(without.r.note_count() > 0u);
    BOOST_TEST(without.r.grid.empty());
}

BOOST_AUTO_TEST_CASE(the_coroutine_spelling_returns_the_notes)
{
    test::run_bounded([](asio::io_context& ioc) -> asio::awaitable<void> {
        pipeline_env env(ioc.get_executor());
        midi_result r = co_await env.cli->generate_midi("music-a", "audio-a");
        BOOST_TEST(r.note_count() > 0u);
    });
}

BOOST_AUTO_TEST_CASE(dropped_callbacks_are_replaced_by_polls_in_hybrid_mode)
{
    const auto out = generate_against(always(&emulator::fault_options::callback_drop_rate),
                                      params_for(2, fast_polls(wait_strategy::hybrid, 100ms)));
    BOOST_TEST_REQUIRE(!out.ec, out.diag.to_string());
    BOOST_TEST(out.r.note_count() > 0u);
    BOOST_TEST(out.r.callbacks == 0u);
    BOOST_TEST(out.r.polls >= 2u);
    BOOST_TEST(out.requests(sep_post) == 1u);
    BOOST_TEST(out.requests(midi_post) == 1u);
}

BOOST_AUTO_TEST_CASE(polling_works_without_any_listener)
{
    const auto out = generate_against({}, params_for(3, fast_polls(wait_strategy::polling)), polling_only);
    BOOST_TEST_REQUIRE(!out.ec, out.diag.to_string());
    BOOST_TEST(out.r.note_count() > 0u);
    BOOST_TEST(out.r.callbacks == 0u);
    BOOST_TEST(out.listener.callbacks_accepted == 0u);
}

BOOST_AUTO_TEST_CASE(duplicated_callbacks_deliver_each_result_once)
{
    const auto out = generate_against(always(&emulator::fault_options::callback_duplicate_rate), params_for(4));
    BOOST_TEST_REQUIRE(!out.ec, out.diag.to_string());
    BOOST_TEST(out.r.callbacks == 2u);
    BOOST_TEST(out.requests(midi_post) == 1u);
}

BOOST_AUTO_TEST_CASE(a_failed_separation_names_the_stage_and_carries_kie_message)
{
    const auto out = fails_in_stage(&emulator::fault_options::separation_failure_rate, 5, "separation");
    BOOST_TEST(out.requests(midi_post) == 0u);
}

BOOST_AUTO_TEST_CASE(a_failed_midi_generation_names_the_stage)
{
    fails_in_stage(&emulator::fault_options::midi_failure_rate, 6, "midi");
}

BOOST_AUTO_TEST_CASE(insufficient_credits_stop_the_pipeline_before_midi)
{
    emulator::emulator_options eo;
    eo.initial_credits = 0;
    const auto out = generate_against(eo, params_for(7));
    BOOST_TEST((out.ec == api_errc::insufficient_credits));
    BOOST_TEST(out.diag.stage() == "separation");
}

/// KIE processes (and charges) both paid POSTs of track `track`, but `fault` garbles both
/// answers: the pipeline recovers both tasks from their tagged callbacks and pays nothing twice.
void both_paid_posts_are_recovered(double emulator::fault_options::*fault, int track)
{
    auto p = params_for(track);
    p.unknown_outcome_wait = 10s;
    const auto out = generate_against(always(fault), p);
    BOOST_TEST_REQUIRE(!out.ec, out.ec.message() << " " << out.diag.to_string());
    BOOST_TEST(out.r.note_count() > 0u);
    BOOST_TEST(out.r.recovered == 2u);
    const auto& c = out.kie;
    BOOST_TEST(c.requests_to(sep_post) == 1u);
    BOOST_TEST(c.requests_to(midi_post) == 1u);
    BOOST_TEST(c.separation_submissions.size() == 1u);
    BOOST_TEST(c.midi_submissions.size() == 1u);
    BOOST_TEST(c.duplicate_paid_submissions() == 0u);
    BOOST_TEST(c.garbled_after_processing == 2u);
}

BOOST_AUTO_TEST_CASE(paid_posts_answered_by_a_gateway_html_502_are_recovered_from_their_callbacks)
{
    // The answers are a gateway's HTML 502.
    both_paid_posts_are_recovered(&emulator::fault_options::processed_then_html_502_rate, 8);
}

BOOST_AUTO_TEST_CASE(paid_posts_answered_by_kie_json_500_after_processing_are_recovered_from_their_callbacks)
{
    // The answers are KIE's {"code":500}.
    both_paid_posts_are_recovered(&emulator::fault_options::processed_then_json_500_rate, 10);
}

BOOST_AUTO_TEST_CASE(a_kie_json_500_without_a_callback_is_an_unknown_outcome_not_a_failure)
{
    auto p = params_for(11);
    p.unknown_outcome_wait = 300ms;
    // {"code":500}: the emulator did not process it, but the client cannot know.
    const auto out = generate_against(always(&emulator::fault_options::http_500_rate), p);
    BOOST_TEST((out.ec == client_errc::outcome_unknown), out.ec.message() << " " << out.diag.to_string());
    BOOST_TEST(out.diag.stage() == "separation");
    BOOST_TEST(out.diag.client_message().find("may still have been processed") != std::string::npos, out.diag.to_string());
    BOOST_TEST(out.requests(sep_post) == 1u);  // not resent
    BOOST_TEST(out.requests(midi_post) == 0u);
}

BOOST_AUTO_TEST_CASE(a_paid_answer_lost_without_a_callback_listener_stays_unknown_and_is_not_resent)
{
    const auto out = generate_against(always(&emulator::fault_options::processed_then_html_502_rate),
                                      params_for(9, fast_polls(wait_strategy::polling)), polling_only);
    BOOST_TEST((out.ec == client_errc::outcome_unknown), out.ec.message() << " " << out.diag.to_string());
    BOOST_TEST(out.diag.stage() == "separation");
    BOOST_TEST((out.diag.http_status() == 502u));
    BOOST_TEST(out.requests(sep_post) == 1u);
    BOOST_TEST(out.requests(midi_post) == 0u);
}

BOOST_AUTO_TEST_CASE(one_stem_is_transcribed_when_asked)
{
    auto p = params_for(8);
    p.stem = "Instrumental";
    const auto out = generate_against({}, p);
    BOOST_TEST_REQUIRE(!out.ec, out.diag.to_string());
    BOOST_TEST(!out.r.transcribed_stem_id.empty());
    BOOST_TEST(out.r.stem_list.size() >= 2u);
}

BOOST_AUTO_TEST_CASE(cancelling_a_pipeline_sends_no_further_paid_post)
{
    test::run_bounded([](asio::io_context& ioc) -> asio::awaitable<void> {
        emulator::emulator_options eo;
        eo.separation_delay = 500ms;
        pipeline_env env(ioc.get_executor(), eo);
        asio::cancellation_signal cancel;
        diagnostics diag;
        asio::steady_timer t(ioc, 100ms);
        t.async_wait([&](auto) { cancel.emit(asio::cancellation_type::terminal); });
        auto [ec, r] = co_await env.cli->async_generate_midi(params_for(9), diag,
                                                             asio::bind_cancellation_slot(cancel.slot(), use_nothrow_awaitable));
        BOOST_TEST((ec == asio::error::operation_aborted));
        BOOST_TEST(env.requests(sep_post) == 1u);
        BOOST_TEST(env.requests(midi_post) == 0u);
        BOOST_TEST(env.hub.stats().waiting == 0u);
    });
}

BOOST_AUTO_TEST_CASE(a_stage_timeout_is_reported_as_timeout_naming_the_stage)
{
    emulator::emulator_options eo;
    eo.separation_delay = 10s;
    auto p = params_for(10);
    p.stage_timeout = 100ms;
    const auto out = generate_against(eo, p);
    BOOST_TEST((out.ec == client_errc::timeout));
    BOOST_TEST(out.diag.stage() == "separation");
}

// KIE's MIDI page answers a MIDI POST for separation 5c79****be8e with the same task id, and KIE
// repeats callback deliveries: the separation's repeated callback must not be taken for the MIDI
// result, and a fast MIDI callback must not be dropped as a repeat of the separation's.

BOOST_AUTO_TEST_CASE(equal_task_ids_and_a_repeated_separation_callback_give_the_real_notes_in_every_wait_mode)
{
    for (auto strategy : {wait_strategy::callback, wait_strategy::hybrid, wait_strategy::polling})
    {
        BOOST_TEST_CONTEXT("strategy " << static_cast<int>(strategy))
        {
            emulator::emulator_options eo;
            eo.midi_task_id_equals_separation = true;
            eo.faults.repeat_separation_callback_after_midi_submit = true;
            eo.midi_delay = 300ms;  // the repeated separation callback arrives while the MIDI task is pending
            const auto out = generate_against(eo, params_for(20, fast_polls(strategy, 30s)));
            const auto& r = out.r;
            BOOST_TEST_REQUIRE(!out.ec, out.diag.to_string());
            BOOST_TEST(r.midi_task_id == r.separation_task_id);
            BOOST_TEST(r.note_count() > 0u);  // not the separation's body read as an empty MIDI result
            BOOST_TEST(r.note_count() == notes_in(out.kie_notes_json));
            BOOST_TEST(out.kie.callbacks_duplicated == 1u);  // the repeat was sent
            if (strategy == wait_strategy::polling)
            {
                BOOST_TEST(r.callbacks == 0u);
                continue;
            }
            BOOST_TEST(r.callbacks == 2u);
            BOOST_TEST(r.polls == 0u);
            // It reached the hub (before the MIDI callback) and was recognised as the separation's repeat.
            BOOST_TEST(out.listener.duplicates == 1u);
            BOOST_TEST(out.requests(midi_post) == 1u);
        }
    }
}

BOOST_AUTO_TEST_CASE(equal_task_ids_and_a_midi_callback_before_its_answer_finish_at_once)
{
    for (auto strategy : {wait_strategy::callback, wait_strategy::hybrid, wait_strategy::polling})
    {
        BOOST_TEST_CONTEXT("strategy " << static_cast<int>(strategy))
        {
            emulator::emulator_options eo;
            eo.midi_task_id_equals_separation = true;
            eo.midi_delay = 0ms;                       // the MIDI task completes (and calls back) at once,
            eo.faults.paid_answer_delay = 300ms;       // while the answer to its POST is held back
            auto p = params_for(21, fast_polls(strategy, 30s));
            p.deadline = 10s;  // well before callback_overdue: no waiting for it, and no hanging
            const auto started = std::chrono::steady_clock::now();
            const auto out = generate_against(eo, p);  // setting up and closing KIE count too
            const auto took = std::chrono::steady_clock::now() - started;
            const auto& r = out.r;
            BOOST_TEST_REQUIRE(!out.ec, out.diag.to_string());
            BOOST_TEST(took < 10s);
            BOOST_TEST(r.midi_task_id == r.separation_task_id);
            const auto expected = notes_in(out.kie_notes_json);
            BOOST_TEST(expected > 0u);
            BOOST_TEST(r.note_count() == expected);
            if (strategy == wait_strategy::polling) continue;
            BOOST_TEST(r.callbacks == 2u);
            BOOST_TEST(r.polls == 0u);
            BOOST_TEST(out.listener.buffered == 2u);  // both came before their answers
            BOOST_TEST(out.listener.duplicates == 0u);
        }
    }
}

BOOST_AUTO_TEST_CASE(a_thousand_concurrent_pipelines_on_one_thread_each_pay_twice)
{
    test::run_bounded([](asio::io_context& ioc) -> asio::awaitable<void> {
        emulator::emulator_options eo;
        eo.separation_delay = 50ms;
        eo.midi_delay = 50ms;
        pipeline_env env(ioc.get_executor(), eo);
        constexpr int n = 1000;
        int ok = 0, done = 0;
        std::string first_miss;  // why the first pipeline that was not right was not
        asio::steady_timer all_done(ioc, std::chrono::steady_clock::time_point::max());
        for (int i = 0; i < n; ++i)
        {
            asio::co_spawn(ioc, [&, i]() -> asio::awaitable<void> {
                diagnostics diag;
                auto p = params_for(1000 + i);
                p.tempo = std::nullopt;  // the pipelines' machinery is tested here; the tempo map's CPU is benchmarked
                // All start at once and share one thread with KIE: under a sanitizer on a busy
                // machine the last ones finish well after 30 s. Correctness, not speed, is asserted.
                p.stage_timeout = p.deadline = 150s;
                auto [ec, r] = co_await env.cli->async_generate_midi(std::move(p), diag, use_nothrow_awaitable);
                if (!ec && r.note_count() > 0 && r.polls == 0) ++ok;
                else if (first_miss.empty())
                    first_miss = ec ? ec.message() + ": " + diag.to_string() : "polls " + std::to_string(r.polls) + ", notes " + std::to_string(r.note_count());
                if (++done == n) all_done.cancel();
            }, asio::detached);
        }
        co_await all_done.async_wait(use_nothrow_awaitable);
        BOOST_TEST(ok == n, first_miss);
        BOOST_TEST(env.requests(sep_post) == std::size_t(n));
        BOOST_TEST(env.requests(midi_post) == std::size_t(n));
        BOOST_TEST(env.kie->snapshot().duplicate_paid_submissions() == 0u);
    }, 180s);
}

BOOST_AUTO_TEST_CASE(pipelines_complete_when_the_io_context_runs_on_four_threads, *boost::unit_test::label("multithreaded"))
{
    asio::io_context ioc;
    auto work = asio::make_work_guard(ioc);
    std::vector<std::thread> threads;
    for (int i = 0; i < 4; ++i) threads.emplace_back([&] { ioc.run(); });
    std::atomic<int> ok{0}, done{0};
    std::promise<void> finished;
    constexpr int n = 200;
    {
        emulator::emulator_options eo;
        pipeline_env env(ioc.get_executor(), eo);
        for (int i = 0; i < n; ++i)
        {
            asio::co_spawn(ioc, [&, i]() -> asio::awaitable<void> {
                diagnostics diag;
                auto [ec, r] = co_await env.cli->async_generate_midi(params_for(5000 + i), diag, use_nothrow_awaitable);
                if (!ec && r.note_count() > 0) ++ok;
                if (++done == n) finished.set_value();
            }, asio::detached);
        }
        auto status = finished.get_future().wait_for(60s);
        BOOST_TEST_REQUIRE((status == std::future_status::ready), "pipelines did not finish in time");
        BOOST_TEST(ok.load() == n);
        BOOST_TEST(env.kie->snapshot().duplicate_paid_submissions() == 0u);
    }
    work.reset();
    ioc.stop();
    for (auto& t : threads) t.join();
}

BOOST_AUTO_TEST_SUITE_END()
