// The client's one view of KIE's health: generate_midi waits while KIE is down (maintenance,
// a 5xx storm) and goes on when it is back, each step paid once; or fails fast when asked; and
// a deadline reached while KIE is down says so. Emulator outage windows, on 127.0.0.1.
#include <kiemidi/client.hpp>
#include <kiemidi/emulator/server.hpp>
#include <kiemidi/metrics/model.hpp>

#include "common/client_fixture.hpp"
#include "common/run_bounded.hpp"
#include "nothrow_awaitable.hpp"

#include <boost/test/unit_test.hpp>

#include <chrono>

namespace asio = boost::asio;
using namespace kiemidi;
using namespace kiemidi::test;
using namespace std::chrono_literals;

namespace {

emulator::emulator_options kie_down_for(std::chrono::milliseconds length,
                                        emulator::outage_kind kind = emulator::outage_kind::maintenance)
{
    emulator::emulator_options eo;
    eo.outage.start = 0ms;
    eo.outage.length = length;
    eo.outage.kind = kind;
    return eo;
}

midi_params params(std::chrono::milliseconds deadline)
{
    midi_params p;
    p.task_id = "music-1";
    p.audio_id = "audio-1";
    p.deadline = deadline;
    p.stage_timeout = deadline;
    return p;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(client_kie_outage)

BOOST_AUTO_TEST_CASE(generate_midi_waits_out_a_maintenance_window_and_pays_each_step_once)
{
    generated out;
    metrics::kie_availability kie;
    run_bounded([&](asio::io_context& ioc) -> asio::awaitable<void> {
        unpaced_kie env(ioc.get_executor(), kie_down_for(1500ms));
        auto [ec, r] = co_await env.generate(params(20s), out.diag);
        out.ec = ec;
        out.r = std::move(r);
        out.kie = env.kie->snapshot();
        kie = env.cli->metrics().kie();
    });
    BOOST_TEST_REQUIRE(!out.ec, out.diag.to_string());
    BOOST_TEST(out.r.note_count() > 0u);
    BOOST_TEST(out.kie.outage_paid_refused >= 1u);       // the first POST met the maintenance
    BOOST_TEST(charged(out.kie.separation_submissions) == 1u);
    BOOST_TEST(charged(out.kie.midi_submissions) == 1u);
    BOOST_TEST(out.kie.duplicate_paid_submissions() == 0u);
    BOOST_TEST(!kie.down);
    BOOST_TEST(kie.outages == 1u);
    BOOST_TEST(kie.total_down.count() > 0);
}

BOOST_AUTO_TEST_CASE(no_paid_post_starts_while_a_5xx_storm_keeps_the_breaker_open)
{
    emulator::counters during{};
    generated out;
    run_bounded([&](asio::io_context& ioc) -> asio::awaitable<void> {
        unpaced_kie env(ioc.get_executor(), kie_down_for(1500ms, emulator::outage_kind::server_error));
        // Two reads in a row meet the storm (each after the transport's retries): KIE is down.
        for (int i = 0; i < 2; ++i)
        {
            diagnostics d;
            auto [ec, c] = co_await env.cli->async_get_credits(d, use_nothrow_awaitable);
            BOOST_TEST(!!ec);
        }
        BOOST_TEST_REQUIRE(env.cli->metrics().kie().down);
        BOOST_TEST(env.cli->metrics().kie().code == 503);
        during = env.kie->snapshot();
        auto [ec, r] = co_await env.generate(params(20s), out.diag);
        out.ec = ec;
        out.kie = env.kie->snapshot();
    });
    BOOST_TEST_REQUIRE(!out.ec, out.diag.to_string());
    // Not one paid POST reached the storm: the pipeline waited for a probe to find KIE back.
    BOOST_TEST(out.kie.outage_paid_refused == 0u);
    BOOST_TEST(out.kie.outage_answers > during.outage_answers);  // the probes met the storm
    BOOST_TEST(out.kie.requests_to(sep_post) == 1u);
    BOOST_TEST(out.kie.requests_to(midi_post) == 1u);
    BOOST_TEST(out.kie.duplicate_paid_submissions() == 0u);
}

BOOST_AUTO_TEST_CASE(generate_midi_fails_fast_when_asked_and_says_since_when_kie_is_unavailable)
{
    auto p = params(20s);
    p.fail_fast_when_kie_unavailable = true;
    const auto out = generate_against(kie_down_for(60s), p);
    BOOST_TEST((out.ec == client_errc::kie_unavailable), out.ec.message());
    BOOST_TEST(out.diag.stage() == "separation");
    BOOST_TEST(out.diag.client_message().find("KIE unavailable (code 455, maintenance) since ") != std::string::npos,
               out.diag.to_string());
    BOOST_TEST(charged(out.kie.separation_submissions) == 0u);
    BOOST_TEST(out.kie.requests_to(midi_post) == 0u);
}

BOOST_AUTO_TEST_CASE(a_deadline_reached_while_kie_is_down_says_so_and_nothing_is_paid)
{
    const auto out = generate_against(kie_down_for(60s), params(2s));
    BOOST_TEST((out.ec == client_errc::timeout), out.ec.message());
    BOOST_TEST(out.diag.client_message().find("deadline") != std::string::npos, out.diag.to_string());
    BOOST_TEST(out.diag.client_message().find("KIE unavailable (code 455, maintenance) since ") != std::string::npos,
               out.diag.to_string());
    BOOST_TEST(charged(out.kie.separation_submissions) == 0u);
}

// A connection reset before the request is written (KIE's front door down: the TLS handshake
// reset) says KIE is unreachable and opens the breaker; a reset after a paid POST was written
// may be one lost answer: the POST is not resent and the breaker stays closed.
BOOST_AUTO_TEST_CASE(resets_before_the_request_is_written_open_the_breaker_and_a_reset_after_a_paid_post_does_not)
{
    struct seen
    {
        error_code read_ec, post_ec;
        metrics::kie_availability kie;
        emulator::counters counters;
    };
    auto against = [](emulator::outage_kind kind) {
        seen out;
        run_bounded([&](asio::io_context& ioc) -> asio::awaitable<void> {
            auto eo = kie_down_for(60s, kind);
            emulator::server kie(ioc.get_executor(), eo);  // HTTPS: a handshake comes before the request
            kie.start();
            client_options co;
            co.base_url = kie.https_base_url();
            co.api_key = eo.api_key;
            co.transport.tls.ca_pem = kie.ca_certificate_pem();
            co.transport.retry.base_delay = 1ms;
            co.transport.retry.max_delay = 10ms;
            co.transport.rate_limit.enabled = false;
            client cli(ioc.get_executor(), std::move(co));
            diagnostics d;
            if (kind == emulator::outage_kind::connection_refused)
            {
                auto [ec, c] = co_await cli.async_get_credits(d, use_nothrow_awaitable);
                out.read_ec = ec;
            }
            else
            {
                api::separation_request req{.task_id = "music-1", .audio_id = "audio-1", .type = api::separation_type::separate_vocal, .callback_url = {}};
                auto [ec, created] = co_await cli.async_submit_separation(req, d, use_nothrow_awaitable);
                out.post_ec = ec;
            }
            out.kie = cli.metrics().kie();
            out.counters = kie.snapshot();
            cli.close();
            kie.stop();
        });
        return out;
    };

    const auto refused = against(emulator::outage_kind::connection_refused);
    BOOST_TEST(!!refused.read_ec);
    BOOST_TEST(refused.kie.down);
    BOOST_TEST(refused.kie.reason == "no connection");
    BOOST_TEST(refused.counters.requests_to("GET /api/v1/chat/credit") == 0u);  // nothing was read
    BOOST_TEST(refused.counters.connection_resets >= 3u);

    const auto reset = against(emulator::outage_kind::connection_reset);
    BOOST_TEST((reset.post_ec == client_errc::outcome_unknown), reset.post_ec.message());
    BOOST_TEST(!reset.kie.down);
    BOOST_TEST(reset.counters.requests_to(sep_post) == 1u);  // read once, never resent
    BOOST_TEST(reset.counters.tasks_created == 0u);
}

BOOST_AUTO_TEST_SUITE_END()
