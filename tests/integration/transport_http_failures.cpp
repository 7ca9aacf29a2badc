// http_client against a scripted server on 127.0.0.1 when things go wrong: timeouts named by
// their step, the body limit, retries for reads vs paid submissions (throttling, server errors,
// connections closed after the request), stale keep-alives, and the bearer token never reaching
// diagnostics on any of those paths.
#include <kiemidi/http_client.hpp>

#include "common/http_client_support.hpp"
#include "common/progress.hpp"
#include "common/run_bounded.hpp"
#include "common/test_http_server.hpp"
#include "nothrow_awaitable.hpp"

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <thread>

namespace asio = boost::asio;
using namespace kiemidi;
using namespace kiemidi::test;
using namespace std::chrono_literals;

BOOST_AUTO_TEST_SUITE(transport_http_failures)

BOOST_AUTO_TEST_CASE(read_timeout_names_the_step_and_paid_timeout_is_outcome_unknown)
{
    kiemidi::test::run_bounded([](asio::io_context& ioc) -> asio::awaitable<void> {
        test_http_server server(ioc.get_executor());
        server.set_default({.delay = 60s});  // ended by stop()
        server.start();
        auto opts = options_for(server.base_url());
        opts.timeouts.read = 100ms;
        opts.retry.max_attempts = 2;
        http_client cli(ioc.get_executor(), opts);

        diagnostics diag;
        auto [ec, res] = co_await cli.async_execute(get(), diag, use_nothrow_awaitable);
        BOOST_TEST((ec == client_errc::timeout));
        BOOST_TEST(diag.client_message().find("read from") != std::string::npos, diag.client_message());
        BOOST_TEST(diag.client_message().find("timed out after 100ms") != std::string::npos);
        BOOST_TEST(server.requests_received() == 2u);  // the read was retried once

        auto [ec2, res2] = co_await cli.async_execute(paid(), diag, use_nothrow_awaitable);
        BOOST_TEST((ec2 == client_errc::outcome_unknown));
        BOOST_TEST(diag.client_message().find("timed out") != std::string::npos);
        BOOST_TEST(diag.client_message().find("may have been processed") != std::string::npos);
        BOOST_TEST(server.requests_received() == 3u);  // the paid request was sent exactly once
        check_no_token(ec2, diag);
        server.stop();
    });
}

BOOST_AUTO_TEST_CASE(tls_handshake_timeout_names_the_step)
{
    const auto pki = kiemidi::test::make_test_pki({"localhost"}, {"127.0.0.1"});
    kiemidi::test::run_bounded([&](asio::io_context& ioc) -> asio::awaitable<void> {
        test_http_server server(ioc.get_executor(), {.tls = true, .cert_pem = pki.cert_pem, .key_pem = pki.key_pem,
                                                     .stall = true});
        server.start();
        auto opts = options_for(server.base_url());
        opts.tls.ca_pem = pki.ca_cert_pem;
        opts.timeouts.tls_handshake = 100ms;
        opts.retry.max_attempts = 2;
        http_client cli(ioc.get_executor(), opts);
        diagnostics diag;
        auto [ec, res] = co_await cli.async_execute(paid(), diag, use_nothrow_awaitable);
        BOOST_TEST((ec == client_errc::timeout));  // not outcome_unknown: nothing was written
        BOOST_TEST(diag.client_message().find("TLS handshake") != std::string::npos, diag.client_message());
        BOOST_TEST(diag.client_message().find("timed out") != std::string::npos);
        BOOST_TEST(server.connections_accepted() == 2u);  // resent: provably unprocessed
        BOOST_TEST(cli.stats().requests_sent == 0u);
        check_no_token(ec, diag);
        server.stop();
    });
}

BOOST_AUTO_TEST_CASE(write_timeout_names_the_step_and_makes_a_paid_outcome_unknown)
{
    kiemidi::test::run_bounded([](asio::io_context& ioc) -> asio::awaitable<void> {
        test_http_server server(ioc.get_executor(), {.stall = true});  // accepts, never reads
        server.start();
        auto opts = options_for(server.base_url());
        opts.timeouts.write = 200ms;
        opts.retry.max_attempts = 1;
        http_client cli(ioc.get_executor(), opts);
        diagnostics diag;
        // far larger than the loopback socket buffers, so the write cannot finish
        auto req = paid(std::string(48u * 1024u * 1024u, ' '));
        auto [ec, res] = co_await cli.async_execute(std::move(req), diag, use_nothrow_awaitable);
        BOOST_TEST((ec == client_errc::outcome_unknown), ec.message());
        BOOST_TEST(diag.client_message().find("write to") != std::string::npos, diag.client_message());
        BOOST_TEST(diag.client_message().find("timed out after 200ms") != std::string::npos);
        auto req2 = get();
        req2.body = std::string(48u * 1024u * 1024u, ' ');
        auto [ec2, res2] = co_await cli.async_execute(std::move(req2), diag, use_nothrow_awaitable);
        BOOST_TEST((ec2 == client_errc::timeout), ec2.message());
        check_no_token(ec, diag);
        server.stop();
    });
}

BOOST_AUTO_TEST_CASE(connect_timeout_names_the_step)
{
    kiemidi::test::run_bounded([](asio::io_context& ioc) -> asio::awaitable<void> {
        // A listener that never accepts, with its accept queue filled: further SYNs are dropped.
        using asio::ip::tcp;
        tcp::acceptor acceptor(ioc);
        acceptor.open(tcp::v4());
        acceptor.bind(tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
        acceptor.listen(0);
        const auto ep = acceptor.local_endpoint();
        std::vector<std::unique_ptr<tcp::socket>> fillers;
        for (int i = 0; i < 4; ++i)
        {
            fillers.push_back(std::make_unique<tcp::socket>(ioc));
            fillers.back()->async_connect(ep, [](error_code) {});
        }
        auto opts = options_for("http://127.0.0.1:" + std::to_string(ep.port()));
        opts.timeouts.connect = 200ms;
        opts.retry.max_attempts = 1;
        http_client cli(ioc.get_executor(), opts);
        diagnostics diag;
        auto [ec, res] = co_await cli.async_execute(paid(), diag, use_nothrow_awaitable);
        BOOST_TEST((ec == client_errc::timeout), ec.message() + " " + diag.to_string());
        BOOST_TEST(diag.client_message().find("connect to") != std::string::npos, diag.client_message());
        BOOST_TEST(cli.stats().requests_sent == 0u);
        for (auto& f : fillers) f->close();
        acceptor.close();
    });
}

BOOST_AUTO_TEST_CASE(connection_refused_is_retried_even_for_paid_requests)
{
    kiemidi::test::run_bounded([](asio::io_context& ioc) -> asio::awaitable<void> {
        const auto port = closed_port(ioc);
        auto opts = options_for("http://127.0.0.1:" + std::to_string(port));
        opts.retry.max_attempts = 3;
        http_client cli(ioc.get_executor(), opts);
        diagnostics diag;
        auto [ec, res] = co_await cli.async_execute(paid(), diag, use_nothrow_awaitable);
        BOOST_TEST((ec == asio::error::connection_refused), ec.message());
        BOOST_TEST(diag.client_message().find("connect to") != std::string::npos, diag.client_message());
        BOOST_TEST(diag.client_message().find("after 3 attempts") != std::string::npos);
        BOOST_TEST(cli.stats().retries == 2u);
        BOOST_TEST(cli.stats().open_connections == 0u);
        check_no_token(ec, diag);
    });
}

BOOST_AUTO_TEST_CASE(response_body_limit_is_enforced)
{
    kiemidi::test::run_bounded([](asio::io_context& ioc) -> asio::awaitable<void> {
        test_http_server server(ioc.get_executor());
        server.set_default({.body = std::string(5000, 'x')});
        server.start();
        auto opts = options_for(server.base_url());
        opts.max_response_body = 1000;
        http_client cli(ioc.get_executor(), opts);
        diagnostics diag;
        auto [ec, res] = co_await cli.async_execute(get(), diag, use_nothrow_awaitable);
        BOOST_TEST((ec == client_errc::response_too_large));
        BOOST_TEST(diag.client_message().find("1000 bytes") != std::string::npos);
        BOOST_TEST(server.requests_received() == 1u);  // not retried
        check_no_token(ec, diag);
        server.stop();
    });
}

BOOST_AUTO_TEST_CASE(throttled_answers_with_retry_after_are_retried_for_reads_and_paid)
{
    kiemidi::test::run_bounded([](asio::io_context& ioc) -> asio::awaitable<void> {
        test_http_server server(ioc.get_executor());
        server.start();
        http_client cli(ioc.get_executor(), options_for(server.base_url()));

        server.push({.status = 429, .body = "slow down", .retry_after = "0"});
        diagnostics diag;
        auto [ec, res] = co_await cli.async_execute(get(), diag, use_nothrow_awaitable);
        BOOST_TEST(!ec);
        BOOST_TEST(res.status == 200u);
        BOOST_TEST(server.requests_received() == 2u);

        server.push({.status = 429, .retry_after = "0"});
        server.push({.status = 429, .retry_after = "Thu, 01 Jan 1970 00:00:00 GMT"});
        auto [ec2, res2] = co_await cli.async_execute(paid(), diag, use_nothrow_awaitable);
        BOOST_TEST(!ec2);
        BOOST_TEST(res2.status == 200u);
        BOOST_TEST(server.requests_received() == 5u);
        const auto s = cli.stats();
        BOOST_TEST(s.throttled == 3u);
        BOOST_TEST(s.retries == 3u);
        BOOST_TEST(s.limiter_penalties == 2u);  // only the paid request's throttled answers close the window
        server.stop();
    });
}

BOOST_AUTO_TEST_CASE(throttling_that_persists_hands_over_the_last_answer)
{
    kiemidi::test::run_bounded([](asio::io_context& ioc) -> asio::awaitable<void> {
        test_http_server server(ioc.get_executor());
        server.set_default({.status = 429, .body = "busy", .retry_after = "0"});
        server.start();
        auto opts = options_for(server.base_url());
        opts.retry.max_attempts = 3;
        http_client cli(ioc.get_executor(), opts);
        diagnostics diag;
        auto [ec, res] = co_await cli.async_execute(paid(), diag, use_nothrow_awaitable);
        BOOST_TEST(!ec);
        BOOST_TEST(res.status == 429u);
        BOOST_TEST(res.body == "busy");
        BOOST_TEST(res.retry_after.has_value());
        BOOST_TEST(diag.http_status().value_or(0) == 429u);
        BOOST_TEST(server.requests_received() == 3u);
        check_no_token(ec, diag);
        server.stop();
    });
}

BOOST_AUTO_TEST_CASE(burst_of_paid_submissions_queues_for_the_limiter_instead_of_failing)
{
    kiemidi::test::run_bounded([](asio::io_context& ioc) -> asio::awaitable<void> {
        test_http_server server(ioc.get_executor());
        server.start();
        auto opts = options_for(server.base_url());
        opts.rate_limit.submissions_per_window = 10;
        opts.rate_limit.window = 10ms;
        http_client cli(ioc.get_executor(), opts);
        progress prog(ioc);
        std::size_t ok = 0;
        std::vector<diagnostics> diags(100);
        for (std::size_t i = 0; i < 100; ++i)
        {
            auto req = paid("{\"n\":" + std::to_string(i) + "}");
            cli.async_execute(std::move(req), diags[i], [&](error_code ec, http_response res) {
                if (!ec && res.status == 200) ++ok;
                prog.tick();
            });
        }
        co_await prog.wait(100);
        BOOST_TEST(ok == 100u);
        BOOST_TEST(server.requests_received() == 100u);
        BOOST_TEST(cli.stats().retries == 0u);
        BOOST_TEST(cli.stats().limiter_waiting == 0u);
        server.stop();
    });
}

BOOST_AUTO_TEST_CASE(server_errors_are_retried_for_reads_but_surfaced_for_paid)
{
    kiemidi::test::run_bounded([](asio::io_context& ioc) -> asio::awaitable<void> {
        test_http_server server(ioc.get_executor());
        server.start();
        http_client cli(ioc.get_executor(), options_for(server.base_url()));

        server.push({.status = 500, .body = "oops"});
        diagnostics diag;
        auto [ec, res] = co_await cli.async_execute(get(), diag, use_nothrow_awaitable);
        BOOST_TEST(!ec);
        BOOST_TEST(res.status == 200u);
        BOOST_TEST(server.requests_received() == 2u);

        server.push({.status = 500, .body = "oops"});
        auto [ec2, res2] = co_await cli.async_execute(paid(), diag, use_nothrow_awaitable);
        BOOST_TEST(!ec2);
        BOOST_TEST(res2.status == 500u);
        BOOST_TEST(res2.body == "oops");
        BOOST_TEST(diag.http_status().value_or(0) == 500u);
        BOOST_TEST(server.requests_received() == 3u);  // never resent
        server.stop();
    });
}

BOOST_AUTO_TEST_CASE(unavailable_answers_are_retried_for_paid)
{
    kiemidi::test::run_bounded([](asio::io_context& ioc) -> asio::awaitable<void> {
        test_http_server server(ioc.get_executor());
        server.start();
        http_client cli(ioc.get_executor(), options_for(server.base_url()));
        server.push({.status = 455, .body = "maintenance"});
        diagnostics diag;
        auto [ec, res] = co_await cli.async_execute(paid(), diag, use_nothrow_awaitable);
        BOOST_TEST(!ec);
        BOOST_TEST(res.status == 200u);
        BOOST_TEST(server.requests_received() == 2u);
        server.stop();
    });
}

BOOST_AUTO_TEST_CASE(custom_classifier_decides_what_is_throttled)
{
    kiemidi::test::run_bounded([](asio::io_context& ioc) -> asio::awaitable<void> {
        test_http_server server(ioc.get_executor());
        server.start();
        auto opts = options_for(server.base_url());
        opts.classify = [](const http_response& r) {
            return r.body.find("\"code\":429") != std::string::npos ? kiemidi::response_verdict::throttled
                                                                   : kiemidi::response_verdict::final;
        };
        http_client cli(ioc.get_executor(), opts);
        server.push({.status = 200, .body = R"({"code":429})"});
        server.push({.status = 500, .body = R"({"code":500})"});
        diagnostics diag;
        auto [ec, res] = co_await cli.async_execute(paid(), diag, use_nothrow_awaitable);
        BOOST_TEST(!ec);
        BOOST_TEST(res.status == 500u);  // "final" per the classifier
        BOOST_TEST(server.requests_received() == 2u);
        BOOST_TEST(cli.stats().throttled == 1u);
        server.stop();
    });
}

BOOST_AUTO_TEST_CASE(connection_closed_after_reading_the_request_retries_reads_only)
{
    kiemidi::test::run_bounded([](asio::io_context& ioc) -> asio::awaitable<void> {
        test_http_server server(ioc.get_executor());
        server.start();
        http_client cli(ioc.get_executor(), options_for(server.base_url()));

        server.push({.action = server_action::close_after_reading_request});
        diagnostics diag;
        auto [ec, res] = co_await cli.async_execute(get(), diag, use_nothrow_awaitable);
        BOOST_TEST(!ec);
        BOOST_TEST(res.status == 200u);
        BOOST_TEST(server.requests_received() == 2u);

        server.push({.action = server_action::close_after_reading_request});
        auto [ec2, res2] = co_await cli.async_execute(paid(), diag, use_nothrow_awaitable);
        BOOST_TEST((ec2 == client_errc::outcome_unknown), ec2.message());
        BOOST_TEST(diag.client_message().find("read from") != std::string::npos, diag.client_message());
        BOOST_TEST(diag.endpoint() == "POST /api/v1/thing/generate");
        BOOST_TEST(server.requests_received() == 3u);  // the paid request reached the server exactly once
        const auto reqs = server.requests();
        BOOST_TEST(std::count_if(reqs.begin(), reqs.end(), [](auto& r) { return r.method == "POST"; }) == 1);
        check_no_token(ec2, diag);
        server.stop();
    });
}

BOOST_AUTO_TEST_CASE(stale_keep_alive_connection_is_replaced_before_a_paid_request)
{
    kiemidi::test::run_bounded([](asio::io_context& ioc) -> asio::awaitable<void> {
        test_http_server server(ioc.get_executor());
        server.start();
        http_client cli(ioc.get_executor(), options_for(server.base_url()));
        server.push({.close_after_answer = true});  // announces keep-alive, then closes
        diagnostics diag;
        auto [ec, res] = co_await cli.async_execute(get(), diag, use_nothrow_awaitable);
        BOOST_TEST(!ec);
        co_await server.wait_until([&] { return server.connections_closed() == 1; });
        auto [ec2, res2] = co_await cli.async_execute(paid(), diag, use_nothrow_awaitable);
        BOOST_TEST(!ec2, ec2.message() + " " + diag.to_string());
        BOOST_TEST(res2.status == 200u);
        BOOST_TEST(cli.stats().stale_discarded == 1u);
        BOOST_TEST(cli.stats().retries == 0u);
        BOOST_TEST(server.connections_accepted() == 2u);
        BOOST_TEST(server.requests_received() == 2u);
        server.stop();
    });
}

BOOST_AUTO_TEST_CASE(token_never_appears_in_diagnostics_on_any_error_path)
{
    const auto pki = kiemidi::test::make_test_pki({"other.example"}, {});
    kiemidi::test::run_bounded([&](asio::io_context& ioc) -> asio::awaitable<void> {
        test_http_server server(ioc.get_executor());
        server.start();
        test_http_server tls_server(ioc.get_executor(), {.tls = true, .cert_pem = pki.cert_pem, .key_pem = pki.key_pem});
        tls_server.start();
        std::vector<std::string> texts;
        auto run = [&](const transport_options& opts, const http_request& req) -> asio::awaitable<void> {
            http_client cli(ioc.get_executor(), opts);
            diagnostics diag;
            auto [ec, res] = co_await cli.async_execute(req, diag, use_nothrow_awaitable);
            texts.push_back(diag.to_string() + " | " + diag.client_message() + " | " + ec.message());
            check_no_token(ec, diag);
        };
        auto base = options_for(server.base_url());
        base.retry.max_attempts = 2;
        std::vector<std::pair<transport_options, http_request>> cases;
        auto add = [&](auto f, http_request req) {
            auto o = base;
            f(o);
            cases.emplace_back(std::move(o), std::move(req));
        };
        auto same = [](transport_options&) {};

        add([](transport_options& o) { o.base_url = "http://192.0.2.1/"; }, paid());
        add([](transport_options& o) { o.base_url = "gopher://x/"; }, paid());
        add([&](transport_options& o) { o.base_url = "http://127.0.0.1:" + std::to_string(closed_port(ioc)); }, paid());
        add([&](transport_options& o) { o.base_url = tls_server.base_url(); }, paid());
        add([&](transport_options& o) { o.base_url = tls_server.base_url(); o.tls.ca_pem = pki.ca_cert_pem; }, get());
        for (std::size_t i = 0; i < cases.size(); ++i) co_await run(cases[i].first, cases[i].second);
        cases.clear();

        // the token in the target's query must not leak either
        server.push({.action = server_action::close_after_reading_request});
        add(same, http_request{http_method::post, "/x?key=" + token, "{}", request_kind::paid_submission});
        co_await run(cases[0].first, cases[0].second);
        server.push({.delay = 60s});
        server.push({.delay = 60s});
        add([](transport_options& o) { o.timeouts.read = 50ms; }, get("/y?t=" + token));
        co_await run(cases[1].first, cases[1].second);
        server.push({.body = std::string(3000, 'z')});
        add([](transport_options& o) { o.max_response_body = 100; }, get());
        co_await run(cases[2].first, cases[2].second);
        server.set_default({.status = 500, .body = token});
        add(same, get());
        co_await run(cases[3].first, cases[3].second);
        server.set_default({.status = 429, .body = token, .retry_after = "0"});
        add(same, paid());
        co_await run(cases[4].first, cases[4].second);
        BOOST_TEST(texts.size() == 10u);
        for (const auto& t : texts)
        {
            BOOST_TEST_MESSAGE(t);
            BOOST_TEST(t.find(token) == std::string::npos, t);
        }
        server.stop();
        tls_server.stop();
    });
}

BOOST_AUTO_TEST_SUITE_END()
