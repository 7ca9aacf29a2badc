// callback_listener over real sockets on 127.0.0.1, the HTTP side: malformed requests and bodies,
// size and time limits, the path secret, methods, pipelining, 100-continue, connection limits,
// start and stop.
#include <kiemidi/in_process_callback_hub.hpp>
#include <kiemidi/callback_listener.hpp>
#include <kiemidi/api/callbacks.hpp>

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

BOOST_AUTO_TEST_SUITE(listener_connections)

BOOST_AUTO_TEST_CASE(malformed_json_or_missing_task_id_is_rejected_with_400)
{
    run_bounded([](asio::io_context& ioc) -> asio::awaitable<void> {
        in_process_callback_hub hub(ioc.get_executor());
        std::vector<std::string> notices;
        auto o = test_options();
        o.log = [&](std::string_view line) { notices.emplace_back(line); };
        callback_listener listener(ioc.get_executor(), o, hub);
        listener.start();
        auto bad = co_await send(listener.port(), make_post(listener, callback_kind::midi, R"({"code":200,"data":{)"));
        BOOST_TEST(bad.result_int() == 400u);
        auto no_id = co_await send(listener.port(), make_post(listener, callback_kind::midi, R"({"code":200,"data":{}})"));
        BOOST_TEST(no_id.result_int() == 400u);
        auto garbage = co_await send(listener.port(), make_post(listener, callback_kind::separation, "not json at all"));
        BOOST_TEST(garbage.result_int() == 400u);
        BOOST_TEST(listener.stats().malformed == 3u);
        BOOST_TEST(hub.stats().buffered == 0u);
        BOOST_TEST(notices.size() == 3u);
        BOOST_TEST(notices.front().find("400") != std::string::npos);
    });
}

BOOST_AUTO_TEST_CASE(malformed_http_is_rejected_with_400)
{
    run_bounded([](asio::io_context& ioc) -> asio::awaitable<void> {
        in_process_callback_hub hub(ioc.get_executor());
        callback_listener listener(ioc.get_executor(), test_options(), hub);
        listener.start();
        auto s = co_await connect_to(listener.port());
        co_await asio::async_write(s, asio::buffer(std::string_view("POST / HTTP/1.1\r\nContent-Length: abc\r\n\r\n")),
                                   asio::use_awaitable);
        beast::flat_buffer buf;
        response res;
        co_await http::async_read(s, buf, res, asio::use_awaitable);
        BOOST_TEST(res.result_int() == 400u);
        BOOST_TEST(listener.stats().malformed == 1u);
    });
}

BOOST_AUTO_TEST_CASE(oversized_body_is_rejected_with_413)
{
    run_bounded([](asio::io_context& ioc) -> asio::awaitable<void> {
        in_process_callback_hub hub(ioc.get_executor());
        auto o = test_options();
        o.max_body = 1024;
        callback_listener listener(ioc.get_executor(), o, hub);
        listener.start();

        // Announced too large: answered from the headers alone.
        auto s = co_await connect_to(listener.port());
        const std::string head = "POST " + path_of(listener.callback_url(callback_kind::midi)) +
                                 " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 4096\r\n\r\n";
        co_await asio::async_write(s, asio::buffer(head), asio::use_awaitable);
        beast::flat_buffer buf;
        response res;
        co_await http::async_read(s, buf, res, asio::use_awaitable);
        BOOST_TEST(res.result_int() == 413u);

        // Chunked, growing past the limit while being read.
        auto c = co_await connect_to(listener.port());
        std::string chunked = "POST " + path_of(listener.callback_url(callback_kind::midi)) +
                              " HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n";
        for (int i = 0; i < 3; ++i) chunked += "200\r\n" + std::string(512, 'x') + "\r\n";
        co_await asio::async_write(c, asio::buffer(chunked), asio::use_awaitable);
        beast::flat_buffer buf2;
        response res2;
        co_await http::async_read(c, buf2, res2, asio::use_awaitable);
        BOOST_TEST(res2.result_int() == 413u);
        BOOST_TEST(listener.stats().too_large == 2u);

        // A body just under the limit is still fine.
        auto ok = co_await send(listener.port(), make_post(listener, callback_kind::midi, midi_cn("fits")));
        BOOST_TEST(ok.result_int() == 200u);
    });
}

BOOST_AUTO_TEST_CASE(slow_headers_are_cut_off_after_header_timeout)
{
    run_bounded([](asio::io_context& ioc) -> asio::awaitable<void> {
        in_process_callback_hub hub(ioc.get_executor());
        auto o = test_options();
        o.header_timeout = 200ms;
        callback_listener listener(ioc.get_executor(), o, hub);
        listener.start();

        const auto started = std::chrono::steady_clock::now();
        auto s = co_await connect_to(listener.port());
        const std::string partial = "POST " + path_of(listener.callback_url(callback_kind::midi)) + " HTTP/1.1\r\nHost: 12";
        co_await asio::async_write(s, asio::buffer(partial), asio::use_awaitable);
        auto ec = co_await read_until_closed(s);
        const auto elapsed = std::chrono::steady_clock::now() - started;
        BOOST_TEST((ec == asio::error::eof || ec == asio::error::connection_reset));
        BOOST_TEST(elapsed >= 150ms);
        BOOST_TEST(elapsed < 5s);

        // A connection that never sends a byte is closed the same way.
        auto silent = co_await connect_to(listener.port());
        auto ec2 = co_await read_until_closed(silent);
        BOOST_TEST((ec2 == asio::error::eof || ec2 == asio::error::connection_reset));
        BOOST_TEST(listener.stats().timeouts == 2u);
    });
}

BOOST_AUTO_TEST_CASE(wrong_secret_is_answered_404_and_the_waiter_is_not_resumed)
{
    run_bounded([](asio::io_context& ioc) -> asio::awaitable<void> {
        in_process_callback_hub hub(ioc.get_executor());
        callback_listener listener(ioc.get_executor(), test_options(), hub);
        listener.start();
        watched_wait w(hub, "guarded");
        std::string target = path_of(listener.callback_url(callback_kind::midi));
        const auto pos = target.find("/callback/") + 10;
        target[pos] = target[pos] == 'a' ? 'b' : 'a';  // same length, one character off
        auto res = co_await send(listener.port(), make_request(http::verb::post, target, midi_cn("guarded")));
        BOOST_TEST(res.result_int() == 404u);
        BOOST_TEST(res.body().find("guarded") == std::string::npos);
        auto short_secret = co_await send(listener.port(),
                                          make_request(http::verb::post, "/kiemidi/callback/x/midi", midi_cn("guarded")));
        BOOST_TEST(short_secret.result_int() == 404u);
        auto other = co_await send(listener.port(), make_request(http::verb::post, "/", midi_cn("guarded")));
        BOOST_TEST(other.result_int() == 404u);
        BOOST_TEST(listener.stats().not_found == 3u);
        BOOST_TEST(hub.stats().waiting == 1u);
        BOOST_TEST(w.r->calls == 0);
        hub.close();
    });
}

BOOST_AUTO_TEST_CASE(methods_other_than_post_are_answered_405)
{
    run_bounded([](asio::io_context& ioc) -> asio::awaitable<void> {
        in_process_callback_hub hub(ioc.get_executor());
        callback_listener listener(ioc.get_executor(), test_options(), hub);
        listener.start();
        auto res = co_await send(listener.port(),
                                 make_request(http::verb::get, path_of(listener.callback_url(callback_kind::separation))));
        BOOST_TEST(res.result_int() == 405u);
        BOOST_TEST(res[http::field::allow] == "POST");
        // On an unknown path the method is not even looked at.
        auto unknown = co_await send(listener.port(), make_request(http::verb::get, "/kiemidi/callback/"));
        BOOST_TEST(unknown.result_int() == 404u);
        BOOST_TEST(listener.stats().method_not_allowed == 1u);
    });
}

BOOST_AUTO_TEST_CASE(pipelined_requests_on_one_connection_are_answered_in_order)
{
    run_bounded([](asio::io_context& ioc) -> asio::awaitable<void> {
        in_process_callback_hub hub(ioc.get_executor());
        callback_listener listener(ioc.get_executor(), test_options(), hub);
        listener.start();
        std::string batch;
        auto append = [&](request req) {
            std::ostringstream os;
            os << req;
            batch += os.str();
        };
        append(make_post(listener, callback_kind::separation, separation_en("p1")));
        append(make_request(http::verb::get, path_of(listener.callback_url(callback_kind::midi))));
        append(make_post(listener, callback_kind::midi, "{"));
        append(make_post(listener, callback_kind::midi, midi_en("p2")));
        auto s = co_await connect_to(listener.port());
        co_await asio::async_write(s, asio::buffer(batch), asio::use_awaitable);
        beast::flat_buffer buf;
        std::vector<unsigned> statuses;
        for (int i = 0; i < 4; ++i)
        {
            response res;
            co_await http::async_read(s, buf, res, asio::use_awaitable);
            statuses.push_back(res.result_int());
        }
        BOOST_TEST((statuses == std::vector<unsigned>{200, 405, 400, 200}));
        // Keep-alive: the same connection serves one more.
        auto last = co_await exchange(s, buf, make_post(listener, callback_kind::midi, midi_cn("p3")));
        BOOST_TEST(last.result_int() == 200u);
        BOOST_TEST(listener.stats().accepted_connections == 1u);
        BOOST_TEST(hub.stats().buffered == 3u);
    });
}

BOOST_AUTO_TEST_CASE(stop_closes_the_acceptor_and_every_open_connection)
{
    run_bounded([](asio::io_context& ioc) -> asio::awaitable<void> {
        in_process_callback_hub hub(ioc.get_executor());
        callback_listener listener(ioc.get_executor(), test_options(), hub);
        listener.start();
        const auto port = listener.port();
        std::vector<beast::tcp_stream> conns;
        beast::flat_buffer buf;
        for (int i = 0; i < 3; ++i)
        {
            conns.push_back(co_await connect_to(port));
            auto res = co_await exchange(conns.back(), buf,
                                         make_post(listener, callback_kind::midi, midi_cn("s" + std::to_string(i))));
            BOOST_TEST(res.result_int() == 200u);
        }
        BOOST_TEST(listener.stats().open_connections == 3u);
        listener.stop();
        for (auto& c : conns)
        {
            auto ec = co_await read_until_closed(c);
            BOOST_TEST((ec == asio::error::eof || ec == asio::error::connection_reset));
        }
        BOOST_TEST(listener.stats().open_connections == 0u);
        beast::tcp_stream late(co_await asio::this_coro::executor);
        auto [ec] = co_await late.async_connect(tcp::endpoint(asio::ip::make_address_v4("127.0.0.1"), port), use_nothrow_awaitable);
        BOOST_TEST((ec == asio::error::connection_refused));
    });
}

BOOST_AUTO_TEST_CASE(connections_beyond_max_connections_are_closed_at_once_when_none_is_idle)
{
    run_bounded([](asio::io_context& ioc) -> asio::awaitable<void> {
        in_process_callback_hub hub(ioc.get_executor());
        auto o = test_options();
        o.max_connections = 1;
        callback_listener listener(ioc.get_executor(), o, hub);
        listener.start();
        auto first = co_await connect_to(listener.port());
        beast::flat_buffer buf;
        // Busy, not idle: the start of a next request arrives with the first one (one write), so
        // once the first is answered the connection is inside a request and keeps its slot.
        std::ostringstream first_bytes;
        first_bytes << make_post(listener, callback_kind::midi, midi_cn("c1")) << "POST / HTTP/1.1\r\nHo";
        co_await asio::async_write(first, asio::buffer(first_bytes.str()), asio::use_awaitable);
        response res;
        co_await http::async_read(first, buf, res, asio::use_awaitable);
        BOOST_TEST(res.result_int() == 200u);

        auto second = co_await connect_to(listener.port());
        auto ec = co_await read_until_closed(second);
        BOOST_TEST((ec == asio::error::eof || ec == asio::error::connection_reset));
        BOOST_TEST(listener.stats().refused_over_capacity == 1u);
        BOOST_TEST(listener.stats().evicted_idle == 0u);

        // Once the first one leaves, a new connection is served again.
        first.close();
        for (;;)
        {
            auto third = co_await connect_to(listener.port());
            beast::flat_buffer b3;
            co_await http::async_write(third, make_post(listener, callback_kind::midi, midi_cn("c2")), asio::use_awaitable);
            response r3;
            auto [rec, n] = co_await http::async_read(third, b3, r3, use_nothrow_awaitable);
            if (!rec)
            {
                BOOST_TEST(r3.result_int() == 200u);
                break;
            }
            // Refused because the server had not yet noticed the first close: that notice is an event, retry.
        }
    });
}

BOOST_AUTO_TEST_CASE(start_reports_a_port_in_use_and_callback_urls_carry_the_secret)
{
    run_bounded([](asio::io_context& ioc) -> asio::awaitable<void> {
        in_process_callback_hub hub(ioc.get_executor());
        callback_listener a(ioc.get_executor(), test_options(), hub);
        a.start();
        auto o = test_options();
        o.port = a.port();
        callback_listener b(ioc.get_executor(), o, hub);
        error_code ec;
        b.start(ec);
        BOOST_TEST((ec == asio::error::address_in_use));

        const auto url = a.callback_url(callback_kind::separation);
        BOOST_TEST(url.rfind("http://127.0.0.1:" + std::to_string(a.port()) + "/kiemidi/callback/", 0) == 0u);
        BOOST_TEST(url.size() == std::string("http://127.0.0.1:" + std::to_string(a.port()) + "/kiemidi/callback/").size() +
                                     64 + std::string("/separation").size());

        auto p = test_options();
        p.public_base_url = "https://hooks.example.com/";
        p.path_secret = "0123456789abcdef-secret";
        callback_listener c(ioc.get_executor(), p, hub);
        BOOST_TEST(c.callback_url(callback_kind::midi) == "https://hooks.example.com/kiemidi/callback/0123456789abcdef-secret/midi");

        auto bad = test_options();
        bad.path_secret = "short";
        callback_listener d(ioc.get_executor(), bad, hub);
        d.start(ec);
        BOOST_TEST((ec == asio::error::invalid_argument));
        co_return;
    });
}

BOOST_AUTO_TEST_CASE(client_expecting_100_continue_gets_it_before_sending_the_body)
{
    run_bounded([](asio::io_context& ioc) -> asio::awaitable<void> {
        in_process_callback_hub hub(ioc.get_executor());
        callback_listener listener(ioc.get_executor(), test_options(), hub);
        listener.start();
        const auto body = midi_cn("continued");
        const std::string head = "POST " + path_of(listener.callback_url(callback_kind::midi)) +
                                 " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nExpect: 100-continue\r\n"
                                 "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n";
        auto s = co_await connect_to(listener.port());
        co_await asio::async_write(s, asio::buffer(head), asio::use_awaitable);
        std::string interim;
        const auto n = co_await asio::async_read_until(s, asio::dynamic_buffer(interim), "\r\n\r\n", asio::use_awaitable);
        BOOST_TEST(interim.substr(0, 12) == "HTTP/1.1 100");
        interim.erase(0, n);
        co_await asio::async_write(s, asio::buffer(body), asio::use_awaitable);
        beast::flat_buffer buf;
        buf.commit(asio::buffer_copy(buf.prepare(interim.size()), asio::buffer(interim)));
        response res;
        co_await http::async_read(s, buf, res, asio::use_awaitable);
        BOOST_TEST(res.result_int() == 200u);
        BOOST_TEST(hub.stats().buffered == 1u);
    });
}

BOOST_AUTO_TEST_CASE(callbacks_arrive_with_or_without_the_public_base_url_path_prefix)
{
    run_bounded([](asio::io_context& ioc) -> asio::awaitable<void> {
        in_process_callback_hub hub(ioc.get_executor());
        auto o = test_options();
        o.public_base_url = "https://proxy.example/hooks/";
        callback_listener listener(ioc.get_executor(), o, hub);
        listener.start();
        const auto url = listener.callback_url(callback_kind::separation);
        BOOST_TEST(url.rfind("https://proxy.example/hooks/kiemidi/callback/", 0) == 0u);
        // A proxy that forwards the full path...
        auto full = co_await send(listener.port(), make_request(http::verb::post, path_of(url), separation_en("p-full")));
        BOOST_TEST(full.result_int() == 200u);
        // ...and one that strips its prefix both reach the listener.
        auto stripped = co_await send(listener.port(), make_request(http::verb::post, path_of(url).substr(6), separation_en("p-strip")));
        BOOST_TEST(stripped.result_int() == 200u);
        BOOST_TEST(hub.stats().buffered == 2u);
    });
}

BOOST_AUTO_TEST_SUITE_END()
