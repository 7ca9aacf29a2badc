// The listener under hostile requests, each while a real callback must still get through:
// wrong methods and paths, forged secrets and signatures, garbage bytes, and pipelined callbacks
// in one write. Each case checks that no waiter was resumed by anything unverified and that the
// listener's connections and descriptors return to their baseline. Slow, large and idle
// connections are in listener_abuse.cpp.
#include <kiemidi/callback_listener.hpp>
#include <kiemidi/in_process_callback_hub.hpp>

#include "common/listener_abuse_support.hpp"
#include "common/raw_http.hpp"
#include "common/run_bounded.hpp"
#include "common/test_http_server.hpp"

// White-box: KIE's webhook signature as the library computes it.
#include "crypto/crypto.hpp"
#include "nothrow_awaitable.hpp"

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/test/unit_test.hpp>

#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <malloc.h>
#include <sys/resource.h>
#include <unistd.h>

namespace asio = boost::asio;

using namespace kiemidi;
using namespace kiemidi::test;
using namespace std::chrono_literals;
using namespace boost::asio::experimental::awaitable_operators;

BOOST_AUTO_TEST_SUITE(listener_abuse_requests)

BOOST_AUTO_TEST_CASE(wrong_method_or_path_is_answered_404_or_405_and_never_reaches_the_hub)
{
    run_bounded([](asio::io_context& ioc) -> asio::awaitable<void> {
        in_process_callback_hub hub(ioc.get_executor());
        callback_listener listener(ioc.get_executor(), abuse_options(), hub);
        listener.start();
        const auto fds = open_fds();
        watched_wait w(hub, "target");
        const auto good = path_of(listener.callback_url(callback_kind::midi));
        const auto secret = good.substr(std::string("/kiemidi/callback/").size(), good.rfind('/') - std::string("/kiemidi/callback/").size());
        const auto body = midi_body("target");

        const std::vector<std::string> not_found = {
            "/",
            "/kiemidi/callback/",
            "/kiemidi/callback/" + secret,
            "/kiemidi/callback/" + secret + "/",
            "/kiemidi/callback/" + secret + "/other",
            "/kiemidi/callback/" + secret + "/midi/extra",
            "/kiemidi/callback/" + secret.substr(1) + "/midi",       // one character short
            "/kiemidi/callback/" + secret + "0/midi",                // one character long
            "/kiemidi/callback/../callback/" + secret + "/midi",     // no path normalisation
            "/KIEMIDI/callback/" + secret + "/midi",
            "http://127.0.0.1/kiemidi/callback/" + secret + "/midi", // absolute form is not routed
            "*",
        };
        for (const auto& target : not_found)
        {
            auto res = co_await exchange_once(ioc.get_executor(), listener.port(), http_request_text("POST", target, body));
            BOOST_TEST(res.status == 404u, target);
            BOOST_TEST(res.body.find(secret) == std::string::npos);
        }
        for (const std::string method : {"GET", "PUT", "DELETE", "PATCH", "OPTIONS"})
        {
            auto res = co_await exchange_once(ioc.get_executor(), listener.port(), http_request_text(method, good));
            BOOST_TEST(res.status == 405u, method);
            BOOST_TEST(res.headers["allow"] == "POST");
        }

        // HEAD: the answer carries no body, so the keep-alive connection stays in step.
        raw_connection c(ioc.get_executor(), listener.port());
        BOOST_TEST_REQUIRE(!(co_await c.connect()));
        BOOST_TEST_REQUIRE(!(co_await c.write(http_request_text("HEAD", good) + http_request_text("HEAD", "/nothing") +
                                              signed_callback(listener, "after-head"))));
        raw_response head1, head2, after;
        BOOST_TEST(!(co_await c.read_response(head1, true)));
        BOOST_TEST(!(co_await c.read_response(head2, true)));
        BOOST_TEST(!(co_await c.read_response(after)));
        BOOST_TEST(head1.status == 405u);
        BOOST_TEST(head2.status == 404u);
        BOOST_TEST(after.status == 200u);
        c.close();

        const auto s = listener.stats();
        BOOST_TEST(s.not_found == not_found.size() + 1);
        BOOST_TEST(s.method_not_allowed == 6u);
        BOOST_TEST(s.callbacks_accepted == 1u);
        BOOST_TEST(hub.stats().buffered == 1u);  // only "after-head"
        BOOST_TEST(w.r->calls == 0);
        hub.close();
        co_await expect_baseline(listener, fds);
    });
}

BOOST_AUTO_TEST_CASE(forged_secret_or_signature_is_rejected_and_the_waiter_stays_suspended)
{
    run_bounded([](asio::io_context& ioc) -> asio::awaitable<void> {
        in_process_callback_hub hub(ioc.get_executor());
        callback_listener listener(ioc.get_executor(), abuse_options(), hub);
        listener.start();
        const auto fds = open_fds();
        watched_wait w(hub, "victim");
        const auto good_path = path_of(listener.callback_url(callback_kind::midi));
        const auto body = midi_body("victim");
        const auto ts = now_seconds();
        const auto good_sig = signature(hmac_key, "victim", ts);
        using headers = std::vector<std::pair<std::string, std::string>>;

        // A correctly signed callback on a forged secret: 404, the signature does not open the door.
        std::string forged_path = good_path;
        const auto at = std::string("/kiemidi/callback/").size();
        forged_path[at] = forged_path[at] == 'a' ? 'b' : 'a';
        headers genuine;
        genuine.emplace_back("X-Webhook-Timestamp", ts);
        genuine.emplace_back("X-Webhook-Signature", good_sig);
        auto on_forged_path = http_request_text("POST", forged_path, body, genuine);
        auto r404 = co_await exchange_once(ioc.get_executor(), listener.port(), on_forged_path);
        BOOST_TEST(r404.status == 404u);

        // The right secret with a forged, truncated, re-used or missing signature: 401.
        std::string flipped = good_sig;
        flipped[0] = flipped[0] == 'A' ? 'B' : 'A';
        const std::vector<headers> forged = {
            {{"X-Webhook-Timestamp", ts}, {"X-Webhook-Signature", signature("wrong-key", "victim", ts)}},
            {{"X-Webhook-Timestamp", ts}, {"X-Webhook-Signature", flipped}},
            {{"X-Webhook-Timestamp", ts}, {"X-Webhook-Signature", good_sig.substr(0, good_sig.size() / 2)}},
            {{"X-Webhook-Timestamp", ts}, {"X-Webhook-Signature", good_sig + good_sig}},
            {{"X-Webhook-Timestamp", ts}, {"X-Webhook-Signature", signature(hmac_key, "someone-else", ts)}},
            {{"X-Webhook-Timestamp", ts + "0"}, {"X-Webhook-Signature", good_sig}},  // signature of another time
            {{"X-Webhook-Timestamp", ts}, {"X-Webhook-Signature", ""}},
            {{"X-Webhook-Timestamp", ts}},
            {},
        };
        for (std::size_t i = 0; i < forged.size(); ++i)
        {
            auto res = co_await exchange_once(ioc.get_executor(), listener.port(), http_request_text("POST", good_path, body, forged[i]));
            BOOST_TEST(res.status == 401u, "forgery " << i);
        }
        BOOST_TEST(listener.stats().not_found == 1u);
        BOOST_TEST(listener.stats().rejected_forged == forged.size());

        // The waiter is still suspended: give a wrongly resumed handler time to run, then look.
        co_await sleep_for(200ms);
        BOOST_TEST(w.r->calls == 0);
        BOOST_TEST(hub.is_waiting(callback_kind::midi, "victim"));
        BOOST_TEST(hub.stats().buffered == 0u);

        // And the genuine callback still resumes it.
        auto genuine_request = http_request_text("POST", good_path, body, genuine);
        auto ok = co_await exchange_once(ioc.get_executor(), listener.port(), genuine_request);
        BOOST_TEST(ok.status == 200u);
        co_await eventually([&] { return w.r->calls == 1; });
        BOOST_TEST(!w.r->ec);
        co_await expect_baseline(listener, fds);
    });
}

BOOST_AUTO_TEST_CASE(garbage_bytes_are_answered_400_and_the_connection_closed)
{
    run_bounded([](asio::io_context& ioc) -> asio::awaitable<void> {
        in_process_callback_hub hub(ioc.get_executor());
        callback_listener listener(ioc.get_executor(), abuse_options(), hub);
        listener.start();
        const auto fds = open_fds();
        std::mt19937 rng(20261125);
        std::string random_bytes(4096, '\0');
        for (auto& b : random_bytes) b = static_cast<char>(rng() & 0xff);
        random_bytes[0] = '\x01';  // not a token character, whatever the seed gives

        const std::vector<std::pair<std::string, std::string>> garbage = {
            {"random binary", random_bytes},
            {"NUL bytes", std::string(64, '\0')},
            {"TLS ClientHello on the plain port", std::string("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 11)},
            {"HTTP/2 preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"},
            {"bad version", "POST / HTTP/9\r\n\r\n"},
            {"header without colon", "POST / HTTP/1.1\r\nHost 127.0.0.1\r\n\r\n"},
            {"bad content length", "POST / HTTP/1.1\r\nContent-Length: -5\r\n\r\n"},
            {"two content lengths", "POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab"},
            {"bad chunk size", "POST " + path_of(listener.callback_url(callback_kind::midi)) +
                                   " HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"},
            {"newline only", "\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n"},
        };
        for (const auto& [name, bytes] : garbage)
        {
            BOOST_TEST_CONTEXT(name)
            {
                raw_connection c(ioc.get_executor(), listener.port());
                BOOST_TEST_REQUIRE(!(co_await c.connect()));
                BOOST_TEST(!(co_await c.write(bytes)));
                raw_response res;
                auto ec = co_await c.read_response(res);
                BOOST_TEST(!ec, ec.message());
                BOOST_TEST(res.status == 400u);
                BOOST_TEST(closed_by_peer(co_await c.wait_closed(5s)));
            }
        }
        BOOST_TEST(listener.stats().malformed == garbage.size());
        BOOST_TEST(hub.stats().buffered == 0u);

        // Garbage after a good callback in one write: the callback counts, then 400 and close.
        raw_connection c(ioc.get_executor(), listener.port());
        BOOST_TEST_REQUIRE(!(co_await c.connect()));
        BOOST_TEST(!(co_await c.write(signed_callback(listener, "before-garbage") + random_bytes)));
        raw_response first, second;
        BOOST_TEST(!(co_await c.read_response(first)));
        BOOST_TEST(!(co_await c.read_response(second)));
        BOOST_TEST(first.status == 200u);
        BOOST_TEST(second.status == 400u);
        BOOST_TEST(closed_by_peer(co_await c.wait_closed(5s)));
        BOOST_TEST(hub.stats().buffered == 1u);
        c.close();
        co_await expect_baseline(listener, fds);
    });
}

BOOST_AUTO_TEST_CASE(pipelined_callbacks_in_one_write_are_handled_in_order)
{
    run_bounded([](asio::io_context& ioc) -> asio::awaitable<void> {
        in_process_callback_hub hub(ioc.get_executor());
        callback_listener listener(ioc.get_executor(), abuse_options(), hub);
        listener.start();
        const auto fds = open_fds();
        watched_wait a(hub, "pipe-a");
        watched_wait b(hub, "pipe-b");
        watched_wait c(hub, "pipe-c");

        // Two genuine callbacks around a forged one, all in one write: the answers come back in
        // request order, so the forged one is the 401 in the middle.
        raw_connection conn(ioc.get_executor(), listener.port());
        BOOST_TEST_REQUIRE(!(co_await conn.connect()));
        BOOST_TEST_REQUIRE(!(co_await conn.write(signed_callback(listener, "pipe-a") +
                                                 signed_callback(listener, "pipe-b", "wrong-key") +
                                                 signed_callback(listener, "pipe-c"))));
        std::vector<unsigned> statuses;
        for (int i = 0; i < 3; ++i)
        {
            raw_response res;
            BOOST_TEST_REQUIRE(!(co_await conn.read_response(res)));
            statuses.push_back(res.status);
        }
        BOOST_TEST((statuses == std::vector<unsigned>{200, 401, 200}));
        co_await eventually([&] { return a.r->calls == 1 && c.r->calls == 1; });
        BOOST_TEST(a.r->task_id == "pipe-a");
        BOOST_TEST(c.r->task_id == "pipe-c");

        // A request split across writes at awkward places, after a complete one in the same write.
        const auto d = signed_callback(listener, "pipe-d");
        const auto e = signed_callback(listener, "pipe-e");
        BOOST_TEST_REQUIRE(!(co_await conn.write(d + e.substr(0, 7))));
        raw_response rd;
        BOOST_TEST_REQUIRE(!(co_await conn.read_response(rd)));
        BOOST_TEST_REQUIRE(!(co_await conn.write(e.substr(7, e.find("\r\n\r\n") - 5))));
        BOOST_TEST_REQUIRE(!(co_await conn.write(e.substr(e.find("\r\n\r\n") + 2))));
        raw_response re;
        BOOST_TEST_REQUIRE(!(co_await conn.read_response(re)));
        BOOST_TEST(rd.status == 200u);
        BOOST_TEST(re.status == 200u);
        BOOST_TEST(listener.stats().accepted_connections == 1u);

        co_await sleep_for(100ms);
        BOOST_TEST(b.r->calls == 0);  // the forged one never reached its waiter
        BOOST_TEST(hub.is_waiting(callback_kind::midi, "pipe-b"));
        BOOST_TEST(hub.stats().buffered == 2u);  // d and e, nobody waits for them
        conn.close();
        hub.close();
        co_await expect_baseline(listener, fds);
    });
}

BOOST_AUTO_TEST_SUITE_END()
