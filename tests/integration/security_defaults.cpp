// The security defaults a user gets without configuring anything: the listener binds loopback
// with a random path secret, the client verifies TLS (a self-signed server is refused unless its
// certificate is configured as a CA), and the API key travels only in the Authorization header
// and never reaches diagnostics, even when KIE echoes it back.
#include <kiemidi/callback_listener.hpp>
#include <kiemidi/client.hpp>
#include <kiemidi/in_process_callback_hub.hpp>

#include "common/raw_http.hpp"
#include "common/run_bounded.hpp"
#include "common/test_http_server.hpp"
#include "nothrow_awaitable.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/test/unit_test.hpp>

#include <optional>
#include <string>

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netinet/in.h>

namespace asio = boost::asio;

using namespace kiemidi;
using namespace std::chrono_literals;
using kiemidi::test::run_bounded;
using kiemidi::test::test_http_server;

namespace {

const std::string api_key = "sk-kiemidi-SECRET-api-key-9d41c7";

// An IPv4 address of this host that is not loopback, if it has one.
std::optional<std::string> non_loopback_ipv4()
{
    ifaddrs* list = nullptr;
    if (::getifaddrs(&list) != 0) return std::nullopt;
    std::optional<std::string> found;
    for (auto* a = list; a && !found; a = a->ifa_next)
    {
        if (!a->ifa_addr || a->ifa_addr->sa_family != AF_INET) continue;
        const auto* in = reinterpret_cast<const sockaddr_in*>(a->ifa_addr);
        if ((ntohl(in->sin_addr.s_addr) >> 24) == 127) continue;
        char text[INET_ADDRSTRLEN] = {};
        if (::inet_ntop(AF_INET, &in->sin_addr, text, sizeof text)) found = text;
    }
    ::freeifaddrs(list);
    return found;
}

client_options options_for(const std::string& base_url)
{
    client_options o;
    o.base_url = base_url;
    o.api_key = api_key;
    o.transport.retry.max_attempts = 1;
    o.transport.timeouts.connect = 2000ms;
    o.transport.timeouts.tls_handshake = 2000ms;
    o.transport.timeouts.read = 2000ms;
    o.transport.timeouts.write = 2000ms;
    return o;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(security_defaults)

BOOST_AUTO_TEST_CASE(listener_binds_loopback_with_a_random_secret_unless_told_otherwise)
{
    const listener_options defaults;
    BOOST_TEST(defaults.bind_address == "127.0.0.1");
    BOOST_TEST(defaults.path_secret.empty());  // → 32 random bytes at construction
    BOOST_TEST(defaults.max_body < 10u * 1024u * 1024u);
    run_bounded([](asio::io_context& ioc) -> asio::awaitable<void> {
        in_process_callback_hub hub(ioc.get_executor());
        callback_listener a(ioc.get_executor(), listener_options{}, hub);
        callback_listener b(ioc.get_executor(), listener_options{}, hub);
        a.start();
        b.start();
        const auto url = a.callback_url(callback_kind::midi);
        BOOST_TEST(url.rfind("http://127.0.0.1:" + std::to_string(a.port()) + "/kiemidi/callback/", 0) == 0u, url);
        const auto secret_of = [](const std::string& u) {
            const auto from = u.find("/callback/") + 10;
            return u.substr(from, u.rfind('/') - from);
        };
        BOOST_TEST(secret_of(url).size() == 64u);
        BOOST_TEST(secret_of(url) != secret_of(b.callback_url(callback_kind::midi)));

        // Not reachable through any other address of this host.
        if (auto other = non_loopback_ipv4())
        {
            asio::ip::tcp::socket s(ioc);
            const asio::ip::tcp::endpoint ep(asio::ip::make_address(*other), a.port());
            auto [ec] = co_await s.async_connect(ep, use_nothrow_awaitable);
            BOOST_TEST((ec == asio::error::connection_refused), *other << ": " << ec.message());
        }
        else
        {
            BOOST_TEST_MESSAGE("no non-loopback IPv4 address on this host: reachability from outside not checked");
        }
    });
}

BOOST_AUTO_TEST_CASE(client_refuses_a_self_signed_server_unless_its_certificate_is_configured_as_ca)
{
    const auto pki = kiemidi::test::make_self_signed_pki({"localhost"}, {"127.0.0.1"});
    run_bounded([&](asio::io_context& ioc) -> asio::awaitable<void> {
        test_http_server server(ioc.get_executor(), {.tls = true, .cert_pem = pki.cert_pem, .key_pem = pki.key_pem});
        server.set_default({.body = R"({"code":200,"msg":"success","data":42})"});
        server.start();
        {
            client kie(ioc.get_executor(), options_for(server.base_url()));  // default TLS settings
            diagnostics diag;
            auto [ec, credits] = co_await kie.async_get_credits(diag, use_nothrow_awaitable);
            BOOST_TEST(ec.failed());
            BOOST_TEST(diag.to_string().find("certificate") != std::string::npos, diag.to_string());
            BOOST_TEST(server.requests_received() == 0u);  // nothing, the key included, was sent
        }
        {
            auto o = options_for(server.base_url());
            o.transport.tls.ca_pem = pki.ca_cert_pem;
            client kie(ioc.get_executor(), o);
            diagnostics diag;
            auto [ec, credits] = co_await kie.async_get_credits(diag, use_nothrow_awaitable);
            BOOST_TEST(!ec, ec.message() << " " << diag.to_string());
            BOOST_TEST(credits.remaining == 42);
            BOOST_TEST(server.requests_received() == 1u);
        }
        server.stop();
    });
}

BOOST_AUTO_TEST_CASE(api_key_travels_only_in_the_authorization_header)
{
    run_bounded([](asio::io_context& ioc) -> asio::awaitable<void> {
        test_http_server server(ioc.get_executor());
        server.set_default({.body = R"({"code":200,"msg":"success","data":{"taskId":"t-1"}})"});
        server.start();
        client kie(ioc.get_executor(), options_for(server.base_url()));
        diagnostics diag;
        api::midi_request req{.task_id = "sep-1", .callback_url = "https://hooks.example/cb", .audio_id = {}};
        auto [ec, created] = co_await kie.async_submit_midi(req, diag, use_nothrow_awaitable);
        BOOST_TEST(!ec, diag.to_string());
        std::string task_id = "t-1";
        auto [gec, rec] = co_await kie.async_get_midi(task_id, diag, use_nothrow_awaitable);
        const auto requests = server.requests();
        BOOST_TEST_REQUIRE(requests.size() == 2u);
        for (const auto& r : requests)
        {
            BOOST_TEST(r.headers.at("authorization") == "Bearer " + api_key);
            BOOST_TEST(r.target.find(api_key) == std::string::npos, r.target);
            BOOST_TEST(r.body.find(api_key) == std::string::npos, r.body);
            for (const auto& [name, value] : r.headers)
                if (name != "authorization") BOOST_TEST(value.find(api_key) == std::string::npos, name);
        }
        server.stop();
    });
}

BOOST_AUTO_TEST_CASE(api_key_echoed_by_kie_is_redacted_from_diagnostics)
{
    run_bounded([](asio::io_context& ioc) -> asio::awaitable<void> {
        test_http_server server(ioc.get_executor());
        server.start();
        client kie(ioc.get_executor(), options_for(server.base_url()));
        struct answer
        {
            unsigned status;
            std::string body;
        };
        const answer answers[] = {
            {200, R"({"code":401,"msg":"Invalid API key: )" + api_key + R"("})"},
            {401, R"({"code":401,"msg":"key )" + api_key + " is not valid; " + api_key + R"("})"},
            {500, "<html>internal error for " + api_key + "</html>"},
            {200, R"({"code":200,"msg":"ok","data":")" + api_key + R"("})"},  // a wrong type, echoing the key
        };
        for (const auto& a : answers)
        {
            server.push({.status = a.status, .body = a.body});
            diagnostics diag;
            auto [ec, credits] = co_await kie.async_get_credits(diag, use_nothrow_awaitable);
            BOOST_TEST(ec.failed());
            const std::string all = diag.to_string() + "|" + diag.server_message() + "|" + diag.client_message() + "|" +
                                    diag.endpoint() + "|" + diag.stage() + "|" + ec.message();
            BOOST_TEST(all.find(api_key) == std::string::npos, all);
            BOOST_TEST(all.find("SECRET") == std::string::npos, all);
        }
        // KIE's own words are kept around the redaction.
        server.push({.body = R"({"code":401,"msg":"Invalid API key: )" + api_key + R"("})"});
        diagnostics diag;
        auto [ec, credits] = co_await kie.async_get_credits(diag, use_nothrow_awaitable);
        BOOST_TEST(diag.server_message() == "Invalid API key: <redacted>");
        server.stop();
    });
}

BOOST_AUTO_TEST_SUITE_END()
