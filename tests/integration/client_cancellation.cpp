// Ending a pipeline early never loses a paid task: each cancellation type (terminal, partial,
// total), `||` with a timer and the deadline, at each stage (before the paid POST, with the POST
// in flight, while waiting), checked by the error, the result's task ids and callback references,
// and the emulator's charges; a reference found again with async_find_task.
#include <kiemidi/client.hpp>
#include <kiemidi/emulator/server.hpp>

#include "common/client_fixture.hpp"
#include "common/run_bounded.hpp"
#include "nothrow_awaitable.hpp"

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <string>

namespace asio = boost::asio;
using namespace kiemidi;
using namespace kiemidi::test;
using namespace std::chrono_literals;

namespace {

using clock_type = std::chrono::steady_clock;

midi_params params_for(const std::string& track)
{
    midi_params p;
    p.task_id = "music-" + track;
    p.audio_id = track;
    p.stage_timeout = 20s;
    p.deadline = 30s;
    p.unknown_outcome_wait = 10s;
    return p;
}

/// What one cancelled pipeline left.
struct ended
{
    error_code ec;
    diagnostics diag;
    midi_result r;
    clock_type::duration took{};
    emulator::counters kie;
    std::string found_task;  // async_find_task(kind, reference) after it ended, when asked
    error_code find_ec;
};

/// Runs a pipeline on `env`, emits `type` on its cancellation slot after `after`, then (with
/// `find` set) looks for the task of the POST whose outcome is unknown by its reference.
asio::awaitable<ended> cancel_after(local_kie& env, midi_params p, asio::cancellation_type type,
                                    std::chrono::milliseconds after, bool find_midi = false)
{
    ended out;
    asio::cancellation_signal cancel;
    asio::steady_timer t(co_await asio::this_coro::executor, after);
    t.async_wait([&](error_code ec) {
        if (!ec) cancel.emit(type);
    });
    const auto t0 = clock_type::now();
    auto [ec, r] = co_await env.cli->async_generate_midi(std::move(p), out.diag,
                                                         asio::bind_cancellation_slot(cancel.slot(), use_nothrow_awaitable));
    out.took = clock_type::now() - t0;
    t.cancel();
    out.ec = ec;
    out.r = std::move(r);
    const std::string ref = find_midi ? out.r.midi_reference : out.r.separation_reference;
    if (ec == client_errc::outcome_unknown && !ref.empty())
    {
        diagnostics fdiag;
        const auto kind = find_midi ? callback_kind::midi : callback_kind::separation;
        auto [fec, created] = co_await env.cli->async_find_task(kind, ref, 10s, fdiag, use_nothrow_awaitable);
        out.find_ec = fec;
        out.found_task = created.task_id;
    }
    out.kie = env.kie->snapshot();
    co_return out;
}

/// KIE that answers each paid POST only after `answer_delay` (the task exists and is charged
/// meanwhile; its callback comes after `task_delay`).
emulator::emulator_options slow_answers(std::chrono::milliseconds answer_delay, std::chrono::milliseconds task_delay)
{
    emulator::emulator_options eo;
    eo.faults.paid_answer_delay = answer_delay;
    eo.separation_delay = task_delay;
    eo.midi_delay = task_delay;
    return eo;
}

const char* name_of(asio::cancellation_type t)
{
    if (t == asio::cancellation_type::terminal) return "terminal";
    if (t == asio::cancellation_type::partial) return "partial";
    return "total";
}

/// The separation POST is cut while in flight: outcome_unknown, the reference in the result and
/// in diag, the separation charged once, no MIDI POST, and the task found again by its reference.
void check_cut_in_flight(const ended& e)
{
    BOOST_TEST((e.ec == client_errc::outcome_unknown), e.ec.message() << " " << e.diag.to_string());
    BOOST_TEST(e.diag.stage() == "separation");
    BOOST_TEST(!e.r.separation_reference.empty());
    BOOST_TEST(e.diag.callback_reference() == e.r.separation_reference);
    BOOST_TEST(e.r.separation_task_id.empty());
    BOOST_TEST(charged(e.kie.separation_submissions) == 1u);
    BOOST_TEST(e.kie.requests_to(midi_post) == 0u);
    BOOST_TEST(!e.find_ec, e.find_ec.message());
    BOOST_TEST(!e.found_task.empty());
}

}  // namespace

BOOST_AUTO_TEST_SUITE(pipeline_cancellation)

BOOST_AUTO_TEST_CASE(every_type_before_the_paid_post_is_admitted_stops_it_with_nothing_paid)
{
    for (auto type : {asio::cancellation_type::terminal, asio::cancellation_type::partial, asio::cancellation_type::total})
    {
        BOOST_TEST_CONTEXT(name_of(type))
        {
            run_bounded([type](asio::io_context& ioc) -> asio::awaitable<void> {
                // One paid POST per 30 s: the second pipeline's POST waits behind the rate limiter.
                emulator::emulator_options eo;
                eo.separation_delay = 5s;
                local_kie env(ioc.get_executor(), eo, true, [](client_options& co) {
                    co.transport.rate_limit.submissions_per_window = 1;
                    co.transport.rate_limit.window = 30s;
                });
                diagnostics first_diag;
                asio::cancellation_signal stop_first;
                env.cli->async_generate_midi(params_for("first"), first_diag,
                                             asio::bind_cancellation_slot(stop_first.slot(), [](error_code, midi_result) {}));
                co_await eventually([&] { return env.requests(sep_post) == 1u; });
                const auto e = co_await cancel_after(env, params_for("second"), type, 200ms);
                BOOST_TEST((e.ec == asio::error::operation_aborted), e.ec.message() << " " << e.diag.to_string());
                BOOST_TEST(e.took < 5s);
                BOOST_TEST(e.r.separation_reference.empty());  // never sent
                BOOST_TEST(e.r.separation_task_id.empty());
                BOOST_TEST(e.kie.requests_to(sep_post) == 1u);  // the first pipeline's only
                BOOST_TEST(charged(e.kie.separation_submissions) == 1u);
                stop_first.emit(asio::cancellation_type::terminal);
                co_await eventually([&] { return env.cli->pending_operations() == 0u; });
            });
        }
    }
}

BOOST_AUTO_TEST_CASE(terminal_cancellation_with_the_separation_post_in_flight_is_an_unknown_outcome_with_its_reference)
{
    run_bounded([](asio::io_context& ioc) -> asio::awaitable<void> {
        unpaced_kie env(ioc.get_executor(), slow_answers(3000ms, 100ms));
        const auto e = co_await cancel_after(env, params_for("t1"), asio::cancellation_type::terminal, 400ms);
        check_cut_in_flight(e);
        BOOST_TEST(e.took < 2500ms);  // cut, not waited for
    });
}

BOOST_AUTO_TEST_CASE(partial_and_total_cancellation_with_the_post_in_flight_wait_for_its_answer_then_stop)
{
    for (auto type : {asio::cancellation_type::partial, asio::cancellation_type::total})
    {
        BOOST_TEST_CONTEXT(name_of(type))
        {
            run_bounded([type](asio::io_context& ioc) -> asio::awaitable<void> {
                // The separation takes 5 s: a pipeline that went on would wait for it, then pay for MIDI.
                unpaced_kie env(ioc.get_executor(), slow_answers(800ms, 5s));
                const auto e = co_await cancel_after(env, params_for("p1"), type, 300ms);
                BOOST_TEST((e.ec == asio::error::operation_aborted), e.ec.message() << " " << e.diag.to_string());
                BOOST_TEST(!e.r.separation_task_id.empty());  // the answer came: the paid task is known
                BOOST_TEST(e.diag.task_id() == e.r.separation_task_id);
                BOOST_TEST(!e.r.separation_reference.empty());
                BOOST_TEST(e.took >= 700ms);
                BOOST_TEST(e.took < 4s);  // not waiting for the separation
                BOOST_TEST(charged(e.kie.separation_submissions) == 1u);
                BOOST_TEST(e.kie.requests_to(midi_post) == 0u);
            });
        }
    }
}

BOOST_AUTO_TEST_CASE(a_timer_raced_with_or_against_the_post_in_flight_leaves_the_reference_in_diagnostics)
{
    using namespace asio::experimental::awaitable_operators;
    run_bounded([](asio::io_context& ioc) -> asio::awaitable<void> {
        unpaced_kie env(ioc.get_executor(), slow_answers(1500ms, 100ms));
        diagnostics diag;
        asio::steady_timer timer(ioc, 400ms);
        auto p = params_for("or1");
        auto which = co_await (env.cli->async_generate_midi(std::move(p), diag, asio::use_awaitable) ||
                               timer.async_wait(asio::use_awaitable));
        BOOST_TEST(which.index() == 1u);  // the timer won; the pipeline's result is discarded by `||`
        BOOST_TEST(!diag.callback_reference().empty(), diag.to_string());
        BOOST_TEST(diag.stage() == "separation");
        diagnostics fdiag;
        auto [fec, created] = co_await env.cli->async_find_task(callback_kind::separation, diag.callback_reference(), 10s,
                                                               fdiag, use_nothrow_awaitable);
        BOOST_TEST(!fec, fec.message());
        BOOST_TEST(!created.task_id.empty());
        const auto kie = env.kie->snapshot();
        BOOST_TEST(charged(kie.separation_submissions) == 1u);
        BOOST_TEST(kie.requests_to(midi_post) == 0u);
    });
}

BOOST_AUTO_TEST_CASE(the_deadline_with_the_post_in_flight_is_an_unknown_outcome_with_its_reference)
{
    run_bounded([](asio::io_context& ioc) -> asio::awaitable<void> {
        unpaced_kie env(ioc.get_executor(), slow_answers(1500ms, 100ms));
        auto p = params_for("d1");
        p.deadline = 300ms;
        const auto e = co_await cancel_after(env, std::move(p), asio::cancellation_type::none, 1h);
        check_cut_in_flight(e);
        BOOST_TEST(e.diag.client_message().find("deadline") != std::string::npos, e.diag.to_string());
    });
}

BOOST_AUTO_TEST_CASE(terminal_cancellation_with_the_midi_post_in_flight_keeps_the_separation_and_the_midi_reference)
{
    run_bounded([](asio::io_context& ioc) -> asio::awaitable<void> {
        // Separation answered at ~600 ms (its callback came before), MIDI POST answered ~600 ms later.
        unpaced_kie env(ioc.get_executor(), slow_answers(600ms, 50ms));
        const auto e = co_await cancel_after(env, params_for("m1"), asio::cancellation_type::terminal, 900ms, true);
        BOOST_TEST((e.ec == client_errc::outcome_unknown), e.ec.message() << " " << e.diag.to_string());
        BOOST_TEST(e.diag.stage() == "midi");
        BOOST_TEST(!e.r.separation_task_id.empty());
        BOOST_TEST(e.r.stems.vocal.has_value());
        BOOST_TEST(e.r.midi_task_id.empty());
        BOOST_TEST(!e.r.midi_reference.empty());
        BOOST_TEST(e.diag.callback_reference() == e.r.midi_reference);
        BOOST_TEST(e.diag.task_id() == e.r.separation_task_id);
        BOOST_TEST(charged(e.kie.separation_submissions) == 1u);
        BOOST_TEST(charged(e.kie.midi_submissions) == 1u);
        BOOST_TEST(!e.find_ec, e.find_ec.message());
        BOOST_TEST(!e.found_task.empty());
    });
}

BOOST_AUTO_TEST_CASE(every_type_while_waiting_stops_the_wait_and_keeps_the_paid_task)
{
    for (auto type : {asio::cancellation_type::terminal, asio::cancellation_type::partial, asio::cancellation_type::total})
    {
        BOOST_TEST_CONTEXT(name_of(type))
        {
            run_bounded([type](asio::io_context& ioc) -> asio::awaitable<void> {
                emulator::emulator_options eo;
                eo.separation_delay = 10s;
                unpaced_kie env(ioc.get_executor(), eo);
                const auto e = co_await cancel_after(env, params_for("w1"), type, 300ms);
                BOOST_TEST((e.ec == asio::error::operation_aborted), e.ec.message() << " " << e.diag.to_string());
                BOOST_TEST(e.took < 3s);
                BOOST_TEST(!e.r.separation_task_id.empty());
                BOOST_TEST(!e.r.separation_reference.empty());
                BOOST_TEST(e.diag.task_id() == e.r.separation_task_id);
                BOOST_TEST(charged(e.kie.separation_submissions) == 1u);
                BOOST_TEST(e.kie.requests_to(midi_post) == 0u);
                BOOST_TEST(env.hub.stats().waiting == 0u);
            });
        }
    }
}

BOOST_AUTO_TEST_CASE(the_deadline_while_waiting_is_a_timeout_whose_result_keeps_the_paid_task)
{
    emulator::emulator_options eo;
    eo.separation_delay = 10s;
    auto p = params_for("d2");
    p.deadline = 300ms;
    const auto out = generate_against(eo, p);
    BOOST_TEST((out.ec == client_errc::timeout), out.ec.message());
    BOOST_TEST(!out.r.separation_task_id.empty());
    BOOST_TEST(out.diag.task_id() == out.r.separation_task_id);
    BOOST_TEST(charged(out.kie.separation_submissions) == 1u);
}

BOOST_AUTO_TEST_CASE(the_throwing_spelling_throws_the_result_with_the_paid_task)
{
    emulator::emulator_options eo;
    eo.separation_delay = 10s;
    run_bounded([&](asio::io_context& ioc) -> asio::awaitable<void> {
        unpaced_kie env(ioc.get_executor(), eo);
        auto p = params_for("x1");
        p.deadline = 300ms;
        try
        {
            co_await env.cli->generate_midi(std::move(p));
            BOOST_FAIL("no exception");
        }
        catch (const pipeline_error& e)
        {
            BOOST_TEST((e.code() == client_errc::timeout));
            BOOST_TEST(!e.result().separation_task_id.empty());
            BOOST_TEST(e.diag().task_id() == e.result().separation_task_id);
        }
    });
}

BOOST_AUTO_TEST_CASE(a_failed_separation_has_one_code_whether_the_callback_or_a_poll_said_so)
{
    auto fail = [](wait_strategy s, bool attach) {
        auto p = params_for(attach ? "f-callback" : "f-poll");
        p.wait.strategy = s;
        p.wait.poll_interval = 20ms;
        return generate_against(always(&emulator::fault_options::separation_failure_rate), p, attach);
    };
    const auto by_callback = fail(wait_strategy::callback, true);
    const auto by_poll = fail(wait_strategy::polling, false);
    BOOST_TEST((by_callback.ec == api_errc::task_failed), by_callback.ec.message() << " " << by_callback.diag.to_string());
    BOOST_TEST((by_poll.ec == api_errc::task_failed), by_poll.ec.message() << " " << by_poll.diag.to_string());
    BOOST_TEST(by_callback.r.callbacks == 1u);
    BOOST_TEST(by_poll.r.polls >= 1u);
    // Both keep the failed task's id.
    BOOST_TEST(!by_callback.r.separation_task_id.empty());
    BOOST_TEST(!by_poll.r.separation_task_id.empty());
}

BOOST_AUTO_TEST_SUITE_END()
