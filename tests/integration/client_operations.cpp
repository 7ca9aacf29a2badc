// kiemidi::client against the emulator on 127.0.0.1, over HTTP and HTTPS: every endpoint,
// KIE's error conventions, and the fault knobs as the client sees them.
#include <kiemidi/client.hpp>
#include <kiemidi/emulator/server.hpp>

#include "common/client_fixture.hpp"
#include "common/run_bounded.hpp"
#include "common/test_http_server.hpp"
#include "nothrow_awaitable.hpp"

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <memory>
#include <type_traits>

namespace asio = boost::asio;
using namespace kiemidi;
using namespace std::chrono_literals;

namespace {


struct emulated_kie
{
    emulator::emulator_options options;
    std::unique_ptr<emulator::server> server;
    std::unique_ptr<client> kie;

    emulated_kie(asio::io_context& ioc, bool https, emulator::emulator_options o = {}, client_options c = {})
        : options(std::move(o))
    {
        server = std::make_unique<emulator::server>(ioc.get_executor(), options);
        server->start();
        c.base_url = https ? server->https_base_url() : server->http_base_url();
        if (c.api_key.empty()) c.api_key = options.api_key;
        c.transport.tls.ca_pem = server->ca_certificate_pem();
        c.transport.retry.base_delay = 1ms;
        c.transport.retry.max_delay = 5ms;
        kie = std::make_unique<client>(ioc.get_executor(), std::move(c));
    }
    ~emulated_kie()
    {
        kie->close();
        server->stop();
    }
    std::size_t requests(const std::string& endpoint) const { return server->snapshot().requests_to(endpoint); }
};

using test::always_fault;
using test::sep_post;
using test::midi_post;
const std::string credit_get = "GET /api/v1/chat/credit";

api::separation_request sample_separation(std::string callback = "http://127.0.0.1:9/unused")
{
    return {.task_id = "5c79****be8e", .audio_id = "e231****-****-****-****-****8cadc7dc",
            .type = api::separation_type::separate_vocal, .callback_url = std::move(callback)};
}

/// What one call through the client left: its error, its diagnostics and KIE's counters after it.
struct outcome
{
    error_code ec;
    diagnostics diag;
    std::string task_id;  // of a submission
    emulator::counters kie;
    std::size_t requests(const std::string& endpoint) const { return kie.requests_to(endpoint); }
};

/// Submits `req` as a paid separation to an emulated KIE (HTTP) answering with `faults`.
outcome paid_submission(emulator::fault_options faults, api::separation_request req = sample_separation(),
                        emulator::emulator_options o = {}, client_options c = {})
{
    outcome out;
    test::run_bounded([&](asio::io_context& ioc) -> asio::awaitable<void> {
        emulated_kie env(ioc, false, o, c);
        env.server->set_faults(faults);
        auto [ec, task] = co_await env.kie->async_submit_separation(req, out.diag, use_nothrow_awaitable);
        out.ec = ec;
        out.task_id = task.task_id;
        out.kie = env.server->snapshot();
    });
    return out;
}

/// Reads the credits (a free, retried request) from an emulated KIE (HTTP) answering with `faults`.
outcome credits_read(emulator::fault_options faults, client_options c = {})
{
    outcome out;
    test::run_bounded([&](asio::io_context& ioc) -> asio::awaitable<void> {
        emulated_kie env(ioc, false, {}, std::move(c));
        env.server->set_faults(faults);
        auto [ec, credits] = co_await env.kie->async_get_credits(out.diag, use_nothrow_awaitable);
        out.ec = ec;
        out.kie = env.server->snapshot();
    });
    return out;
}

// wait_until_done()'s loop. The query comes as a function pointer and its address: no coroutine
// frame holds the test's closure type, which g++ refuses (-Wsubobject-linkage) in a unity build.
asio::awaitable<void> poll_until_done(asio::awaitable<bool> (*done)(void*), void* get)
{
    asio::steady_timer t(co_await asio::this_coro::executor);
    for (int i = 0; i < 400; ++i)
    {
        if (co_await done(get)) co_return;
        t.expires_after(5ms);
        co_await t.async_wait(asio::use_awaitable);
    }
    BOOST_FAIL("task did not finish");
}

// Awaited where it is created, so `get` outlives the wait.
template <class Get>
asio::awaitable<void> wait_until_done(Get&& get)
{
    using get_type = std::remove_reference_t<Get>;
    return poll_until_done([](void* p) { return (*static_cast<get_type*>(p))(); },
                           const_cast<void*>(static_cast<const void*>(std::addressof(get))));
}

asio::awaitable<void> full_round_trip(emulated_kie& env)
{
    diagnostics diag;
    auto& kie = *env.kie;

    auto [ec_c, credits] = co_await kie.async_get_credits(diag, use_nothrow_awaitable);
    BOOST_TEST_REQUIRE(!ec_c, diag.to_string());
    BOOST_TEST(credits.remaining > 0);

    auto [ec_m, music] = co_await kie.async_get_music_task("5c79****be8e", diag, use_nothrow_awaitable);
    BOOST_TEST_REQUIRE(!ec_m, diag.to_string());
    BOOST_TEST_REQUIRE(!music.tracks.empty());

    auto [ec_s, sep] = co_await kie.async_submit_separation(sample_separation(), diag, use_nothrow_awaitable);
    BOOST_TEST_REQUIRE(!ec_s, diag.to_string());
    BOOST_TEST(!sep.task_id.empty());

    api::separation_record record;
    co_await wait_until_done([&]() -> asio::awaitable<bool> {
        auto [ec, r] = co_await kie.async_get_separation(sep.task_id, diag, use_nothrow_awaitable);
        BOOST_TEST_REQUIRE(!ec, diag.to_string());
        record = std::move(r);
        co_return record.state != api::separation_state::pending;
    });
    BOOST_TEST_REQUIRE((record.state == api::separation_state::success));
    BOOST_TEST_REQUIRE(record.origin_data.size() >= 2u);
    BOOST_TEST(record.urls.vocal.has_value());

    // A named request: g++ 12 destroys braced temporaries inside co_await twice.
    api::midi_request midi_req{.task_id = sep.task_id, .callback_url = "http://127.0.0.1:9/unused", .audio_id = record.origin_data[1].id};
    auto [ec_g, midi_task] = co_await kie.async_submit_midi(std::move(midi_req), diag, use_nothrow_awaitable);
    BOOST_TEST_REQUIRE(!ec_g, diag.to_string());

    api::midi_record midi;
    co_await wait_until_done([&]() -> asio::awaitable<bool> {
        auto [ec, r] = co_await kie.async_get_midi(midi_task.task_id, diag, use_nothrow_awaitable);
        BOOST_TEST_REQUIRE(!ec, diag.to_string());
        midi = std::move(r);
        co_return midi.state != api::midi_state::pending;
    });
    BOOST_TEST_REQUIRE((midi.state == api::midi_state::success));
    BOOST_TEST(!midi.midi.instruments.empty());
    std::size_t notes = 0;
    for (const auto& i : midi.midi.instruments)
    {
        notes += i.notes.size();
        for (const auto& n : i.notes)
        {
            BOOST_TEST((n.pitch >= 0 && n.pitch <= 127));
            BOOST_TEST(n.end >= n.start);
            BOOST_TEST((n.velocity >= 0.0 && n.velocity <= 1.0));
        }
    }
    BOOST_TEST(notes > 0u);
    BOOST_TEST(env.requests(sep_post) == 1u);
    BOOST_TEST(env.requests(midi_post) == 1u);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(client_against_emulator)

BOOST_AUTO_TEST_CASE(every_endpoint_round_trips_over_http)
{
    test::run_bounded([](asio::io_context& ioc) -> asio::awaitable<void> {
        emulated_kie env(ioc, false);
        co_await full_round_trip(env);
    });
}

BOOST_AUTO_TEST_CASE(every_endpoint_round_trips_over_https_with_one_connection)
{
    test::run_bounded([](asio::io_context& ioc) -> asio::awaitable<void> {
        emulated_kie env(ioc, true);
        co_await full_round_trip(env);
        BOOST_TEST(env.server->snapshot().tls_connections_accepted == 1u);
        BOOST_TEST(env.kie->transport_stats().connections_opened == 1u);
    });
}

BOOST_AUTO_TEST_CASE(the_applications_own_tls_context_is_the_one_used)
{
    for (const bool trusts_emulator : {true, false})
    {
        BOOST_TEST_CONTEXT("trusts the emulator's CA: " << trusts_emulator)
        {
            test::run_bounded([trusts_emulator](asio::io_context& ioc) -> asio::awaitable<void> {
                emulator::emulator_options eo;
                auto server = std::make_unique<emulator::server>(ioc.get_executor(), eo);
                server->start();
                auto ctx = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_client);
                ctx->set_verify_mode(asio::ssl::verify_peer);
                if (trusts_emulator) ctx->add_certificate_authority(asio::buffer(server->ca_certificate_pem()));
                client_options c;
                c.base_url = server->https_base_url();
                c.api_key = eo.api_key;
                c.transport.tls.ca_pem = server->ca_certificate_pem();  // ignored: the context decides
                c.transport.tls.context = ctx;
                c.transport.retry.max_attempts = 1;
                client kie(ioc.get_executor(), std::move(c));
                diagnostics diag;
                auto [ec, credits] = co_await kie.async_get_credits(diag, use_nothrow_awaitable);
                if (trusts_emulator)
                    BOOST_TEST(!ec, diag.to_string());
                else
                    BOOST_TEST(!!ec, "verified with a context that does not trust the emulator's CA");
                kie.close();
                server->stop();
            });
        }
    }
}

BOOST_AUTO_TEST_CASE(a_paid_submission_cancelled_after_it_was_sent_is_an_unknown_outcome)
{
    emulator::fault_options slow;
    slow.paid_answer_delay = 3000ms;
    outcome out;
    test::run_bounded([&](asio::io_context& ioc) -> asio::awaitable<void> {
        emulated_kie env(ioc, false);
        env.server->set_faults(slow);
        asio::cancellation_signal cancel;
        asio::steady_timer t(ioc, 300ms);
        t.async_wait([&](error_code) { cancel.emit(asio::cancellation_type::terminal); });
        auto req = sample_separation();
        auto [ec, task] = co_await env.kie->async_submit_separation(
            req, out.diag, asio::bind_cancellation_slot(cancel.slot(), use_nothrow_awaitable));
        out.ec = ec;
        out.kie = env.server->snapshot();
    });
    BOOST_TEST((out.ec == client_errc::outcome_unknown), out.ec.message() << " " << out.diag.to_string());
    BOOST_TEST(out.requests(sep_post) == 1u);
    BOOST_TEST(out.kie.separation_submissions.size() == 1u);  // KIE processed and charged it
}

BOOST_AUTO_TEST_CASE(wrong_api_key_is_reported_from_the_body_code_and_never_echoed)
{
    client_options c;
    c.api_key = "sk-secret-wrong-key-0123456789";
    const auto out = credits_read({}, c);
    BOOST_TEST((out.ec == api_errc::unauthorized));
    BOOST_TEST(out.diag.kie_code().value_or(0) == 401);
    BOOST_TEST(out.diag.server_message() == "You do not have access permissions");
    BOOST_TEST(out.diag.to_string().find("sk-secret-wrong-key") == std::string::npos);
    BOOST_TEST(out.ec.message().find("sk-secret-wrong-key") == std::string::npos);
}

BOOST_AUTO_TEST_CASE(unknown_task_is_reported_as_unknown_task)
{
    test::run_bounded([](asio::io_context& ioc) -> asio::awaitable<void> {
        emulated_kie env(ioc, false);
        diagnostics diag;
        auto [ec1, r1] = co_await env.kie->async_get_separation("no-such-task", diag, use_nothrow_awaitable);
        BOOST_TEST((ec1 == api_errc::unknown_task));
        auto [ec2, r2] = co_await env.kie->async_get_midi("no-such-task", diag, use_nothrow_awaitable);
        BOOST_TEST((ec2 == api_errc::unknown_task));
    });
}

BOOST_AUTO_TEST_CASE(seed_doc_midi_example_answers_as_documented)
{
    test::run_bounded([](asio::io_context& ioc) -> asio::awaitable<void> {
        emulated_kie env(ioc, false);
        diagnostics diag;
        api::midi_request req{.task_id = "5c79****be8e", .callback_url = "https://example.callback",
                              .audio_id = "8ca376e7-******-08aaf2c6dd27"};
        auto [ec, task] = co_await env.kie->async_submit_midi(std::move(req), diag, use_nothrow_awaitable);
        BOOST_TEST_REQUIRE(!ec, diag.to_string());
        BOOST_TEST(task.task_id == "5c79****be8e");
    });
}

BOOST_AUTO_TEST_CASE(throttled_submission_is_resent_and_never_charged_twice)
{
    client_options c;
    c.transport.retry.max_attempts = 3;
    c.transport.rate_limit.window = 10ms;  // a 429 makes the limiter wait out one window
    const auto out = paid_submission(always_fault(&emulator::fault_options::http_429_rate), sample_separation(), {}, c);
    // KIE drops throttled requests unprocessed, so resending a paid one is safe: every
    // attempt was sent, none was charged, and the last answer's code and text are kept.
    BOOST_TEST((out.ec == api_errc::rate_limited));
    BOOST_TEST(out.diag.server_message().find("frequency") != std::string::npos, out.diag.to_string());
    BOOST_TEST(out.requests(sep_post) == 3u);
    BOOST_TEST(out.kie.separation_submissions.empty());
}

BOOST_AUTO_TEST_CASE(server_error_on_a_paid_submission_is_surfaced_not_resent)
{
    const auto out = paid_submission(always_fault(&emulator::fault_options::http_500_rate));
    BOOST_TEST(!!out.ec);
    BOOST_TEST(out.requests(sep_post) == 1u);
}

BOOST_AUTO_TEST_CASE(server_errors_on_reads_are_retried)
{
    const auto out = credits_read(always_fault(&emulator::fault_options::http_500_rate));
    BOOST_TEST(!!out.ec);
    BOOST_TEST(out.requests(credit_get) > 1u);
}

BOOST_AUTO_TEST_CASE(maintenance_answers_are_retried_for_paid_submissions)
{
    const auto out = paid_submission(always_fault(&emulator::fault_options::http_455_rate));
    BOOST_TEST((out.ec == api_errc::maintenance || out.ec == client_errc::retries_exhausted));
    BOOST_TEST(out.requests(sep_post) > 1u);
    BOOST_TEST(out.kie.duplicate_paid_submissions() == 0u);
}

BOOST_AUTO_TEST_CASE(reset_after_processing_leaves_a_paid_submission_unknown_and_unsent)
{
    const auto out = paid_submission(always_fault(&emulator::fault_options::reset_after_processing_rate));
    BOOST_TEST((out.ec == client_errc::outcome_unknown));
    BOOST_TEST(out.requests(sep_post) == 1u);
}

BOOST_AUTO_TEST_CASE(insufficient_credits_is_reported_with_kie_message)
{
    emulator::emulator_options o;
    o.initial_credits = 0;
    const auto out = paid_submission({}, sample_separation(), o);
    BOOST_TEST((out.ec == api_errc::insufficient_credits));
    BOOST_TEST(!out.diag.server_message().empty());
    BOOST_TEST(out.diag.endpoint().find("/api/v1/vocal-removal/generate") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_processed_paid_post_answered_by_a_gateway_html_502_is_outcome_unknown_not_a_failure)
{
    const auto out = paid_submission(always_fault(&emulator::fault_options::processed_then_html_502_rate));
    // KIE took (and charged) it; the answer is a gateway's page, not KIE's word.
    BOOST_TEST((out.ec == client_errc::outcome_unknown), out.ec.message() << " " << out.diag.to_string());
    BOOST_TEST((out.diag.http_status() == 502u));
    BOOST_TEST(out.diag.client_message().find("502 Bad Gateway") != std::string::npos, out.diag.to_string());
    BOOST_TEST(out.requests(sep_post) == 1u);
    BOOST_TEST(out.kie.separation_submissions.size() == 1u);
    BOOST_TEST(out.kie.garbled_after_processing == 1u);
}

BOOST_AUTO_TEST_CASE(a_processed_paid_post_answered_by_a_cut_or_non_json_200_is_outcome_unknown)
{
    test::run_bounded([](asio::io_context& ioc) -> asio::awaitable<void> {
        emulated_kie env(ioc, false);
        for (int variant = 0; variant < 2; ++variant)
        {
            emulator::fault_options f;
            (variant == 0 ? f.processed_then_truncated_body_rate : f.processed_then_non_json_200_rate) = 1.0;
            env.server->set_faults(f);
            diagnostics diag;
            auto req = sample_separation();
            req.audio_id += std::to_string(variant);
            auto [ec, task] = co_await env.kie->async_submit_separation(req, diag, use_nothrow_awaitable);
            BOOST_TEST((ec == client_errc::outcome_unknown), variant << ": " << ec.message() << " " << diag.to_string());
            BOOST_TEST((diag.http_status() == 200u));
        }
        BOOST_TEST(env.requests(sep_post) == 2u);
        BOOST_TEST(env.server->snapshot().separation_submissions.size() == 2u);
    });
}

BOOST_AUTO_TEST_CASE(a_kie_json_500_on_a_paid_post_stays_kie_word)
{
    const auto out = paid_submission(always_fault(&emulator::fault_options::http_500_rate));
    BOOST_TEST((out.ec == api_errc::server_error), out.ec.message());
    BOOST_TEST((out.diag.kie_code() == 500));
}

BOOST_AUTO_TEST_CASE(insufficient_credits_spelled_as_429_is_reported_at_once_without_resending)
{
    emulator::emulator_options o;
    o.initial_credits = 0;
    o.insufficient_credits_code = 429;
    o.error_http_status_mirrors_code = true;  // HTTP 429 too: the status alone says "throttled"
    const auto out = paid_submission({}, sample_separation(), o);
    BOOST_TEST((out.ec == api_errc::insufficient_credits), out.ec.message() << " " << out.diag.to_string());
    BOOST_TEST(out.diag.server_message().find("Insufficient credits") != std::string::npos);
    BOOST_TEST((out.diag.http_status() == 429u));
    BOOST_TEST(out.requests(sep_post) == 1u);
}

BOOST_AUTO_TEST_CASE(a_bare_404_page_on_record_info_ends_a_wait_as_not_found_instead_of_polling_on)
{
    test::run_bounded([](asio::io_context& ioc) -> asio::awaitable<void> {
        // A wrong base URL (or a proxy) answers record-info with its own 404 page, not KIE's JSON.
        test::test_http_server server(ioc.get_executor());
        server.set_default({.status = 404, .body = "<html><body><h1>404 Not Found</h1></body></html>"});
        server.start();
        client_options co;
        co.base_url = server.base_url();
        co.api_key = "k";
        co.transport.retry.base_delay = 1ms;
        co.transport.retry.max_delay = 5ms;
        client cli(ioc.get_executor(), std::move(co));
        wait_options w;
        w.strategy = wait_strategy::polling;
        w.poll_interval = 1ms;
        w.max_poll_interval = 5ms;
        diagnostics diag;
        std::string id = "some-task";
        auto [ec, rec] = co_await cli.async_wait_separation(id, w, diag, use_nothrow_awaitable);
        BOOST_TEST((ec == api_errc::not_found), ec.message() << " " << diag.to_string());
        BOOST_TEST((diag.http_status() == 404u));
        BOOST_TEST(diag.client_message().find("404 Not Found") != std::string::npos, diag.to_string());
        BOOST_TEST(server.requests_received() == 1u);
        cli.close();
        server.stop();
    });
}

BOOST_AUTO_TEST_CASE(a_reset_read_is_retried_up_to_the_attempt_budget)
{
    client_options c;
    c.transport.retry.max_attempts = 4;
    const auto out = credits_read(always_fault(&emulator::fault_options::connection_reset_rate), c);
    BOOST_TEST(!!out.ec);
    BOOST_TEST(out.requests(credit_get) == 4u);
    BOOST_TEST(out.kie.connection_resets == 4u);
}

BOOST_AUTO_TEST_CASE(a_reset_paid_submission_is_not_resent_blindly)
{
    const auto out = paid_submission(always_fault(&emulator::fault_options::connection_reset_rate));
    // The request was written before the connection dropped: the client cannot know whether
    // KIE processed it, so it reports that instead of paying again.
    BOOST_TEST((out.ec == client_errc::outcome_unknown));
    BOOST_TEST(out.requests(sep_post) == 1u);
    BOOST_TEST(out.kie.duplicate_paid_submissions() == 0u);
}

BOOST_AUTO_TEST_CASE(a_slow_answer_hits_the_read_timeout)
{
    client_options c;
    c.transport.timeouts.read = 50ms;
    c.transport.retry.max_attempts = 2;
    auto slow = always_fault(&emulator::fault_options::slow_response_rate);
    slow.slow_response = 2s;
    const auto out = credits_read(slow, c);
    BOOST_TEST((out.ec == client_errc::timeout || out.ec == client_errc::retries_exhausted));
    BOOST_TEST(out.diag.to_string().find("read") != std::string::npos, out.diag.to_string());
}

BOOST_AUTO_TEST_CASE(a_submission_without_a_callback_url_is_sent_with_the_clients_own)
{
    client_options c;
    c.polling_callback_url = "http://127.0.0.1:9/polling";  // no listener attached: this one is sent
    const auto out = paid_submission({}, sample_separation(""), {}, c);
    // KIE refuses an empty callBackUrl (422); the client's own URL goes instead.
    BOOST_TEST_REQUIRE(!out.ec, out.ec.message() << " " << out.diag.to_string());
    BOOST_TEST(!out.task_id.empty());
    BOOST_TEST(out.requests(sep_post) == 1u);
}

BOOST_AUTO_TEST_SUITE_END()
