// The client through a real HTTP proxy (tinyproxy, started on a free 127.0.0.1 port): the whole
// pipeline over HTTPS inside CONNECT tunnels, verified against the emulator's certificate and
// pooled; NO_PROXY sending the origin around the proxy; Basic authentication accepted and
// refused; and refusals that leave a paid POST unsent (and so not "maybe paid").
#include <kiemidi/callback_listener.hpp>
#include <kiemidi/client.hpp>
#include <kiemidi/emulator/server.hpp>
#include <kiemidi/http_client.hpp>
#include <kiemidi/in_process_callback_hub.hpp>
#include <kiemidi/metrics/model.hpp>

#include "common/http_client_support.hpp"
#include "common/run_bounded.hpp"
#include "common/temp_dir.hpp"
#include "common/test_http_server.hpp"
#include "common/tinyproxy_server.hpp"
#include "nothrow_awaitable.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <memory>
#include <optional>
#include <string>

namespace asio = boost::asio;
using namespace kiemidi;
using namespace kiemidi::test;
using namespace std::chrono_literals;

namespace {

const std::string sep_post = "POST /api/v1/vocal-removal/generate";
const std::string midi_post = "POST /api/v1/midi/generate";
const std::string proxy_password = "pr0xy-SECRET-9d41";

/// KIE (the emulator, over HTTPS) with a callback listener and a client whose transport goes
/// through `proxy` (only: the environment is not read), trusting the emulator's CA.
struct kie_behind_proxy
{
    asio::any_io_executor ex;
    std::unique_ptr<emulator::server> kie;
    in_process_callback_hub hub;
    callback_listener listener;
    std::unique_ptr<client> cli;

    explicit kie_behind_proxy(asio::any_io_executor e) : ex(e), hub(e), listener(e, listener_options{}, hub)
    {
        kie = std::make_unique<emulator::server>(ex, emulator::emulator_options{});
        kie->start();
        listener.start();
    }
    kie_behind_proxy(const kie_behind_proxy&) = delete;
    kie_behind_proxy& operator=(const kie_behind_proxy&) = delete;
    ~kie_behind_proxy()
    {
        if (cli) cli->close();
        listener.stop();
        hub.close();
        kie->stop();
    }

    void connect(proxy_options proxy)
    {
        client_options co;
        co.base_url = kie->https_base_url();
        co.api_key = kie->api_key();
        co.transport.tls.ca_pem = kie->ca_certificate_pem();
        co.transport.rate_limit.enabled = false;
        co.transport.retry.base_delay = 1ms;
        co.transport.retry.max_delay = 10ms;
        co.transport.proxy = std::move(proxy);
        cli = std::make_unique<client>(ex, std::move(co));
        cli->attach_callbacks(hub, listener);
    }
};

midi_params one_track()
{
    midi_params p;
    p.task_id = "music-1";
    p.audio_id = "audio-1";
    p.stage_timeout = 20s;
    p.deadline = 30s;
    return p;
}

void check_secret_absent(const error_code& ec, const diagnostics& diag)
{
    BOOST_TEST(diag.to_string().find(proxy_password) == std::string::npos, diag.to_string());
    BOOST_TEST(ec.message().find(proxy_password) == std::string::npos);
    check_no_token(ec, diag);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(transport_proxy, *boost::unit_test::precondition([](boost::unit_test::test_unit_id) {
                          return boost::test_tools::assertion_result(tinyproxy_server::available());
                      }))

BOOST_AUTO_TEST_CASE(the_whole_pipeline_runs_over_https_through_connect_tunnels_that_stay_pooled)
{
    temp_dir dir("kiemidi-proxy-test");
    std::optional<tinyproxy_server> proxy;
    run_bounded([&](asio::io_context& ioc) -> asio::awaitable<void> {
        kie_behind_proxy env(ioc.get_executor());
        proxy.emplace(dir.path, tinyproxy_options{.connect_ports = {env.kie->https_port()}});
        env.connect({.use_environment = false, .url = proxy->url()});

        diagnostics diag;
        auto [ec, r] = co_await env.cli->async_generate_midi(one_track(), diag, use_nothrow_awaitable);
        BOOST_TEST_REQUIRE(!ec, diag.to_string());
        BOOST_TEST(r.note_count() > 0u);
        const auto c = env.kie->snapshot();
        BOOST_TEST(c.requests_to(sep_post) == 1u);
        BOOST_TEST(c.requests_to(midi_post) == 1u);

        // Every connection was a tunnel; TLS inside it was with the origin (the emulator's
        // certificate verified for 127.0.0.1, never the proxy's), and tunnels were reused.
        const auto s = env.cli->transport_stats();
        BOOST_TEST(s.proxy_tunnels >= 1u);
        BOOST_TEST(s.proxy_tunnels == s.connections_opened);
        BOOST_TEST(s.tls_handshakes == s.connections_opened);
        BOOST_TEST(s.requests_sent > s.connections_opened, "requests " << s.requests_sent << ", tunnels " << s.proxy_tunnels);
        BOOST_TEST(proxy->connects() == s.proxy_tunnels, proxy->log());
    }, 30s);
}

BOOST_AUTO_TEST_CASE(an_http_origin_is_reached_through_connect_too_with_its_request_unchanged_and_one_tunnel_reused)
{
    temp_dir dir("kiemidi-proxy-test");
    std::optional<tinyproxy_server> proxy;
    run_bounded([&](asio::io_context& ioc) -> asio::awaitable<void> {
        test_http_server server(ioc.get_executor());
        server.set_default({});
        server.start();
        proxy.emplace(dir.path, tinyproxy_options{.connect_ports = {server.port()}});
        auto o = options_for(server.base_url());
        o.proxy = {.use_environment = false, .url = proxy->url()};
        http_client cli(ioc.get_executor(), o);
        for (int i = 0; i < 3; ++i)
        {
            diagnostics diag;
            http_request req = i == 2 ? paid() : get();  // a named local: g++ 12 mishandles temporaries inside co_await
            auto [ec, res] = co_await cli.async_execute(std::move(req), diag, use_nothrow_awaitable);
            BOOST_TEST_REQUIRE(!ec, diag.to_string());
            BOOST_TEST(res.status == 200u);
        }
        BOOST_TEST(server.connections_accepted() == 1u);  // one tunnel, kept alive and reused
        BOOST_TEST(cli.stats().proxy_tunnels == 1u);
        BOOST_TEST(proxy->connects() == 1u, proxy->log());
        const auto reqs = server.requests();
        BOOST_TEST_REQUIRE(reqs.size() == 3u);
        BOOST_TEST(reqs[0].target == "/api/v1/thing/record-info?taskId=t1");  // origin-form, as sent directly
        BOOST_TEST(reqs[0].headers.at("host") == "127.0.0.1:" + std::to_string(server.port()));
        BOOST_TEST(reqs[2].headers.at("authorization") == "Bearer " + token);
        BOOST_TEST(!reqs[2].headers.count("proxy-authorization"));
        server.stop();
    });
}

BOOST_AUTO_TEST_CASE(no_proxy_sends_the_origin_around_a_proxy_that_is_not_even_running)
{
    temp_dir dir("kiemidi-proxy-test");
    run_bounded([&](asio::io_context& ioc) -> asio::awaitable<void> {
        kie_behind_proxy env(ioc.get_executor());
        tinyproxy_server proxy(dir.path, tinyproxy_options{.connect_ports = {env.kie->https_port()}});
        proxy.stop();  // contacting it would fail the requests
        env.connect({.use_environment = false, .url = proxy.url(), .no_proxy = "example.com, 127.0.0.0/8"});

        diagnostics diag;
        auto [ec, r] = co_await env.cli->async_generate_midi(one_track(), diag, use_nothrow_awaitable);
        BOOST_TEST_REQUIRE(!ec, diag.to_string());
        BOOST_TEST(env.cli->transport_stats().proxy_tunnels == 0u);
        BOOST_TEST(proxy.connects() == 0u);
    }, 30s);
}

BOOST_AUTO_TEST_CASE(proxy_credentials_are_sent_as_basic_authorization_and_accepted)
{
    temp_dir dir("kiemidi-proxy-test");
    std::optional<tinyproxy_server> proxy;
    run_bounded([&](asio::io_context& ioc) -> asio::awaitable<void> {
        kie_behind_proxy env(ioc.get_executor());
        proxy.emplace(dir.path, tinyproxy_options{.connect_ports = {env.kie->https_port()},
                                                  .user = "kiemidi",
                                                  .password = proxy_password});
        env.connect({.use_environment = false, .url = proxy->url_with("kiemidi", proxy_password)});
        diagnostics diag;
        auto [ec, credits] = co_await env.cli->async_get_credits(diag, use_nothrow_awaitable);
        BOOST_TEST_REQUIRE(!ec, diag.to_string());
        BOOST_TEST(credits.remaining > 0);
        BOOST_TEST(env.cli->transport_stats().proxy_tunnels == 1u);
    }, 30s);
    BOOST_TEST(proxy->log().find(proxy_password) == std::string::npos);  // nor does the proxy log it
}

// Before: a paid POST through a refusing proxy was either "connection refused"-style retried or,
// had any byte been counted as written, recorded as maybe paid. The tunnel fails before the
// request exists on the wire: nothing reaches KIE, the error names the proxy and its status.
BOOST_AUTO_TEST_CASE(refused_credentials_fail_fast_naming_the_proxy_and_status_with_nothing_paid)
{
    temp_dir dir("kiemidi-proxy-test");
    std::optional<tinyproxy_server> proxy;
    run_bounded([&](asio::io_context& ioc) -> asio::awaitable<void> {
        kie_behind_proxy env(ioc.get_executor());
        proxy.emplace(dir.path, tinyproxy_options{.connect_ports = {env.kie->https_port()},
                                                  .user = "kiemidi",
                                                  .password = "the-right-one"});
        env.connect({.use_environment = false, .url = proxy->url_with("kiemidi", proxy_password)});

        diagnostics diag;
        auto [ec, r] = co_await env.cli->async_generate_midi(one_track(), diag, use_nothrow_awaitable);
        BOOST_TEST((ec == client_errc::proxy_refused), ec.message());
        BOOST_TEST((ec != client_errc::outcome_unknown));
        const auto msg = diag.client_message();
        BOOST_TEST(msg.find("proxy " + proxy->url()) != std::string::npos, msg);
        BOOST_TEST((msg.find("HTTP 407") != std::string::npos || msg.find("HTTP 401") != std::string::npos), msg);
        BOOST_TEST(msg.find("did not accept the credentials") != std::string::npos, msg);
        check_secret_absent(ec, diag);
        BOOST_TEST(r.separation_task_id.empty());
        const auto c = env.kie->snapshot();
        BOOST_TEST(c.requests_to(sep_post) == 0u);
        BOOST_TEST(c.duplicate_paid_submissions() == 0u);
        BOOST_TEST(proxy->connects() == 1u);  // a refusal is not retried: the same credentials would be refused again
        for (const auto& unknown : env.cli->metrics().unknown_outcomes) BOOST_TEST(unknown.value() == 0u);
    }, 30s);
}

BOOST_AUTO_TEST_CASE(a_proxy_that_cannot_reach_kie_is_retried_then_reported_with_its_status_and_nothing_sent)
{
    temp_dir dir("kiemidi-proxy-test"), strict_dir("kiemidi-proxy-test");
    std::optional<tinyproxy_server> proxy;
    run_bounded([&](asio::io_context& ioc) -> asio::awaitable<void> {
        const auto nothing_there = closed_port(ioc);
        http_client cli(ioc.get_executor(), [&] {
            auto o = options_for("http://127.0.0.1:" + std::to_string(nothing_there));
            o.retry.max_attempts = 3;
            proxy.emplace(dir.path, tinyproxy_options{.connect_ports = {nothing_there}});
            o.proxy = {.use_environment = false, .url = proxy->url()};
            return o;
        }());
        diagnostics diag;
        auto [ec, res] = co_await cli.async_execute(paid(), diag, use_nothrow_awaitable);
        BOOST_TEST((ec == client_errc::proxy_refused), ec.message());
        BOOST_TEST(diag.client_message().find("proxy " + proxy->url() + " refused CONNECT 127.0.0.1:" +
                                              std::to_string(nothing_there) + ": HTTP 5") != std::string::npos,
                   diag.client_message());
        BOOST_TEST(diag.client_message().find("may have been processed") == std::string::npos);
        BOOST_TEST(cli.stats().requests_sent == 0u);  // no attempt wrote the request
        BOOST_TEST(proxy->connects() == 3u);           // the proxy's 5xx was retried like a failed connect
        check_no_token(ec, diag);

        // A port the proxy does not open tunnels to: 403, not retried.
        proxy.reset();
        proxy.emplace(strict_dir.path, tinyproxy_options{.connect_ports = {1}});
        http_client strict(ioc.get_executor(), [&] {
            auto o = options_for("http://127.0.0.1:" + std::to_string(nothing_there));
            o.proxy = {.use_environment = false, .url = proxy->url()};
            return o;
        }());
        auto [ec2, res2] = co_await strict.async_execute(paid(), diag, use_nothrow_awaitable);
        BOOST_TEST((ec2 == client_errc::proxy_refused), ec2.message());
        BOOST_TEST(diag.client_message().find(": HTTP 403") != std::string::npos, diag.client_message());
        BOOST_TEST(proxy->connects() == 1u);
    }, 30s);
}

BOOST_AUTO_TEST_CASE(a_malformed_proxy_url_fails_every_request_at_once_without_its_password)
{
    run_bounded([](asio::io_context& ioc) -> asio::awaitable<void> {
        auto o = options_for("https://127.0.0.1:1");
        o.proxy = {.use_environment = false, .url = "socks5://kiemidi:" + proxy_password + "@127.0.0.1:1080"};
        http_client cli(ioc.get_executor(), o);
        diagnostics diag;
        auto [ec, res] = co_await cli.async_execute(paid(), diag, use_nothrow_awaitable);
        BOOST_TEST((ec == client_errc::invalid_url));
        BOOST_TEST(diag.client_message().find("only http:// proxies") != std::string::npos, diag.client_message());
        BOOST_TEST(cli.stats().connections_opened == 0u);
        check_secret_absent(ec, diag);
    });
}

BOOST_AUTO_TEST_SUITE_END()
