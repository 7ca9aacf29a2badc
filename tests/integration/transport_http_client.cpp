// http_client against a scripted server on 127.0.0.1: pooling, headers, TLS verification, the
// plain-http guard, URL checks, cancellation, shutdown and several io threads. What goes wrong on
// the way (timeouts, retries, throttling) is in transport_http_failures.cpp.
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

BOOST_AUTO_TEST_SUITE(transport_http_client)

BOOST_AUTO_TEST_CASE(sequential_requests_reuse_one_connection)
{
    kiemidi::test::run_bounded([](asio::io_context& ioc) -> asio::awaitable<void> {
        test_http_server server(ioc.get_executor());
        server.set_default({.body = R"({"code":200})"});
        server.start();
        http_client cli(ioc.get_executor(), options_for(server.base_url()));
        for (int i = 0; i < 200; ++i)
        {
            diagnostics diag;
            // (a named request: GCC 12 miscompiles `c ? f() : g()` temporaries inside co_await)
            http_request req = i % 2 ? get() : paid();
            auto [ec, res] = co_await cli.async_execute(std::move(req), diag, use_nothrow_awaitable);
            BOOST_REQUIRE_MESSAGE(!ec, ec.message() + " " + diag.to_string());
            BOOST_TEST(res.status == 200u);
            BOOST_TEST(res.body == R"({"code":200})");
        }
        BOOST_TEST(server.connections_accepted() == 1u);
        BOOST_TEST(server.requests_received() == 200u);
        const auto s = cli.stats();
        BOOST_TEST(s.connections_opened == 1u);
        BOOST_TEST(s.requests_sent == 200u);
        BOOST_TEST(s.retries == 0u);
        BOOST_TEST(s.in_flight == 0u);
        BOOST_TEST(s.idle_connections == 1u);
        server.stop();
    });
}

BOOST_AUTO_TEST_CASE(concurrent_requests_stay_within_pool_size)
{
    kiemidi::test::run_bounded([](asio::io_context& ioc) -> asio::awaitable<void> {
        test_http_server server(ioc.get_executor());
        server.start();
        auto opts = options_for(server.base_url());
        opts.pool_size = 4;
        http_client cli(ioc.get_executor(), opts);
        progress prog(ioc);
        std::size_t ok = 0;
        std::vector<diagnostics> diags(200);
        for (std::size_t i = 0; i < 200; ++i)
            cli.async_execute(get(), diags[i], [&](error_code ec, http_response res) {
                if (!ec && res.status == 200) ++ok;
                prog.tick();
            });
        BOOST_TEST(cli.stats().in_flight == 200u);
        co_await prog.wait(200);
        BOOST_TEST(ok == 200u);
        BOOST_TEST(server.requests_received() == 200u);
        BOOST_TEST(server.connections_accepted() <= 4u);
        BOOST_TEST(server.connections_accepted() >= 1u);
        BOOST_TEST(server.max_concurrent_connections() <= 4u);
        BOOST_TEST(cli.stats().connections_opened == server.connections_accepted());
        BOOST_TEST(cli.stats().in_flight == 0u);
        server.stop();
    });
}

BOOST_AUTO_TEST_CASE(every_request_carries_host_user_agent_authorization_and_content_type)
{
    kiemidi::test::run_bounded([](asio::io_context& ioc) -> asio::awaitable<void> {
        test_http_server server(ioc.get_executor());
        server.start();
        auto opts = options_for(server.base_url() + "/prefix/");
        opts.user_agent = "kiemidi-test/1";
        http_client cli(ioc.get_executor(), opts);
        diagnostics diag;
        auto [ec1, r1] = co_await cli.async_execute(paid(R"({"a":1})"), diag, use_nothrow_awaitable);
        BOOST_TEST(!ec1);
        BOOST_TEST(diag.endpoint() == "POST /prefix/api/v1/thing/generate");
        BOOST_TEST(diag.http_status().value_or(0) == 200u);
        auto [ec2, r2] = co_await cli.async_execute(get(), diag, use_nothrow_awaitable);
        BOOST_TEST(!ec2);
        BOOST_TEST(diag.endpoint() == "GET /prefix/api/v1/thing/record-info");
        const auto reqs = server.requests();
        BOOST_REQUIRE(reqs.size() == 2u);
        BOOST_TEST(reqs[0].method == "POST");
        BOOST_TEST(reqs[0].target == "/prefix/api/v1/thing/generate");
        BOOST_TEST(reqs[0].body == R"({"a":1})");
        BOOST_TEST(reqs[0].headers.at("content-type") == "application/json");
        BOOST_TEST(reqs[1].method == "GET");
        BOOST_TEST(reqs[1].target == "/prefix/api/v1/thing/record-info?taskId=t1");
        BOOST_TEST(reqs[1].headers.count("content-type") == 0u);
        for (const auto& r : reqs)
        {
            BOOST_TEST(r.headers.at("authorization") == "Bearer " + token);
            BOOST_TEST(r.headers.at("user-agent") == "kiemidi-test/1");
            BOOST_TEST(r.headers.at("host") == "127.0.0.1:" + std::to_string(server.port()));
        }
        server.stop();
    });
}

BOOST_AUTO_TEST_CASE(tls_succeeds_with_the_configured_ca)
{
    const auto pki = kiemidi::test::make_test_pki({"localhost"}, {"127.0.0.1"});
    kiemidi::test::run_bounded([&](asio::io_context& ioc) -> asio::awaitable<void> {
        test_http_server server(ioc.get_executor(), {.tls = true, .cert_pem = pki.cert_pem, .key_pem = pki.key_pem});
        server.start();
        auto opts = options_for(server.base_url());
        opts.tls.ca_pem = pki.ca_cert_pem;
        http_client cli(ioc.get_executor(), opts);
        for (int i = 0; i < 5; ++i)
        {
            diagnostics diag;
            auto [ec, res] = co_await cli.async_execute(get(), diag, use_nothrow_awaitable);
            BOOST_REQUIRE_MESSAGE(!ec, ec.message() + " " + diag.to_string());
            BOOST_TEST(res.status == 200u);
        }
        BOOST_TEST(cli.stats().tls_handshakes == 1u);
        BOOST_TEST(server.tls_handshakes() == 1u);
        BOOST_TEST(server.connections_accepted() == 1u);
        server.stop();
    });
}

BOOST_AUTO_TEST_CASE(tls_succeeds_with_a_ca_file)
{
    const auto pki = kiemidi::test::make_test_pki({"localhost"}, {"127.0.0.1"});
    const auto path = std::filesystem::temp_directory_path() /
                      ("kiemidi-test-ca-" + std::to_string(std::hash<std::string>{}(pki.ca_cert_pem)) + ".pem");
    std::ofstream(path) << pki.ca_cert_pem;
    kiemidi::test::run_bounded([&](asio::io_context& ioc) -> asio::awaitable<void> {
        test_http_server server(ioc.get_executor(), {.tls = true, .cert_pem = pki.cert_pem, .key_pem = pki.key_pem});
        server.start();
        auto opts = options_for(server.base_url());
        opts.tls.ca_file = path.string();
        http_client cli(ioc.get_executor(), opts);
        diagnostics diag;
        auto [ec, res] = co_await cli.async_execute(get(), diag, use_nothrow_awaitable);
        BOOST_TEST(!ec);
        BOOST_TEST(res.status == 200u);
        server.stop();
    });
    std::filesystem::remove(path);
}

BOOST_AUTO_TEST_CASE(tls_is_refused_for_an_untrusted_ca)
{
    const auto served = kiemidi::test::make_test_pki({"localhost"}, {"127.0.0.1"});
    const auto other = kiemidi::test::make_test_pki({"localhost"}, {"127.0.0.1"});
    kiemidi::test::run_bounded([&](asio::io_context& ioc) -> asio::awaitable<void> {
        test_http_server server(ioc.get_executor(), {.tls = true, .cert_pem = served.cert_pem, .key_pem = served.key_pem});
        server.start();
        for (bool system_store : {false, true})
        {
            auto opts = options_for(server.base_url());
            opts.retry.max_attempts = 3;  // a rejected certificate is not retried
            if (!system_store) opts.tls.ca_pem = other.ca_cert_pem;
            http_client cli(ioc.get_executor(), opts);
            diagnostics diag;
            auto [ec, res] = co_await cli.async_execute(paid(), diag, use_nothrow_awaitable);
            BOOST_TEST(ec.failed());
            BOOST_TEST((ec != client_errc::outcome_unknown));  // nothing was sent
            BOOST_TEST(diag.client_message().find("TLS handshake") != std::string::npos, diag.client_message());
            BOOST_TEST(diag.client_message().find("certificate") != std::string::npos);
            BOOST_TEST(cli.stats().tls_handshakes == 0u);
            BOOST_TEST(cli.stats().requests_sent == 0u);
            BOOST_TEST(cli.stats().retries == 0u);
            check_no_token(ec, diag);
        }
        BOOST_TEST(server.requests_received() == 0u);
        BOOST_TEST(server.tls_handshakes() == 0u);
        BOOST_TEST(server.connections_accepted() == 2u);  // one per client, no retries
        server.stop();
    });
}

BOOST_AUTO_TEST_CASE(tls_is_refused_on_a_wrong_host_name)
{
    const auto pki = kiemidi::test::make_test_pki({"other.example"}, {});
    kiemidi::test::run_bounded([&](asio::io_context& ioc) -> asio::awaitable<void> {
        test_http_server server(ioc.get_executor(), {.tls = true, .cert_pem = pki.cert_pem, .key_pem = pki.key_pem});
        server.start();
        auto opts = options_for(server.base_url());
        opts.retry.max_attempts = 3;
        opts.tls.ca_pem = pki.ca_cert_pem;  // trusted CA, but the certificate names another host
        http_client cli(ioc.get_executor(), opts);
        diagnostics diag;
        auto [ec, res] = co_await cli.async_execute(get(), diag, use_nothrow_awaitable);
        BOOST_TEST(ec.failed());
        BOOST_TEST(diag.client_message().find("TLS handshake") != std::string::npos, diag.client_message());
        BOOST_TEST(diag.client_message().find("mismatch") != std::string::npos, diag.client_message());
        BOOST_TEST(server.requests_received() == 0u);
        BOOST_TEST(server.connections_accepted() == 1u);  // not retried
        server.stop();
    });
}

BOOST_AUTO_TEST_CASE(insecure_opt_out_accepts_any_certificate)
{
    const auto pki = kiemidi::test::make_test_pki({"other.example"}, {});
    kiemidi::test::run_bounded([&](asio::io_context& ioc) -> asio::awaitable<void> {
        test_http_server server(ioc.get_executor(), {.tls = true, .cert_pem = pki.cert_pem, .key_pem = pki.key_pem});
        server.start();
        auto opts = options_for(server.base_url());
        opts.tls.insecure_skip_verify_do_not_use_in_production = true;  // untrusted CA and wrong name
        http_client cli(ioc.get_executor(), opts);
        diagnostics diag;
        auto [ec, res] = co_await cli.async_execute(get(), diag, use_nothrow_awaitable);
        BOOST_TEST(!ec, ec.message() + " " + diag.to_string());
        BOOST_TEST(res.status == 200u);
        server.stop();
    });
}

BOOST_AUTO_TEST_CASE(plain_http_to_a_non_loopback_host_is_refused_before_connecting)
{
    kiemidi::test::run_bounded([](asio::io_context& ioc) -> asio::awaitable<void> {
        for (const char* url : {"http://192.0.2.1", "http://192.0.2.1:8080/api", "http://example.invalid",
                                "http://[2001:db8::1]/"})
        {
            http_client cli(ioc.get_executor(), options_for(url));
            for (auto req : {get(), paid()})
            {
                diagnostics diag;
                auto [ec, res] = co_await cli.async_execute(req, diag, use_nothrow_awaitable);
                BOOST_TEST((ec == client_errc::insecure_scheme), url);
                BOOST_TEST(diag.client_message().find("plain http") != std::string::npos);
                check_no_token(ec, diag);
            }
            const auto s = cli.stats();
            BOOST_TEST(s.connections_opened == 0u);
            BOOST_TEST(s.requests_sent == 0u);
            BOOST_TEST(s.open_connections == 0u);
        }
    });
}

BOOST_AUTO_TEST_CASE(bad_base_urls_fail_with_invalid_url)
{
    kiemidi::test::run_bounded([](asio::io_context& ioc) -> asio::awaitable<void> {
        for (const char* url : {"", "not a url", "ftp://127.0.0.1/", "https://user:pass-" "SECRET@127.0.0.1/",
                                "https://127.0.0.1/?q=1"})
        {
            http_client cli(ioc.get_executor(), options_for(url));
            diagnostics diag;
            auto [ec, res] = co_await cli.async_execute(get(), diag, use_nothrow_awaitable);
            BOOST_TEST((ec == client_errc::invalid_url), url);
            BOOST_TEST(diag.to_string().find("SECRET") == std::string::npos);
            BOOST_TEST(cli.stats().connections_opened == 0u);
        }
    });
}

BOOST_AUTO_TEST_CASE(cancellation_completes_promptly_with_operation_aborted)
{
    kiemidi::test::run_bounded([](asio::io_context& ioc) -> asio::awaitable<void> {
        test_http_server server(ioc.get_executor());
        server.set_default({.delay = 60s});
        server.start();
        auto opts = options_for(server.base_url());
        opts.timeouts.read = 60s;
        http_client cli(ioc.get_executor(), opts);
        for (auto req : {get(), paid()})
        {
            asio::cancellation_signal sig;
            diagnostics diag;
            progress prog(ioc);
            error_code result;
            const auto before = server.requests_received();
            cli.async_execute(req, diag, asio::bind_cancellation_slot(sig.slot(), [&](error_code ec, http_response) {
                                  result = ec;
                                  prog.tick();
                              }));
            co_await server.wait_until([&] { return server.requests_received() == before + 1; });
            sig.emit(asio::cancellation_type::terminal);
            co_await prog.wait(1);
            BOOST_TEST((result == asio::error::operation_aborted), result.message());
            check_no_token(result, diag);
        }
        BOOST_TEST(server.requests_received() == 2u);  // nothing resent after cancellation
        BOOST_TEST(cli.stats().in_flight == 0u);
        server.stop();
    }, 10s);
}

BOOST_AUTO_TEST_CASE(cancellation_while_queued_for_the_rate_limiter)
{
    kiemidi::test::run_bounded([](asio::io_context& ioc) -> asio::awaitable<void> {
        test_http_server server(ioc.get_executor());
        server.start();
        auto opts = options_for(server.base_url());
        opts.rate_limit.submissions_per_window = 1;
        opts.rate_limit.window = 1h;
        http_client cli(ioc.get_executor(), opts);
        diagnostics diag;
        auto [ec, res] = co_await cli.async_execute(paid(), diag, use_nothrow_awaitable);
        BOOST_TEST(!ec);
        asio::cancellation_signal sig;
        progress prog(ioc);
        error_code result;
        cli.async_execute(paid(), diag, asio::bind_cancellation_slot(sig.slot(), [&](error_code e, http_response) {
                              result = e;
                              prog.tick();
                          }));
        // reads are never limited
        auto [ec3, res3] = co_await cli.async_execute(get(), diag, use_nothrow_awaitable);
        BOOST_TEST(!ec3);
        sig.emit(asio::cancellation_type::terminal);
        co_await prog.wait(1);
        BOOST_TEST((result == asio::error::operation_aborted));
        BOOST_TEST(server.requests_received() == 2u);
        server.stop();
    });
}

BOOST_AUTO_TEST_CASE(close_cancels_pending_operations_and_later_calls_fail)
{
    kiemidi::test::run_bounded([](asio::io_context& ioc) -> asio::awaitable<void> {
        test_http_server server(ioc.get_executor());
        server.set_default({.delay = 60s});
        server.start();
        auto opts = options_for(server.base_url());
        opts.pool_size = 1;
        http_client cli(ioc.get_executor(), opts);
        progress prog(ioc);
        std::vector<error_code> results;
        std::vector<diagnostics> diags(3);
        for (int i = 0; i < 3; ++i)
        {
            http_request req = i == 1 ? paid() : get();
            cli.async_execute(std::move(req), diags[static_cast<std::size_t>(i)],
                              [&](error_code ec, http_response) {
                                  results.push_back(ec);
                                  prog.tick();
                              });
        }
        co_await server.wait_until([&] { return server.requests_received() == 1; });
        cli.close();
        co_await prog.wait(3);
        for (auto& ec : results) BOOST_TEST((ec == client_errc::shut_down), ec.message());
        diagnostics diag;
        auto [ec, res] = co_await cli.async_execute(get(), diag, use_nothrow_awaitable);
        BOOST_TEST((ec == client_errc::shut_down));
        BOOST_TEST(server.requests_received() == 1u);
        BOOST_TEST(cli.stats().in_flight == 0u);
        BOOST_TEST(cli.stats().open_connections == 0u);
        server.stop();
    });
}

BOOST_AUTO_TEST_CASE(destroying_the_client_completes_pending_operations)
{
    kiemidi::test::run_bounded([](asio::io_context& ioc) -> asio::awaitable<void> {
        test_http_server server(ioc.get_executor());
        server.set_default({.delay = 60s});
        server.start();
        progress prog(ioc);
        std::vector<error_code> results;
        std::vector<diagnostics> diags(2);
        {
            http_client cli(ioc.get_executor(), options_for(server.base_url()));
            for (auto& d : diags)
                cli.async_execute(get(), d, [&](error_code ec, http_response) {
                    results.push_back(ec);
                    prog.tick();
                });
            co_await server.wait_until([&] { return server.requests_received() == 2; });
        }
        co_await prog.wait(2);
        for (auto& ec : results) BOOST_TEST((ec == client_errc::shut_down), ec.message());
        server.stop();
    });
}

BOOST_AUTO_TEST_CASE(works_with_an_io_context_on_several_threads, *boost::unit_test::label("multithreaded"))
{
    // The server runs on its own thread; the client's io_context runs on four.
    asio::io_context server_ioc;
    test_http_server server(server_ioc.get_executor());
    server.start();
    std::thread server_thread([&] { server_ioc.run(); });

    asio::io_context ioc;
    std::atomic<std::size_t> ok{0}, done{0};
    bool timed_out = false;
    {
        auto opts = options_for(server.base_url());
        opts.pool_size = 3;
        http_client cli(ioc.get_executor(), opts);
        // Bounded in time: a guard on its own strand closes the client if the operations hang.
        auto guard_strand = asio::make_strand(ioc);
        asio::steady_timer guard(guard_strand, 20s);
        guard.async_wait([&](error_code ec) {
            if (ec) return;
            timed_out = true;
            cli.close();
        });
        std::vector<diagnostics> diags(300);
        for (std::size_t i = 0; i < 300; ++i)
            cli.async_execute(i % 3 ? get() : paid(), diags[i], [&](error_code ec, http_response res) {
                if (!ec && res.status == 200) ++ok;
                if (++done == 300) asio::post(guard_strand, [&] { guard.cancel(); });
            });
        std::vector<std::thread> threads;
        for (int i = 0; i < 4; ++i) threads.emplace_back([&] { ioc.run(); });
        for (auto& t : threads) t.join();  // returns once every operation has completed
        BOOST_TEST(!timed_out);
        BOOST_TEST(cli.stats().connections_opened <= 3u);
        BOOST_TEST(cli.stats().in_flight == 0u);
    }
    BOOST_TEST(done.load() == 300u);
    BOOST_TEST(ok.load() == 300u);
    asio::post(server_ioc, [&] { server.stop(); });
    server_thread.join();
    BOOST_TEST(server.requests_received() == 300u);
    BOOST_TEST(server.connections_accepted() <= 3u);
}

BOOST_AUTO_TEST_SUITE_END()
