// callback_listener over real sockets on 127.0.0.1, the callbacks themselves: every documented
// shape reaches its waiter, buffering before a waiter, duplicates and unknown tasks, signatures and
// their freshness, HTTPS, and many callbacks on several io threads. The HTTP side (malformed
// requests, limits, methods, connections, lifecycle) is in listener_connections.cpp.
#include <kiemidi/in_process_callback_hub.hpp>
#include <kiemidi/callback_listener.hpp>
#include <kiemidi/api/callbacks.hpp>

#include "common/listener_fixture.hpp"
#include "common/listener_support.hpp"
#include "common/run_bounded.hpp"
#include "common/test_http_server.hpp"

#include "nothrow_awaitable.hpp"

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/write.hpp>
#include <boost/asio/experimental/concurrent_channel.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <memory>
#include <thread>
#include <sstream>
#include <utility>
#include <vector>

namespace asio = boost::asio;

using namespace kiemidi;
using namespace kiemidi::test;
using namespace std::chrono_literals;
using namespace boost::asio::experimental::awaitable_operators;
namespace ssl = boost::asio::ssl;

BOOST_AUTO_TEST_SUITE(listener_callbacks)

BOOST_AUTO_TEST_CASE(callbacks_of_every_documented_shape_resume_their_waiters)
{
    run_bounded([](asio::io_context& ioc) -> asio::awaitable<void> {
        listening l(ioc.get_executor());
        auto& [hub, listener] = l;
        struct variant
        {
            callback_kind kind;
            std::string (*body)(const std::string&);
        };
        const variant variants[] = {
            {callback_kind::separation, separation_en},     {callback_kind::separation, separation_cn},
            {callback_kind::separation, separation_failed}, {callback_kind::midi, midi_en},
            {callback_kind::midi, midi_cn},                 {callback_kind::midi, midi_failed_top_level},
            {callback_kind::midi, midi_failed_data},
        };
        int n = 0;
        for (const auto& v : variants)
        {
            const std::string id = "task-" + std::to_string(n++);
            auto [msg, res] = co_await l.deliver(v.kind, id, v.body(id));
            BOOST_TEST(res.result_int() == 200u);
            BOOST_TEST(res.body() == R"({"code":200,"msg":"success"})");
            BOOST_TEST(msg.task_id == id);
            BOOST_TEST((msg.kind == v.kind));
            BOOST_TEST(msg.body == v.body(id));
        }
        BOOST_TEST(listener.stats().callbacks_accepted == 7u);
    });
}

BOOST_AUTO_TEST_CASE(callback_before_any_waiter_is_buffered_and_handed_to_the_later_waiter)
{
    run_bounded([](asio::io_context& ioc) -> asio::awaitable<void> {
        listening l(ioc.get_executor());
        auto& [hub, listener] = l;
        auto res = co_await l.post(callback_kind::midi, midi_cn("early"));
        BOOST_TEST(res.result_int() == 200u);
        BOOST_TEST(listener.stats().buffered == 1u);
        BOOST_TEST(hub.stats().buffered == 1u);
        auto msg = co_await hub.async_wait(callback_kind::midi, "early", asio::use_awaitable);
        BOOST_TEST(msg.task_id == "early");
        BOOST_TEST((msg.kind == callback_kind::midi));
    });
}

BOOST_AUTO_TEST_CASE(the_same_task_id_on_both_callback_urls_reaches_the_wait_of_each_kind)
{
    // KIE may give a MIDI task its separation's id: the URL a callback arrives on names its kind.
    run_bounded([](asio::io_context& ioc) -> asio::awaitable<void> {
        listening l(ioc.get_executor());
        auto& [hub, listener] = l;
        auto sep = co_await l.post(callback_kind::separation, separation_en("shared"));
        auto midi = co_await l.post(callback_kind::midi, midi_en("shared"));
        BOOST_TEST(sep.result_int() == 200u);
        BOOST_TEST(midi.result_int() == 200u);
        BOOST_TEST(listener.stats().buffered == 2u);
        BOOST_TEST(listener.stats().duplicates == 0u);
        auto m = co_await hub.async_wait(callback_kind::midi, "shared", asio::use_awaitable);
        BOOST_TEST((m.kind == callback_kind::midi));
        BOOST_TEST(m.body == midi_en("shared"));
        auto s = co_await hub.async_wait(callback_kind::separation, "shared", asio::use_awaitable);
        BOOST_TEST((s.kind == callback_kind::separation));
        BOOST_TEST(s.body == separation_en("shared"));
    });
}

BOOST_AUTO_TEST_CASE(a_callback_routed_by_a_later_id_placement_parses_as_that_task)
{
    // data.taskId is empty, so the listener routes by the top-level task_id; the parser agrees.
    run_bounded([](asio::io_context& ioc) -> asio::awaitable<void> {
        listening l(ioc.get_executor());
        auto& [hub, listener] = l;
        const std::string body = R"({"task_id":"m1","code":200,"msg":"success","data":{"taskId":"","instruments":[]}})";
        auto [msg, res] = co_await l.deliver(callback_kind::midi, "m1", body);
        BOOST_TEST(res.result_int() == 200u);
        BOOST_TEST(msg.task_id == "m1");
        api::midi_callback cb;
        diagnostics diag;
        BOOST_TEST(!api::parse_midi_callback(msg.body, cb, diag), diag.to_string());
        BOOST_TEST(cb.task_id == "m1");
    });
}

BOOST_AUTO_TEST_CASE(duplicate_callback_is_acknowledged_and_resumes_the_waiter_once)
{
    run_bounded([](asio::io_context& ioc) -> asio::awaitable<void> {
        listening l(ioc.get_executor());
        auto& [hub, listener] = l;
        auto [msg, first] = co_await l.deliver(callback_kind::separation, "dup", separation_en("dup"));
        BOOST_TEST(first.result_int() == 200u);
        BOOST_TEST(msg.task_id == "dup");
        auto second = co_await l.post(callback_kind::separation, separation_en("dup"));
        BOOST_TEST(second.result_int() == 200u);
        BOOST_TEST(listener.stats().duplicates == 1u);
        BOOST_TEST(listener.stats().callbacks_accepted == 2u);
        // Counted under the kind they came for, not the other.
        BOOST_TEST(listener.stats().separation.accepted == 2u);
        BOOST_TEST(listener.stats().separation.duplicates == 1u);
        BOOST_TEST(listener.stats().midi.accepted == 0u);
        BOOST_TEST(listener.stats().midi.duplicates == 0u);
        BOOST_TEST(hub.stats().delivered_total == 1u);
        BOOST_TEST(hub.stats().buffered == 0u);  // the repeat was dropped, not kept for a later waiter
    });
}

BOOST_AUTO_TEST_CASE(callback_for_an_unknown_task_is_acknowledged_with_200)
{
    run_bounded([](asio::io_context& ioc) -> asio::awaitable<void> {
        listening l(ioc.get_executor());
        auto& [hub, listener] = l;
        auto res = co_await l.post(callback_kind::midi, midi_en("nobody-waits"));
        BOOST_TEST(res.result_int() == 200u);
        BOOST_TEST(res.body() == R"({"code":200,"msg":"success"})");
        auto again = co_await l.post(callback_kind::midi, midi_en("nobody-waits"));
        BOOST_TEST(again.result_int() == 200u);
        BOOST_TEST(listener.stats().duplicates == 1u);
    });
}

BOOST_AUTO_TEST_CASE(validly_signed_callback_is_accepted)
{
    run_bounded([](asio::io_context& ioc) -> asio::awaitable<void> {
        listening l(ioc.get_executor(), signing_options());
        auto& [hub, listener] = l;
        const auto ts = epoch_seconds();
        auto [msg, res] = co_await l.deliver(callback_kind::separation, "signed", separation_en("signed"), signed_headers(test_hmac_key, "signed", ts));
        BOOST_TEST(res.result_int() == 200u);
        BOOST_TEST(msg.task_id == "signed");
        // Header names are case-insensitive (KIE's samples use lowercase).
        auto [msg2, res2] = co_await l.deliver(callback_kind::midi, "lower", midi_en("lower"), signed_headers(test_hmac_key, "lower", ts, true));
        BOOST_TEST(res2.result_int() == 200u);
        BOOST_TEST(msg2.task_id == "lower");
    });
}

BOOST_AUTO_TEST_CASE(forged_or_missing_signature_is_rejected_with_401_and_the_waiter_is_not_resumed)
{
    run_bounded([](asio::io_context& ioc) -> asio::awaitable<void> {
        listening l(ioc.get_executor(), signing_options());
        auto& [hub, listener] = l;
        watched_wait w(hub, "victim");
        const auto ts = epoch_seconds();
        auto forged = co_await l.post(callback_kind::midi, midi_en("victim"), signed_headers("wrong-key", "victim", ts));
        BOOST_TEST(forged.result_int() == 401u);
        // A signature for another task id does not transfer.
        auto replayed = co_await l.post(callback_kind::midi, midi_en("victim"), signed_headers(test_hmac_key, "other", ts));
        BOOST_TEST(replayed.result_int() == 401u);
        auto missing = co_await l.post(callback_kind::midi, midi_en("victim"));
        BOOST_TEST(missing.result_int() == 401u);
        BOOST_TEST(listener.stats().rejected_forged == 3u);
        BOOST_TEST(listener.stats().midi.forged == 3u);
        BOOST_TEST(listener.stats().separation.forged == 0u);
        BOOST_TEST(hub.stats().waiting == 1u);
        BOOST_TEST(w.r->calls == 0);
        hub.close();
    });
}

BOOST_AUTO_TEST_CASE(stale_signature_timestamp_is_rejected_with_401)
{
    run_bounded([](asio::io_context& ioc) -> asio::awaitable<void> {
        auto o = signing_options();
        o.freshness_window = 300s;
        listening l(ioc.get_executor(), o);
        auto& [hub, listener] = l;
        watched_wait w(hub, "late");
        // 30 s beyond the window: timestamps have whole seconds, and on a slow (sanitized) run the
        // listener reads its clock a second or more after the test made the timestamp, which
        // moved a 301 s future timestamp inside a 300 s window.
        for (auto offset : {-330s, 330s})
        {
            const auto ts = epoch_seconds(offset);
            auto res = co_await l.post(callback_kind::midi, midi_cn("late"), signed_headers(test_hmac_key, "late", ts));
            BOOST_TEST(res.result_int() == 401u);
        }
        BOOST_TEST(listener.stats().rejected_stale == 2u);
        BOOST_TEST(w.r->calls == 0);
        hub.close();
    });
}

BOOST_AUTO_TEST_CASE(a_freshness_window_as_large_as_the_type_allows_accepts_old_timestamps)
{
    // Compared as a distance from now: a window of seconds::max() must not overflow into
    // rejecting everything (or into undefined behaviour).
    run_bounded([](asio::io_context& ioc) -> asio::awaitable<void> {
        auto o = signing_options();
        o.freshness_window = std::chrono::seconds::max();
        listening l(ioc.get_executor(), o);
        auto& [hub, listener] = l;
        int n = 0;
        for (auto offset : {std::chrono::seconds(-10 * 366 * 86400), 0s, std::chrono::seconds(10 * 366 * 86400)})
        {
            const std::string id = "any-age-" + std::to_string(n++);
            const auto ts = epoch_seconds(offset);
            auto [msg, res] = co_await l.deliver(callback_kind::midi, id, midi_cn(id), signed_headers(test_hmac_key, id, ts));
            BOOST_TEST(res.result_int() == 200u);
            BOOST_TEST(msg.task_id == id);
        }
        BOOST_TEST(listener.stats().rejected_stale == 0u);
    });
}

BOOST_AUTO_TEST_CASE(https_listener_with_a_self_signed_certificate_serves_callbacks)
{
    run_bounded([](asio::io_context& ioc) -> asio::awaitable<void> {
        const auto cert = kiemidi::test::make_self_signed_pki({}, {"127.0.0.1"});
        auto o = test_options();
        o.tls_certificate_pem = cert.cert_pem;
        o.tls_private_key_pem = cert.key_pem;
        listening l(ioc.get_executor(), o);
        auto& [hub, listener] = l;
        BOOST_TEST(listener.uses_tls());
        BOOST_TEST(listener.callback_url(callback_kind::midi).rfind("https://127.0.0.1:", 0) == 0u);

        ssl::context client_ctx(ssl::context::tls_client);
        client_ctx.add_certificate_authority(asio::buffer(cert.cert_pem));
        client_ctx.set_verify_mode(ssl::verify_peer);
        ssl::stream<beast::tcp_stream> s(co_await connect_to(listener.port()), client_ctx);
        co_await s.async_handshake(ssl::stream_base::client, asio::use_awaitable);
        beast::flat_buffer buf;
        auto [msg, res] = co_await (hub.async_wait(callback_kind::midi, "secure", asio::use_awaitable) &&
                                    exchange(s, buf, make_post(listener, callback_kind::midi, midi_en("secure"))));
        BOOST_TEST(res.result_int() == 200u);
        BOOST_TEST(msg.task_id == "secure");

        // A plain-HTTP client on the HTTPS port gets nothing and is dropped.
        auto plain = co_await connect_to(listener.port());
        co_await asio::async_write(plain, asio::buffer(std::string_view("GET / HTTP/1.1\r\n\r\n")), asio::use_awaitable);
        co_await read_until_closed(plain);
        BOOST_TEST(listener.stats().tls_handshake_failures == 1u);
    });
}

BOOST_AUTO_TEST_CASE(concurrent_callbacks_on_a_multithreaded_io_context_resume_each_waiter_exactly_once, *boost::unit_test::label("multithreaded"))
{
    run_bounded_on_threads(
        [](asio::io_context& ioc) -> asio::awaitable<void> {
            constexpr int clients = 8;
            constexpr int per_client = 40;
            constexpr int total = clients * per_client;
            listening l(ioc.get_executor());
            auto& [hub, listener] = l;
            auto id_of = [](int c, int i) { return "mt-" + std::to_string(c) + "-" + std::to_string(i); };

            // Even-numbered tasks are awaited before their callbacks arrive, odd ones after.
            auto resumed = std::make_shared<std::vector<std::atomic<int>>>(total);
            auto pending = std::make_shared<std::atomic<int>>(total / 2);
            asio::experimental::concurrent_channel<void(error_code)> all_resumed(ioc, 1);
            for (int c = 0; c < clients; ++c)
                for (int i = 0; i < per_client; i += 2)
                    hub.async_wait(callback_kind::midi, id_of(c, i), [&, resumed, pending, n = c * per_client + i](error_code ec, callback_message) {
                        if (!ec) ++(*resumed)[n];
                        if (--*pending == 0) all_resumed.try_send(error_code{});
                    });

            // Boost.Test is not thread-safe: concurrent clients only count, the checks come at the end.
            std::atomic<int> not_200{0};
            auto client = [&](int c) -> asio::awaitable<void> {
                auto s = co_await connect_to(listener.port());
                beast::flat_buffer buf;
                for (int i = 0; i < per_client; ++i)
                {
                    auto res = co_await exchange(s, buf, make_post(listener, callback_kind::midi, midi_cn(id_of(c, i))));
                    if (res.result_int() != 200u) ++not_200;
                }
            };
            co_await (client(0) && client(1) && client(2) && client(3) && client(4) && client(5) && client(6) &&
                      client(7));
            co_await all_resumed.async_receive(asio::use_awaitable);

            for (int c = 0; c < clients; ++c)
                for (int i = 1; i < per_client; i += 2)
                {
                    auto msg = co_await hub.async_wait(callback_kind::midi, id_of(c, i), asio::use_awaitable);
                    if (msg.task_id == id_of(c, i)) ++(*resumed)[c * per_client + i];
                }
            int not_once = 0;
            for (auto& r : *resumed)
                if (r != 1) ++not_once;
            BOOST_TEST(not_once == 0);
            BOOST_TEST(not_200 == 0);
            BOOST_TEST(listener.stats().callbacks_accepted == static_cast<std::uint64_t>(total));
            BOOST_TEST(listener.stats().accepted_connections == static_cast<std::uint64_t>(clients));
            const auto hs = hub.stats();
            BOOST_TEST(hs.delivered_total == static_cast<std::uint64_t>(total));
            BOOST_TEST(hs.buffered == 0u);
            BOOST_TEST(hs.waiting == 0u);
        },
        4);
}

BOOST_AUTO_TEST_SUITE_END()
