// `kiemidi` behind an HTTP proxy (tinyproxy on a free 127.0.0.1 port): it follows HTTPS_PROXY and
// NO_PROXY, --proxy and --no-proxy override them, a proxy refusing its credentials is named (not
// the password) with exit 4 and nothing paid, and a batch whose proxy dies and comes back
// finishes every track, none of them paid twice. The executable runs as a child process
// (tests/common/cli_fixture.hpp) against an emulator (HTTPS) in the test process.
#ifdef KIEMIDI_CLI_PATH  // only when the kiemidi executable is built
#include "common/cli_fixture.hpp"
#include "common/tinyproxy_server.hpp"

#include <boost/test/unit_test.hpp>

#include <chrono>
#include <cstdlib>
#include <optional>
#include <string>
#include <thread>
#include <vector>

using namespace kiemidi::test;
using namespace std::chrono_literals;

namespace {

/// Sets environment variables for the children started while it lives, then restores them.
struct scoped_env
{
    std::vector<std::pair<std::string, std::optional<std::string>>> saved;

    scoped_env(std::initializer_list<std::pair<const char*, std::string>> vars)
    {
        for (const auto& [name, value] : vars)
        {
            const char* old = std::getenv(name);
            saved.emplace_back(name, old ? std::optional<std::string>(old) : std::nullopt);
            ::setenv(name, value.c_str(), 1);
        }
    }
    ~scoped_env()
    {
        for (const auto& [name, value] : saved)
            value ? ::setenv(name.c_str(), value->c_str(), 1) : ::unsetenv(name.c_str());
    }
};

/// No proxy variable of the machine running the tests leaks into these.
struct without_proxy_env
{
    scoped_env cleared{{"HTTPS_PROXY", ""}, {"https_proxy", ""}, {"HTTP_PROXY", ""}, {"http_proxy", ""},
                       {"ALL_PROXY", ""},   {"all_proxy", ""},   {"NO_PROXY", ""},   {"no_proxy", ""}};
};

const std::string proxy_password = "pr0xy-SECRET-7be2";

tinyproxy_options to_kie(const cli_env& t, std::string user = {}, std::string password = {})
{
    return {.connect_ports = {t.kie.server->https_port()}, .user = std::move(user), .password = std::move(password)};
}

}  // namespace

BOOST_AUTO_TEST_SUITE(cli_proxy, *boost::unit_test::precondition([](boost::unit_test::test_unit_id) {
                          return boost::test_tools::assertion_result(tinyproxy_server::available());
                      }))

BOOST_AUTO_TEST_CASE(the_cli_follows_https_proxy_and_no_proxy_and_the_flags_override_them)
{
    without_proxy_env clean;
    cli_env t;
    auto& [dir, kie, out] = t;
    tinyproxy_server proxy(dir.path, to_kie(t));

    {
        scoped_env e{{"HTTPS_PROXY", proxy.url()}};
        BOOST_TEST(t.run({"credits"}) == 0, out);
        BOOST_TEST(proxy.connects() == 1u, proxy.log());
    }
    proxy.stop();  // from here on, going through it fails
    {
        scoped_env e{{"HTTPS_PROXY", proxy.url()}};
        BOOST_TEST(t.run({"credits"}) == 4, out);
        BOOST_TEST(out.find("proxy " + proxy.url()) != std::string::npos, out);
        BOOST_TEST(t.run({"credits", "--no-proxy"}) == 0, out);
    }
    {
        scoped_env e{{"HTTPS_PROXY", proxy.url()}, {"NO_PROXY", "localhost,127.0.0.1"}};
        BOOST_TEST(t.run({"credits"}) == 0, out);
        BOOST_TEST(t.run({"credits", "--proxy", proxy.url()}) == 0, out);  // NO_PROXY still holds, as with curl
    }
    BOOST_TEST(t.run({"credits", "--proxy", proxy.url()}) == 4, out);
    BOOST_TEST(proxy.connects() == 1u, proxy.log());

    BOOST_TEST(t.run({"credits", "--proxy", "socks5://127.0.0.1:1080"}) == 2, out);
    BOOST_TEST(out.find("only http:// proxies") != std::string::npos, out);
    BOOST_TEST(t.run({"credits", "--proxy", proxy.url(), "--no-proxy"}) == 2, out);
}

BOOST_AUTO_TEST_CASE(a_proxy_refusing_the_credentials_is_named_without_them_exit_4_and_nothing_paid)
{
    without_proxy_env clean;
    cli_env t;
    auto& [dir, kie, out] = t;
    tinyproxy_server proxy(dir.path, to_kie(t, "kiemidi", "the-right-one"));
    const auto batch = t.journaled_batch(3, {"--proxy", proxy.url_with("kiemidi", proxy_password)});
    BOOST_TEST(run_cli(batch, dir.path, out) == 4, out);
    BOOST_TEST(out.find("proxy " + proxy.url() + " refused CONNECT 127.0.0.1:") != std::string::npos, out);
    BOOST_TEST((out.find("HTTP 407") != std::string::npos || out.find("HTTP 401") != std::string::npos), out);
    BOOST_TEST(out.find(proxy_password) == std::string::npos, out);
    check_paid(kie.server->snapshot(), 0, 0);

    // The right credentials: the same batch runs, each track paid once.
    const auto good = t.journaled_batch(3, {"--proxy", proxy.url_with("kiemidi", "the-right-one")});
    BOOST_TEST(run_cli(good, dir.path, out) == 0, out);
    check_paid(kie.server->snapshot(), 3, 3);
    BOOST_TEST(proxy.connects() >= 2u, proxy.log());
    BOOST_TEST(proxy.log().find("the-right-one") == std::string::npos);
}

// The proxy is killed in the middle of a batch (its tunnels, with requests in them, drop) and
// comes back 1.5 s later on the same port: the batch rides it out and finishes every track, each
// separation and MIDI paid exactly once (a POST whose answer was lost is found by its callback).
// A POST written into a tunnel the proxy had not yet passed on when it died never reached KIE:
// nothing was paid, but nobody can know that, so such a track honestly ends UNKNOWN (exit 3) once
// the short lost-answer wait is over; it is never sent again.
BOOST_AUTO_TEST_CASE(the_proxy_going_away_mid_batch_pays_nothing_twice_and_the_batch_finishes)
{
    without_proxy_env clean;
    constexpr int tracks = 10;
    kiemidi::emulator::emulator_options eo;
    eo.separation_delay = 800ms;
    eo.midi_delay = 300ms;
    cli_env t(eo);
    auto& [dir, kie, out] = t;
    tinyproxy_server proxy(dir.path, to_kie(t));
    const auto batch = t.journaled_batch(tracks, {"--concurrency", "4", "--outage-wait", "1min", "--lost-answer-wait-ms", "5000", "--proxy", proxy.url()});

    const auto log = dir.path / "batch.log";
    cli_process child(batch, log);
    const auto deadline = std::chrono::steady_clock::now() + 20s;
    while (kie.server->snapshot().separation_submissions.size() < 3 && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(10ms);
    BOOST_TEST_REQUIRE(kie.server->snapshot().separation_submissions.size() >= 3u, read_file(log));
    const auto paid_before = kie.server->snapshot().separation_submissions.size();
    proxy.stop();
    std::this_thread::sleep_for(1500ms);
    proxy.start();

    const auto code = child.wait_for(60s);
    out = read_file(log);
    BOOST_TEST_REQUIRE(code.has_value(), out);
    BOOST_TEST((*code == 0 || *code == 3), out);
    BOOST_TEST(out.find("FAIL") == std::string::npos, out);
    const auto c = kie.server->snapshot();
    BOOST_TEST(paid_before < static_cast<std::size_t>(tracks));  // the proxy did go away mid-batch
    BOOST_TEST(c.duplicate_paid_submissions() == 0u);
    std::size_t unknown = 0;
    for (auto at = out.find("UNKNOWN"); at != std::string::npos; at = out.find("UNKNOWN", at + 1)) ++unknown;
    BOOST_TEST((*code == 3) == (unknown > 0), out);
    BOOST_TEST(unknown <= 4u, out);  // at most the POSTs being relayed when the proxy died (--concurrency 4)
    std::size_t written = 0;
    for (int i = 0; i < tracks; ++i)
        if (is_midi_file(t.out_dir() / ("song-" + std::to_string(i) + ".mid"))) ++written;
    BOOST_TEST(written + unknown == static_cast<std::size_t>(tracks), out);
    // Every written track paid both steps once; an unknown one paid at most its separation.
    BOOST_TEST(c.midi_submissions.size() == written, out);
    BOOST_TEST(c.separation_submissions.size() <= static_cast<std::size_t>(tracks));
    BOOST_TEST(c.separation_submissions.size() >= written);
}

BOOST_AUTO_TEST_SUITE_END()

#endif
