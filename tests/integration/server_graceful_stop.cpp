// The embedded servers' one stop shape, over real sockets on 127.0.0.1: start(error_code&), then
// async_stop(token) that stops accepting, lets what is in hand finish (bounded by the grace),
// cuts the rest when cancelled, and completes only when nothing of the server runs. Each server
// is destroyed inside the completion handler, while the io_context goes on running: a handler of
// the server that ran after that would touch freed memory (caught by the sanitizer builds).
#include <kiemidi/callback_listener.hpp>
#include <kiemidi/emulator/server.hpp>
#include <kiemidi/in_process_callback_hub.hpp>
#include <kiemidi/metrics/server.hpp>

#include "common/listener_support.hpp"
#include "common/raw_http.hpp"
#include "common/run_bounded.hpp"

#include "nothrow_awaitable.hpp"

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <type_traits>

namespace asio = boost::asio;

using namespace kiemidi;
using namespace kiemidi::test;
using namespace std::chrono_literals;

namespace {

// A POST of a MIDI callback for `task_id` whose body is sent in two parts: the headers and the
// first half now (the request is in hand), the rest later.
struct split_callback
{
    std::string head_and_first_half;
    std::string second_half;
};

split_callback split_post(const callback_listener& l, const std::string& task_id)
{
    auto req = make_post(l, callback_kind::midi, midi_en(task_id));
    std::ostringstream os;
    os << req;
    const auto text = os.str();
    const auto cut = text.size() - req.body().size() / 2;
    return {text.substr(0, cut), text.substr(cut)};
}

// soon()'s loop. The predicate comes as a function pointer and its address: no coroutine frame
// holds the test's closure type, which g++ refuses (-Wsubobject-linkage) in a unity build.
asio::awaitable<bool> poll_within(bool (*holds)(void*), void* pred, std::chrono::milliseconds limit)
{
    for (auto waited = 0ms; waited < limit; waited += 10ms)
    {
        if (holds(pred)) co_return true;
        co_await sleep_for(10ms);
    }
    co_return holds(pred);
}

// Polls `pred` every 10 ms for up to `limit`; awaited where it is created, so `pred` outlives it.
template <class Pred>
asio::awaitable<bool> soon(Pred&& pred, std::chrono::milliseconds limit = 3s)
{
    using pred_type = std::remove_reference_t<Pred>;
    return poll_within([](void* p) { return static_cast<bool>((*static_cast<pred_type*>(p))()); },
                       const_cast<void*>(static_cast<const void*>(std::addressof(pred))), limit);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(server_graceful_stop)

BOOST_AUTO_TEST_CASE(the_listener_delivers_a_callback_in_hand_closes_idle_connections_and_completes_when_nothing_runs)
{
    run_bounded([](asio::io_context& ioc) -> asio::awaitable<void> {
        in_process_callback_hub hub(ioc.get_executor());
        auto listener = std::make_unique<callback_listener>(ioc.get_executor(), test_options(), hub);
        error_code sec;
        listener->start(sec);
        BOOST_TEST_REQUIRE(!sec, sec.message());
        const auto port = listener->port();

        // One connection with a callback half sent, one that has sent nothing.
        auto busy = co_await connect_to(port);
        auto idle = co_await connect_to(port);
        const auto parts = split_post(*listener, "stop-in-hand");
        co_await asio::async_write(busy, asio::buffer(parts.head_and_first_half), asio::use_awaitable);
        BOOST_TEST_REQUIRE(co_await soon([&] { return listener->stats().open_connections == 2u; }));
        co_await sleep_for(50ms);  // the listener has read the headers

        std::optional<error_code> stopped;
        bool destroyed = false;
        listener->async_stop([&](error_code ec) {
            stopped = ec;
            // Nothing of the listener may run after this: it is destroyed here, inside the run.
            listener.reset();
            destroyed = true;
        });

        // At once: the idle connection is closed and nobody is accepted any more.
        auto idle_end = co_await read_until_closed(idle);
        BOOST_TEST((idle_end == asio::error::eof || idle_end == asio::error::connection_reset), idle_end.message());
        beast::tcp_stream late(ioc.get_executor());
        auto [cec] = co_await late.async_connect(tcp::endpoint(asio::ip::make_address_v4("127.0.0.1"), port),
                                                 use_nothrow_awaitable);
        BOOST_TEST(!!cec);
        co_await sleep_for(100ms);
        BOOST_TEST(!stopped.has_value());  // the callback in hand is not finished yet

        // The rest of the body arrives: the callback is handed to the hub and answered.
        co_await asio::async_write(busy, asio::buffer(parts.second_half), asio::use_awaitable);
        beast::flat_buffer buf;
        response res;
        auto [rec, rn] = co_await http::async_read(busy, buf, res, use_nothrow_awaitable);
        BOOST_TEST_REQUIRE(!rec, rec.message());
        BOOST_TEST(res.result_int() == 200u);
        BOOST_TEST(!res.keep_alive());
        BOOST_TEST(hub.stats().buffered == 1u);  // nothing lost: kept for its waiter

        BOOST_TEST_REQUIRE(co_await soon([&] { return destroyed; }));
        BOOST_TEST(!*stopped, stopped->message());
        co_await sleep_for(100ms);  // the io_context goes on running with the listener gone

        // The hub still holds the callback for the wait that comes after the stop.
        auto [wec, msg] = co_await hub.async_wait(callback_kind::midi, "stop-in-hand", use_nothrow_awaitable);
        BOOST_TEST(!wec, wec.message());
        BOOST_TEST(msg.task_id == "stop-in-hand");
    });
}

BOOST_AUTO_TEST_CASE(the_listener_cuts_what_is_left_when_the_grace_runs_out_or_the_stop_is_cancelled)
{
    run_bounded([](asio::io_context& ioc) -> asio::awaitable<void> {
        in_process_callback_hub hub(ioc.get_executor());
        for (const bool cancel : {false, true})
        {
            auto o = test_options();
            o.stop_grace = cancel ? 30s : 300ms;
            o.body_timeout = 20s;
            auto listener = std::make_unique<callback_listener>(ioc.get_executor(), o, hub);
            listener->start();
            auto busy = co_await connect_to(listener->port());
            const auto parts = split_post(*listener, cancel ? "cancelled" : "grace");
            co_await asio::async_write(busy, asio::buffer(parts.head_and_first_half), asio::use_awaitable);
            BOOST_TEST_REQUIRE(co_await soon([&] { return listener->stats().open_connections == 1u; }));
            co_await sleep_for(50ms);

            asio::cancellation_signal signal;
            std::optional<error_code> stopped;
            const auto began = std::chrono::steady_clock::now();
            listener->async_stop(asio::bind_cancellation_slot(signal.slot(), [&](error_code ec) {
                stopped = ec;
                listener.reset();
            }));
            if (cancel)
            {
                co_await sleep_for(100ms);
                BOOST_TEST(!stopped.has_value());
                signal.emit(asio::cancellation_type::terminal);  // stop now
            }
            auto end = co_await read_until_closed(busy);
            BOOST_TEST((end == asio::error::eof || end == asio::error::connection_reset), end.message());
            BOOST_TEST_REQUIRE(co_await soon([&] { return stopped.has_value(); }));
            const auto took = std::chrono::steady_clock::now() - began;
            if (cancel)
            {
                BOOST_TEST((*stopped == asio::error::operation_aborted), stopped->message());
                BOOST_TEST(took < 5s);
            }
            else
            {
                BOOST_TEST((*stopped == asio::error::timed_out), stopped->message());
                BOOST_TEST(took >= 250ms);
            }
            co_await sleep_for(50ms);
        }
        BOOST_TEST(hub.stats().buffered == 0u);  // neither half-sent callback was taken
    });
}

BOOST_AUTO_TEST_CASE(the_metrics_server_starts_with_an_error_code_and_stops_when_no_scrape_runs)
{
    run_bounded([](asio::io_context& ioc) -> asio::awaitable<void> {
        std::atomic<int> renders{0};
        auto srv = std::make_unique<metrics::server>(ioc.get_executor(), metrics::server_options{}, [&] {
            ++renders;
            return std::string("kiemidi_up 1\n");
        });
        error_code sec;
        srv->start(sec);
        BOOST_TEST_REQUIRE(!sec, sec.message());
        srv->start(sec);
        BOOST_TEST((sec == asio::error::already_started));
        const auto port = srv->port();

        // A keep-alive connection after one scrape: idle, so the stop closes it at once.
        raw_client scraper(ioc.get_executor(), port);
        const raw_request scrape{.target = "/metrics"};  // named: g++ 12 mishandles temporaries inside co_await
        auto ok = co_await scraper.request(scrape);
        BOOST_TEST(ok.status == 200u);
        BOOST_TEST(renders == 1);

        std::optional<error_code> stopped;
        srv->async_stop([&](error_code ec) {
            stopped = ec;
            srv.reset();
        });
        BOOST_TEST_REQUIRE(co_await soon([&] { return stopped.has_value(); }));
        BOOST_TEST(!*stopped, stopped->message());
        co_await sleep_for(100ms);  // the io_context goes on running with the server gone
        raw_response r;
        auto again = co_await scraper.try_request(scrape, r);
        BOOST_TEST(!!again);  // closed, and nobody listens any more
        BOOST_TEST(renders == 1);
    });
}

BOOST_AUTO_TEST_CASE(the_emulator_answers_a_request_in_hand_then_completes_its_stop)
{
    run_bounded([](asio::io_context& ioc) -> asio::awaitable<void> {
        emulator::emulator_options eo;
        eo.enable_https = false;
        eo.faults.slow_response_rate = 1.0;
        eo.faults.slow_response = 400ms;
        auto kie = std::make_unique<emulator::server>(ioc.get_executor(), eo);
        error_code sec;
        kie->start(sec);
        BOOST_TEST_REQUIRE(!sec, sec.message());
        const auto port = kie->http_port();
        const auto key = kie->api_key();

        // A free read, slowed: it is in hand when the stop begins.
        std::optional<raw_response> answer;
        std::optional<error_code> answer_ec;
        raw_client reader(ioc.get_executor(), port);
        asio::co_spawn(ioc, [&]() -> asio::awaitable<void> {
            raw_response r;
            const raw_request credits{.target = "/api/v1/chat/credit", .bearer = key};
            answer_ec = co_await reader.try_request(credits, r);
            answer = std::move(r);
        }, asio::detached);
        co_await sleep_for(150ms);
        BOOST_TEST_REQUIRE(kie->snapshot().active_operations >= 2u);  // the HTTP accept loop and the request

        std::optional<error_code> stopped;
        kie->async_stop([&](error_code ec) {
            stopped = ec;
            kie.reset();
        });
        co_await sleep_for(100ms);
        BOOST_TEST(!stopped.has_value());  // the slowed answer is still in hand
        BOOST_TEST_REQUIRE(co_await soon([&] { return stopped.has_value(); }));
        BOOST_TEST(!*stopped, stopped->message());
        // The request in hand was answered in full, not cut.
        BOOST_TEST_REQUIRE(co_await soon([&] { return answer_ec.has_value(); }));
        BOOST_TEST(!*answer_ec, answer_ec->message());
        BOOST_TEST(answer->status == 200u);
        BOOST_TEST(answer->code() == 200);
        co_await sleep_for(100ms);  // the io_context goes on running with the emulator gone
    });
}

BOOST_AUTO_TEST_CASE(a_hub_stop_ends_pending_waits_and_completes_before_the_hub_is_destroyed)
{
    run_bounded([](asio::io_context& ioc) -> asio::awaitable<void> {
        auto hub = std::make_unique<in_process_callback_hub>(ioc.get_executor());
        std::optional<error_code> waited;
        hub->async_wait(callback_kind::separation, "pending", [&](error_code ec, callback_message) { waited = ec; });
        std::optional<error_code> stopped;
        hub->async_stop([&](error_code ec) {
            stopped = ec;
            hub.reset();
        });
        BOOST_TEST_REQUIRE(co_await soon([&] { return stopped.has_value() && waited.has_value(); }));
        BOOST_TEST(!*stopped, stopped->message());
        BOOST_TEST((*waited == client_errc::shut_down), waited->message());
        co_await sleep_for(50ms);
    });
}

BOOST_AUTO_TEST_SUITE_END()
