// kiemidi::emulator::server fault knobs: throttling, maintenance, server errors, connection resets
// before and after processing, slow answers, the simulated rate limit and failing tasks.
// Rates are 1.0 (or 0) so every outcome is deterministic.
#include "common/emulator_fixture.hpp"

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace asio = boost::asio;

using namespace kiemidi::test;

namespace {

/// Emulator options with `fault` (a rate) at 1.
emu::emulator_options always(double emu::fault_options::*fault)
{
    emu::emulator_options o;
    o.faults.*fault = 1;
    return o;
}

/// What a separation POST for audio "a1" that KIE answered by resetting the connection left:
/// the answer read, and with the fault off again, KIE's credit balance and counters.
struct after_reset
{
    raw_response answer;
    std::int64_t credits = 0;
    emu::counters c;
};

/// Sends that POST to an emulator with `fault` (a connection reset) at 1, bounded.
after_reset separation_post_reset_by(double emu::fault_options::*fault)
{
    after_reset out;
    run_bounded([&](asio::io_context& ioc) -> asio::awaitable<void> {
        emulator_under_test kie(ioc.get_executor(), always(fault));
        auto ec = co_await kie.cli.try_request(separation_post("a1"), out.answer);
        BOOST_TEST(static_cast<bool>(ec));
        kie.srv.set_faults({});
        out.credits = co_await kie.credits();
        out.c = kie.srv.snapshot();
    });
    return out;
}

/// Sends `req` (KIE accepts it) and waits for the task's callback: the task id and the callback's body.
asio::awaitable<std::pair<std::string, json::value>> submitted_and_called_back(emulator_under_test& kie,
                                                                                callback_receiver& rx, raw_request req)
{
    auto r = co_await kie.cli.request(req);
    BOOST_TEST(r.code() == 200);
    const auto task = str(r.json().at("data").at("taskId"));
    auto cb = (co_await rx.next()).json();
    BOOST_TEST(cb.at("code").as_int64() == 500);
    co_return std::pair{task, std::move(cb)};
}

}  // namespace

BOOST_AUTO_TEST_SUITE(emulator_faults)

BOOST_AUTO_TEST_CASE(throttling_maintenance_and_server_error_faults_are_not_processed)
{
    run_bounded([](asio::io_context& ioc) -> asio::awaitable<void> {
        emulator_under_test kie(ioc.get_executor());
        auto& [srv, cli] = kie;

        emu::fault_options f;
        f.http_429_rate = 1;
        srv.set_faults(f);
        BOOST_TEST(srv.faults().http_429_rate == 1.0);
        auto r429 = co_await cli.request(separation_post("a1"));
        BOOST_TEST(r429.status == 429u);
        BOOST_TEST(r429.body == R"({"code":429,"msg":"Your call frequency is too high. Please try again later.","data":null})");
        BOOST_TEST(r429.headers["retry-after"] == "1");
        auto read429 = co_await cli.request(get_path("/api/v1/chat/credit"));
        BOOST_TEST(read429.status == 429u);

        // Maintenance and a server error: the HTTP status and KIE's body code agree.
        const std::pair<double emu::fault_options::*, int> status_faults[] = {
            {&emu::fault_options::http_455_rate, 455}, {&emu::fault_options::http_500_rate, 500}};
        for (const auto& [fault, status] : status_faults)
        {
            srv.set_faults(always(fault).faults);
            auto r = co_await cli.request(separation_post("a1"));
            BOOST_TEST(r.status == static_cast<unsigned>(status));
            BOOST_TEST(r.code() == status);
        }

        srv.set_faults({});
        auto ok = co_await cli.request(get_path("/api/v1/chat/credit"));
        BOOST_TEST(ok.code() == 200);
        BOOST_TEST(ok.json().at("data").as_int64() == 1000000);  // nothing was charged
        auto c = srv.snapshot();
        BOOST_TEST(c.tasks_created == 0u);
        BOOST_TEST(c.separation_submissions.empty());
        BOOST_TEST(c.responses_by_http_status[429] == 2u);
        BOOST_TEST(c.responses_with_code(455) == 1u);
        BOOST_TEST(c.responses_with_code(500) == 1u);
        BOOST_TEST(c.requests_to("POST /api/v1/vocal-removal/generate") == 3u);
        BOOST_TEST(c.tcp_connections_accepted == 1u);  // fault answers keep the connection
    });
}

BOOST_AUTO_TEST_CASE(a_scheduled_maintenance_window_refuses_every_request_unprocessed_until_it_ends)
{
    run_bounded([](asio::io_context& ioc) -> asio::awaitable<void> {
        emu::emulator_options o;
        o.outage.start = std::chrono::milliseconds(0);
        o.outage.length = std::chrono::milliseconds(400);
        emulator_under_test kie(ioc.get_executor(), o);
        auto& [srv, cli] = kie;
        auto post = co_await cli.request(separation_post("a1"));
        BOOST_TEST(post.status == 455u);
        BOOST_TEST(post.code() == 455);
        auto read = co_await cli.request(get_path("/api/v1/chat/credit"));
        BOOST_TEST(read.code() == 455);
        auto during = srv.snapshot();
        BOOST_TEST(during.outage_answers == 2u);
        BOOST_TEST(during.outage_paid_refused == 1u);
        BOOST_TEST(during.separation_submissions.empty());

        asio::steady_timer wait(ioc, std::chrono::milliseconds(450));
        co_await wait.async_wait(asio::use_awaitable);
        auto after = co_await cli.request(separation_post("a1"));
        BOOST_TEST(after.code() == 200);
        const auto c = srv.snapshot();
        BOOST_TEST(c.outage_answers == 2u);
        BOOST_TEST(c.separation_submissions.size() == 1u);
    });
}

BOOST_AUTO_TEST_CASE(a_scheduled_5xx_storm_answers_a_gateway_page_and_processes_nothing)
{
    run_bounded([](asio::io_context& ioc) -> asio::awaitable<void> {
        emu::emulator_options o;
        o.outage.length = std::chrono::seconds(30);
        o.outage.kind = emu::outage_kind::server_error;
        emulator_under_test kie(ioc.get_executor(), o);
        auto r = co_await kie.cli.request(separation_post("a1"));
        BOOST_TEST(r.status == 503u);
        BOOST_TEST(r.body.find("<html>") != std::string::npos);
        const auto c = kie.srv.snapshot();
        BOOST_TEST(c.outage_paid_refused == 1u);
        BOOST_TEST(c.tasks_created == 0u);
    });
}

BOOST_AUTO_TEST_CASE(reset_before_processing_charges_nothing)
{
    const auto r = separation_post_reset_by(&emu::fault_options::connection_reset_rate);
    BOOST_TEST(r.answer.status == 0u);
    BOOST_TEST(r.credits == 1000000);
    BOOST_TEST(r.c.connection_resets == 1u);
    BOOST_TEST(r.c.separation_submissions.empty());
    BOOST_TEST(r.c.tasks_created == 0u);
    BOOST_TEST(r.c.tcp_connections_accepted == 2u);
}

BOOST_AUTO_TEST_CASE(reset_after_processing_charges_and_creates_the_task)
{
    const auto r = separation_post_reset_by(&emu::fault_options::reset_after_processing_rate);
    BOOST_TEST(r.credits == 1000000 - 10);
    BOOST_TEST(r.c.connection_resets == 1u);
    BOOST_TEST(r.c.tasks_created == 1u);
    BOOST_TEST((r.c.separation_submissions.at({"music-1", "a1"}) == 1u));
}

BOOST_AUTO_TEST_CASE(slow_responses_are_delayed)
{
    run_bounded([](asio::io_context& ioc) -> asio::awaitable<void> {
        auto o = always(&emu::fault_options::slow_response_rate);
        o.faults.slow_response = 300ms;
        emulator_under_test kie(ioc.get_executor(), o);
        auto& [srv, cli] = kie;
        const auto t0 = std::chrono::steady_clock::now();
        auto r = co_await cli.request(get_path("/api/v1/chat/credit"));
        BOOST_TEST(r.code() == 200);
        BOOST_TEST((std::chrono::steady_clock::now() - t0 >= 300ms));
        BOOST_TEST(srv.snapshot().slow_responses == 1u);
    });
}

BOOST_AUTO_TEST_CASE(simulated_rate_limit_refuses_paid_posts_beyond_the_window)
{
    run_bounded([](asio::io_context& ioc) -> asio::awaitable<void> {
        emu::emulator_options o;
        o.rate_limit_per_10s = 3;
        emulator_under_test kie(ioc.get_executor(), o);
        auto& [srv, cli] = kie;
        for (int i = 0; i < 3; ++i)
        {
            auto r = co_await cli.request(separation_post("a" + std::to_string(i)));
            BOOST_TEST(r.code() == 200);
        }
        auto refused = co_await cli.request(separation_post("a9"));
        BOOST_TEST(refused.status == 429u);
        BOOST_TEST(refused.code() == 429);
        BOOST_TEST(!refused.headers["retry-after"].empty());
        auto read = co_await cli.request(get_path("/api/v1/chat/credit"));  // reads are not limited
        BOOST_TEST(read.code() == 200);
        BOOST_TEST(read.json().at("data").as_int64() == 1000000 - 30);
        auto c = srv.snapshot();
        BOOST_TEST(c.rate_limited == 1u);
        BOOST_TEST(c.separation_submissions.count({"music-1", "a9"}) == 0u);
    });
}

BOOST_AUTO_TEST_CASE(failing_separation_reports_a_failure_state_and_callback)
{
    run_bounded([](asio::io_context& ioc) -> asio::awaitable<void> {
        emulator_under_test kie(ioc.get_executor(), always(&emu::fault_options::separation_failure_rate));
        auto& [srv, cli] = kie;
        callback_receiver rx(ioc.get_executor());
        const auto [task, cb] = co_await submitted_and_called_back(kie, rx, separation_post("a1", rx.url()));
        BOOST_TEST(str(cb.at("msg")) == "Vocal separation failed");
        BOOST_TEST(str(cb.at("data").at("task_id")) == task);
        BOOST_TEST(cb.at("data").at("vocal_separation_info").is_null());
        auto rec = co_await cli.request(get_path("/api/v1/vocal-removal/record-info?taskId=" + task));
        const auto flag = sep_flag(rec);
        BOOST_TEST((flag == "CREATE_TASK_FAILED" || flag == "GENERATE_AUDIO_FAILED"));
        const auto d = rec.json().at("data");
        BOOST_TEST(d.at("response").is_null());
        BOOST_TEST(d.at("errorMessage").is_string());
        auto m = co_await cli.request(post_json("/api/v1/midi/generate", midi_body(task, rx.url())));
        BOOST_TEST(m.code() == 422);
        auto c = srv.snapshot();
        BOOST_TEST(c.tasks_failed == 1u);
        BOOST_TEST(c.tasks_completed == 0u);
    });
}

BOOST_AUTO_TEST_CASE(failing_midi_reports_flag_2_or_3_and_a_failure_callback)
{
    run_bounded([](asio::io_context& ioc) -> asio::awaitable<void> {
        emulator_under_test kie(ioc.get_executor(), always(&emu::fault_options::midi_failure_rate));
        auto& cli = kie.cli;
        callback_receiver rx(ioc.get_executor());
        const auto [task, cb] = co_await submitted_and_called_back(
            kie, rx, post_json("/api/v1/midi/generate", midi_body("3e63b4cc88d52611159371f6af5571e7", rx.url())));
        BOOST_TEST(str(cb.at("msg")) == "MIDI generation failed");
        BOOST_TEST(str(cb.at("task_id")) == task);
        BOOST_TEST(cb.at("data").is_null());
        auto rec = co_await cli.request(get_path("/api/v1/midi/record-info?taskId=" + task));
        const auto flag = midi_flag(rec);
        BOOST_TEST((flag == 2 || flag == 3));
        BOOST_TEST(rec.json().at("data").at("midiData").is_null());
        BOOST_TEST(rec.json().at("data").at("errorMessage").is_string());
    });
}

BOOST_AUTO_TEST_CASE(duplicate_paid_submissions_are_counted_per_key)
{
    run_bounded([](asio::io_context& ioc) -> asio::awaitable<void> {
        emulator_under_test kie(ioc.get_executor());
        auto& [srv, cli] = kie;
        (void)co_await cli.request(separation_post("a1"));
        (void)co_await cli.request(separation_post("a2"));
        auto c = srv.snapshot();
        BOOST_TEST(c.duplicate_paid_submissions() == 0u);
        BOOST_TEST(c.max_paid_per_key() == 1u);
        (void)co_await cli.request(separation_post("a1"));
        const std::string stem = "8ca376e7-******-08aaf2c6dd27";
        (void)co_await cli.request(post_json("/api/v1/midi/generate", midi_body("3e63b4cc88d52611159371f6af5571e7", "http://127.0.0.1:9/c")));
        (void)co_await cli.request(post_json("/api/v1/midi/generate", midi_body("3e63b4cc88d52611159371f6af5571e7", "http://127.0.0.1:9/c")));
        (void)co_await cli.request(post_json("/api/v1/midi/generate", midi_body("5c79****be8e", "http://127.0.0.1:9/c", stem)));
        c = srv.snapshot();
        BOOST_TEST((c.separation_submissions.at({"music-1", "a1"}) == 2u));
        BOOST_TEST((c.midi_submissions.at({"3e63b4cc88d52611159371f6af5571e7", ""}) == 2u));
        BOOST_TEST((c.midi_submissions.at({"5c79****be8e", stem}) == 1u));
        BOOST_TEST(c.duplicate_paid_submissions() == 2u);
        BOOST_TEST(c.max_paid_per_key() == 2u);
    });
}

BOOST_AUTO_TEST_SUITE_END()
