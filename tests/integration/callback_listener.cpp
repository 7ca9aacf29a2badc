// callback_listener over real sockets on 127.0.0.1: routing, limits, signatures, TLS, lifecycle.
#include <kiemidi/in_process_callback_hub.hpp>
#include <kiemidi/callback_listener.hpp>
#include <kiemidi/api/callbacks.hpp>

#include "common/run_bounded.hpp"
#include "common/test_http_server.hpp"

// White-box: KIE's webhook signature as the library computes it.
#include "crypto/crypto.hpp"

#include <boost/asio/as_tuple.hpp>
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

using namespace kiemidi;
using namespace std::chrono_literals;
using namespace boost::asio::experimental::awaitable_operators;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using kiemidi::test::run_bounded;

namespace {

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);
using response = http::response<http::string_body>;
using request = http::request<http::string_body>;

// Callback bodies as KIE documents them (every variant the listener must accept).
std::string separation_en(const std::string& id)
{
    return R"({"code":200,"msg":"vocal separation generated successfully.","data":{"task_id":")" + id +
           R"(","vocal_separation_info":{"instrumental_url":"https://file.example/i.mp3","origin_url":"","vocal_url":"https://file.example/v.mp3"}}})";
}
std::string separation_cn(const std::string& id)
{
    return R"({"code":200,"msg":"vocal Removal generated successfully.","data":{"task_id":")" + id +
           R"(","vocal_removal_info":{"origin_url":"","vocal_url":"https://file.example/v.mp3","drums_url":"https://file.example/d.mp3"}}})";
}
std::string separation_failed(const std::string& id)
{
    return R"({"code":500,"msg":"Vocal separation failed","data":{"task_id":")" + id + R"(","vocal_separation_info":null}})";
}
std::string midi_en(const std::string& id)
{
    return R"({"task_id":")" + id +
           R"(","code":200,"msg":"success","data":{"state":"complete","instruments":[{"name":"Drums","notes":[{"pitch":73,"start":"0.036458333333333336","end":"0.18229166666666666","velocity":1},{"pitch":61,"start":0.046875,"end":"0.19270833333333334","velocity":1}]}]}})";
}
std::string midi_cn(const std::string& id)
{
    return R"({"code":200,"msg":"success","data":{"state":"complete","taskId":")" + id + R"(","instruments":[]}})";
}
std::string midi_failed_top_level(const std::string& id)
{
    return R"({"task_id":")" + id + R"(","code":500,"msg":"MIDI generation failed","data":null})";
}
std::string midi_failed_data(const std::string& id)
{
    return R"({"code":500,"msg":"MIDI generation failed","data":{"taskId":")" + id + R"("}})";
}

std::string path_of(const std::string& url) { return url.substr(url.find('/', url.find("://") + 3)); }

request make_request(http::verb method, std::string target, std::string body = {},
                     std::vector<std::pair<std::string, std::string>> headers = {})
{
    request req{method, target, 11};
    req.set(http::field::host, "127.0.0.1");
    req.set(http::field::user_agent, "kiemidi-test");
    for (auto& [k, v] : headers) req.set(k, v);
    if (method == http::verb::post) req.set(http::field::content_type, "application/json");
    req.body() = std::move(body);
    req.prepare_payload();
    return req;
}

request make_post(const callback_listener& l, callback_kind kind, std::string body,
                  std::vector<std::pair<std::string, std::string>> headers = {})
{
    return make_request(http::verb::post, path_of(l.callback_url(kind)), std::move(body), std::move(headers));
}

asio::awaitable<beast::tcp_stream> connect_to(std::uint16_t port)
{
    beast::tcp_stream s(co_await asio::this_coro::executor);
    co_await s.async_connect(tcp::endpoint(asio::ip::make_address_v4("127.0.0.1"), port), asio::use_awaitable);
    co_return s;
}

template <class Stream>
asio::awaitable<response> exchange(Stream& s, beast::flat_buffer& buf, request req)
{
    co_await http::async_write(s, req, asio::use_awaitable);
    response res;
    co_await http::async_read(s, buf, res, asio::use_awaitable);
    co_return res;
}

// One request on a fresh connection.
asio::awaitable<response> send(std::uint16_t port, request req)
{
    auto s = co_await connect_to(port);
    beast::flat_buffer buf;
    co_return co_await exchange(s, buf, std::move(req));
}

// Reads until the server closes; returns the error that ended the read (eof or reset).
template <class Stream>
asio::awaitable<error_code> read_until_closed(Stream& s)
{
    char byte[256];
    for (;;)
    {
        auto [ec, n] = co_await s.async_read_some(asio::buffer(byte), use_tuple);
        if (ec) co_return ec;
    }
}

using header_list = std::vector<std::pair<std::string, std::string>>;

// KIE's webhook headers for `task_id` signed with `key` at `timestamp`.
header_list signed_headers(const std::string& key, const std::string& task_id, const std::string& timestamp,
                           bool lowercase = false)
{
    return {{lowercase ? "x-webhook-timestamp" : "X-Webhook-Timestamp", timestamp},
            {lowercase ? "x-webhook-signature" : "X-Webhook-Signature", kiemidi::detail::webhook_signature(key, task_id, timestamp)}};
}

std::string epoch_seconds(std::chrono::seconds offset = 0s)
{
    return std::to_string(
        std::chrono::duration_cast<std::chrono::seconds>((std::chrono::system_clock::now() + offset).time_since_epoch())
            .count());
}

listener_options test_options()
{
    listener_options o;
    o.header_timeout = 2s;
    o.body_timeout = 2s;
    o.idle_timeout = 5s;
    return o;
}

// A pending wait for a MIDI callback whose outcome can be inspected without awaiting it.
struct watched_wait
{
    struct result
    {
        int calls = 0;
        error_code ec;
    };
    std::shared_ptr<result> r = std::make_shared<result>();
    watched_wait(callback_hub& hub, std::string id)
    {
        hub.async_wait(callback_kind::midi, std::move(id), [r = r](error_code ec, callback_message) {
            ++r->calls;
            r->ec = ec;
        });
    }
};

// run_bounded's counterpart for an io_context run by `threads` threads: the body runs as a
// coroutine, the whole run is bounded by `limit`, and every thread is joined before returning.
template <class MakeBody>
void run_bounded_on_threads(MakeBody make_body, int threads, std::chrono::steady_clock::duration limit = 20s)
{
    asio::io_context ioc(threads);
    std::atomic<bool> timed_out{false};
    std::exception_ptr failure;
    auto guarded = [&]() -> asio::awaitable<void> {
        asio::steady_timer timer(ioc, limit);
        auto which = co_await (make_body(ioc) || timer.async_wait(asio::use_awaitable));
        if (which.index() == 1) timed_out = true;
    };
    asio::co_spawn(ioc, guarded(), [&](std::exception_ptr e) { failure = e; });
    std::vector<std::thread> pool;
    for (int i = 1; i < threads; ++i) pool.emplace_back([&] { ioc.run(); });
    ioc.run();
    for (auto& t : pool) t.join();
    if (failure)
    {
        try { std::rethrow_exception(failure); }
        catch (const std::exception& e) { BOOST_FAIL(std::string("test coroutine threw: ") + e.what()); }
    }
    BOOST_TEST_REQUIRE(!timed_out, "test exceeded its time bound");
}

}  // namespace

BOOST_AUTO_TEST_SUITE(callback_listener_suite)

BOOST_AUTO_TEST_CASE(callbacks_of_every_documented_shape_resume_their_waiters)
{
    run_bounded([](asio::io_context& ioc) -> asio::awaitable<void> {
        in_process_callback_hub hub(ioc.get_executor());
        callback_listener listener(ioc.get_executor(), test_options(), hub);
        listener.start();
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
            auto [msg, res] = co_await (hub.async_wait(v.kind, id, asio::use_awaitable) &&
                                        send(listener.port(), make_post(listener, v.kind, v.body(id))));
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
        in_process_callback_hub hub(ioc.get_executor());
        callback_listener listener(ioc.get_executor(), test_options(), hub);
        listener.start();
        auto res = co_await send(listener.port(), make_post(listener, callback_kind::midi, midi_cn("early")));
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
        in_process_callback_hub hub(ioc.get_executor());
        callback_listener listener(ioc.get_executor(), test_options(), hub);
        listener.start();
        auto sep = co_await send(listener.port(), make_post(listener, callback_kind::separation, separation_en("shared")));
        auto midi = co_await send(listener.port(), make_post(listener, callback_kind::midi, midi_en("shared")));
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
        in_process_callback_hub hub(ioc.get_executor());
        callback_listener listener(ioc.get_executor(), test_options(), hub);
        listener.start();
        const std::string body = R"({"task_id":"m1","code":200,"msg":"success","data":{"taskId":"","instruments":[]}})";
        auto [msg, res] = co_await (hub.async_wait(callback_kind::midi, "m1", asio::use_awaitable) &&
                                    send(listener.port(), make_post(listener, callback_kind::midi, body)));
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
        in_process_callback_hub hub(ioc.get_executor());
        callback_listener listener(ioc.get_executor(), test_options(), hub);
        listener.start();
        auto [msg, first] = co_await (hub.async_wait(callback_kind::separation, "dup", asio::use_awaitable) &&
                                      send(listener.port(), make_post(listener, callback_kind::separation, separation_en("dup"))));
        BOOST_TEST(first.result_int() == 200u);
        BOOST_TEST(msg.task_id == "dup");
        auto second = co_await send(listener.port(), make_post(listener, callback_kind::separation, separation_en("dup")));
        BOOST_TEST(second.result_int() == 200u);
        BOOST_TEST(listener.stats().duplicates == 1u);
        BOOST_TEST(listener.stats().callbacks_accepted == 2u);
        BOOST_TEST(hub.stats().delivered_total == 1u);
        BOOST_TEST(hub.stats().buffered == 0u);  // the repeat was dropped, not kept for a later waiter
    });
}

BOOST_AUTO_TEST_CASE(callback_for_an_unknown_task_is_acknowledged_with_200)
{
    run_bounded([](asio::io_context& ioc) -> asio::awaitable<void> {
        in_process_callback_hub hub(ioc.get_executor());
        callback_listener listener(ioc.get_executor(), test_options(), hub);
        listener.start();
        auto res = co_await send(listener.port(), make_post(listener, callback_kind::midi, midi_en("nobody-waits")));
        BOOST_TEST(res.result_int() == 200u);
        BOOST_TEST(res.body() == R"({"code":200,"msg":"success"})");
        auto again = co_await send(listener.port(), make_post(listener, callback_kind::midi, midi_en("nobody-waits")));
        BOOST_TEST(again.result_int() == 200u);
        BOOST_TEST(listener.stats().duplicates == 1u);
    });
}

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

BOOST_AUTO_TEST_CASE(validly_signed_callback_is_accepted)
{
    run_bounded([](asio::io_context& ioc) -> asio::awaitable<void> {
        in_process_callback_hub hub(ioc.get_executor());
        auto o = test_options();
        o.webhook_hmac_key = "whk-test-key";
        callback_listener listener(ioc.get_executor(), o, hub);
        listener.start();
        const auto ts = epoch_seconds();
        auto [msg, res] = co_await (
            hub.async_wait(callback_kind::separation, "signed", asio::use_awaitable) &&
            send(listener.port(), make_post(listener, callback_kind::separation, separation_en("signed"),
                                            signed_headers(o.webhook_hmac_key, "signed", ts))));
        BOOST_TEST(res.result_int() == 200u);
        BOOST_TEST(msg.task_id == "signed");
        // Header names are case-insensitive (KIE's samples use lowercase).
        auto [msg2, res2] = co_await (
            hub.async_wait(callback_kind::midi, "lower", asio::use_awaitable) &&
            send(listener.port(), make_post(listener, callback_kind::midi, midi_en("lower"),
                                            signed_headers(o.webhook_hmac_key, "lower", ts, true))));
        BOOST_TEST(res2.result_int() == 200u);
        BOOST_TEST(msg2.task_id == "lower");
    });
}

BOOST_AUTO_TEST_CASE(forged_or_missing_signature_is_rejected_with_401_and_the_waiter_is_not_resumed)
{
    run_bounded([](asio::io_context& ioc) -> asio::awaitable<void> {
        in_process_callback_hub hub(ioc.get_executor());
        auto o = test_options();
        o.webhook_hmac_key = "whk-test-key";
        callback_listener listener(ioc.get_executor(), o, hub);
        listener.start();
        watched_wait w(hub, "victim");
        const auto ts = epoch_seconds();
        auto forged = co_await send(listener.port(),
                                    make_post(listener, callback_kind::midi, midi_en("victim"),
                                              signed_headers("wrong-key", "victim", ts)));
        BOOST_TEST(forged.result_int() == 401u);
        // A signature for another task id does not transfer.
        auto replayed = co_await send(listener.port(),
                                      make_post(listener, callback_kind::midi, midi_en("victim"),
                                                signed_headers(o.webhook_hmac_key, "other", ts)));
        BOOST_TEST(replayed.result_int() == 401u);
        auto missing = co_await send(listener.port(), make_post(listener, callback_kind::midi, midi_en("victim")));
        BOOST_TEST(missing.result_int() == 401u);
        BOOST_TEST(listener.stats().rejected_forged == 3u);
        BOOST_TEST(hub.stats().waiting == 1u);
        BOOST_TEST(w.r->calls == 0);
        hub.close();
    });
}

BOOST_AUTO_TEST_CASE(stale_signature_timestamp_is_rejected_with_401)
{
    run_bounded([](asio::io_context& ioc) -> asio::awaitable<void> {
        in_process_callback_hub hub(ioc.get_executor());
        auto o = test_options();
        o.webhook_hmac_key = "whk-test-key";
        o.freshness_window = 300s;
        callback_listener listener(ioc.get_executor(), o, hub);
        listener.start();
        watched_wait w(hub, "late");
        // 30 s beyond the window: timestamps have whole seconds, and on a slow (sanitized) run the
        // listener reads its clock a second or more after the test made the timestamp, which
        // moved a 301 s future timestamp inside a 300 s window.
        for (auto offset : {-330s, 330s})
        {
            const auto ts = epoch_seconds(offset);
            auto res = co_await send(listener.port(),
                                     make_post(listener, callback_kind::midi, midi_cn("late"),
                                               signed_headers(o.webhook_hmac_key, "late", ts)));
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
        in_process_callback_hub hub(ioc.get_executor());
        auto o = test_options();
        o.webhook_hmac_key = "whk-test-key";
        o.freshness_window = std::chrono::seconds::max();
        callback_listener listener(ioc.get_executor(), o, hub);
        listener.start();
        int n = 0;
        for (auto offset : {std::chrono::seconds(-10 * 366 * 86400), 0s, std::chrono::seconds(10 * 366 * 86400)})
        {
            const std::string id = "any-age-" + std::to_string(n++);
            const auto ts = epoch_seconds(offset);
            auto [msg, res] = co_await (
                hub.async_wait(callback_kind::midi, id, asio::use_awaitable) &&
                send(listener.port(), make_post(listener, callback_kind::midi, midi_cn(id),
                                                signed_headers(o.webhook_hmac_key, id, ts))));
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
        in_process_callback_hub hub(ioc.get_executor());
        auto o = test_options();
        o.tls_certificate_pem = cert.cert_pem;
        o.tls_private_key_pem = cert.key_pem;
        callback_listener listener(ioc.get_executor(), o, hub);
        listener.start();
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
        auto [ec] = co_await late.async_connect(tcp::endpoint(asio::ip::make_address_v4("127.0.0.1"), port), use_tuple);
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
            auto [rec, n] = co_await http::async_read(third, b3, r3, use_tuple);
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

BOOST_AUTO_TEST_CASE(concurrent_callbacks_on_a_multithreaded_io_context_resume_each_waiter_exactly_once, *boost::unit_test::label("multithreaded"))
{
    run_bounded_on_threads(
        [](asio::io_context& ioc) -> asio::awaitable<void> {
            constexpr int clients = 8;
            constexpr int per_client = 40;
            constexpr int total = clients * per_client;
            in_process_callback_hub hub(ioc.get_executor());
            callback_listener listener(ioc.get_executor(), test_options(), hub);
            listener.start();
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
