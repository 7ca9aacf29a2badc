// redis::connection against a real redis-server on 127.0.0.1 (started and stopped by the test):
// replies of every type, error replies, pub/sub, timeouts, cancellation, reconnection.
#include "redis/connection.hpp"

#include "common/redis_server.hpp"
#include "common/run_bounded.hpp"
#include "nothrow_awaitable.hpp"

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/test/unit_test.hpp>

#include <string>
#include <tuple>
#include <vector>

namespace asio = boost::asio;
using namespace kiemidi;
using namespace std::chrono_literals;
using kiemidi::test::run_bounded;
namespace rd = kiemidi::redis;

namespace {

using kiemidi::test::eventually;
using kiemidi::test::sleep_for;


rd::connection_options options_for(const test::redis_server& srv)
{
    rd::connection_options o;
    o.host = srv.host();
    o.port = srv.port();
    o.reconnect_min_delay = 20ms;
    o.reconnect_max_delay = 200ms;
    return o;
}

// Sends one command. Arguments are built here, as named locals: g++ 12 mishandles braced
// temporaries inside co_await expressions.
template <class... Args>
asio::awaitable<std::tuple<error_code, rd::reply>> cmd(rd::connection& c, const Args&... a)
{
    std::vector<std::string> args{std::string(a)...};
    auto result = co_await c.async_command(std::move(args), use_nothrow_awaitable);
    co_return result;
}

template <class... Args>
asio::awaitable<std::tuple<error_code, rd::reply>> cmd_diag(rd::connection& c, diagnostics& diag, const Args&... a)
{
    std::vector<std::string> args{std::string(a)...};
    auto result = co_await c.async_command(std::move(args), diag, use_nothrow_awaitable);
    co_return result;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(redis_connection, *boost::unit_test::label("redis"))

BOOST_AUTO_TEST_CASE(commands_return_owned_replies_of_every_type)
{
    test::redis_server srv;
    run_bounded([&](asio::io_context& ioc) -> asio::awaitable<void> {
        rd::connection conn(ioc.get_executor(), options_for(srv));
        diagnostics diag;
        auto [cec] = co_await conn.async_connect(diag, use_nothrow_awaitable);
        BOOST_TEST_REQUIRE(!cec, cec.message() << " " << diag.to_string());
        BOOST_TEST(conn.is_connected());

        std::string binary("a\0b\r\nc", 6);
        std::vector<std::string> set{"SET", "k", binary};
        auto [e1, r1] = co_await conn.async_command(std::move(set), use_nothrow_awaitable);
        BOOST_TEST(!e1);
        BOOST_TEST((r1.type == rd::reply_type::status));
        BOOST_TEST(r1.str == "OK");

        auto [e2, r2] = co_await cmd(conn, "GET", "k");
        BOOST_TEST(!e2);
        BOOST_TEST((r2.type == rd::reply_type::string));
        BOOST_TEST(r2.str == binary);

        auto [e3, r3] = co_await cmd(conn, "GET", "missing");
        BOOST_TEST(!e3);
        BOOST_TEST(r3.is_nil());

        auto [e4, r4] = co_await cmd(conn, "INCRBY", "n", "41");
        BOOST_TEST(!e4);
        BOOST_TEST((r4.type == rd::reply_type::integer));
        BOOST_TEST(r4.integer == 41);

        auto [e5, r5] = co_await cmd(conn, "MGET", "k", "missing");
        BOOST_TEST(!e5);
        BOOST_TEST_REQUIRE((r5.type == rd::reply_type::array));
        BOOST_TEST_REQUIRE(r5.elements.size() == 2u);
        BOOST_TEST(r5.elements[0].str == binary);
        BOOST_TEST(r5.elements[1].is_nil());

        // SET NX on an existing key: nil, which is how callers tell "already there".
        auto [e6, r6] = co_await cmd(conn, "SET", "k", "other", "NX", "PX", "60000");
        BOOST_TEST(!e6);
        BOOST_TEST(r6.is_nil());

        auto st = conn.stats();
        BOOST_TEST(st.connected);
        BOOST_TEST(st.connects_total == 1u);
        BOOST_TEST(st.commands_total >= 6u);
    }, 10s);
}

BOOST_AUTO_TEST_CASE(error_reply_is_server_error_with_redis_message_in_diagnostics)
{
    test::redis_server srv;
    run_bounded([&](asio::io_context& ioc) -> asio::awaitable<void> {
        rd::connection conn(ioc.get_executor(), options_for(srv));
        co_await conn.async_connect(use_nothrow_awaitable);
        diagnostics diag;
        auto [ec, r] = co_await cmd_diag(conn, diag, "NOSUCHCOMMAND", "x");
        BOOST_TEST((ec == rd::redis_errc::server_error));
        BOOST_TEST((r.type == rd::reply_type::error));
        BOOST_TEST(diag.server_message().find("unknown command") != std::string::npos, diag.to_string());
        BOOST_TEST(diag.endpoint() == "redis NOSUCHCOMMAND");

        std::vector<std::string> nothing;
        auto [ec2, r2] = co_await conn.async_command(std::move(nothing), use_nothrow_awaitable);
        BOOST_TEST((ec2 == rd::redis_errc::invalid_argument));
        // The connection is still usable after both.
        auto [ec3, r3] = co_await cmd(conn, "PING");
        BOOST_TEST(!ec3);
        BOOST_TEST(r3.str == "PONG");
    }, 10s);
}

BOOST_AUTO_TEST_CASE(many_concurrent_commands_each_get_their_own_reply)
{
    test::redis_server srv;
    run_bounded([&](asio::io_context& ioc) -> asio::awaitable<void> {
        rd::connection conn(ioc.get_executor(), options_for(srv));
        co_await conn.async_connect(use_nothrow_awaitable);
        constexpr int n = 500;
        int ok = 0;
        int finished = 0;
        for (int i = 0; i < n; ++i)
            asio::co_spawn(ioc, [&, i]() -> asio::awaitable<void> {
                const std::string key = "key" + std::to_string(i);
                const std::string value = "value" + std::to_string(i);
                co_await cmd(conn, "SET", key, value);
                auto [ec, r] = co_await cmd(conn, "GET", key);
                if (!ec && r.str == value) ++ok;
                ++finished;
            }, asio::detached);
        co_await eventually([&] { return finished == n; });
        BOOST_TEST(ok == n);
    }, 20s);
}

BOOST_AUTO_TEST_CASE(subscriber_receives_published_messages)
{
    test::redis_server srv;
    run_bounded([&](asio::io_context& ioc) -> asio::awaitable<void> {
        rd::connection pub(ioc.get_executor(), options_for(srv));
        rd::connection sub(ioc.get_executor(), options_for(srv));
        std::vector<std::pair<std::string, std::string>> got;
        sub.set_message_handler([&](const std::string& ch, const std::string& payload) { got.emplace_back(ch, payload); });
        std::vector<std::string> channels{"chan-a", "chan-b"};
        auto [sec] = co_await sub.async_subscribe(std::move(channels), use_nothrow_awaitable);
        BOOST_TEST_REQUIRE(!sec, sec.message());
        BOOST_TEST(sub.is_connected());
        co_await pub.async_connect(use_nothrow_awaitable);
        const std::string binary("bin\0ary", 7);
        auto [e1, r1] = co_await cmd(pub, "PUBLISH", "chan-a", "hello");
        BOOST_TEST(!e1);
        BOOST_TEST(r1.integer == 1);
        co_await cmd(pub, "PUBLISH", "chan-b", binary);
        co_await cmd(pub, "PUBLISH", "chan-c", "nobody listens");
        co_await eventually([&] { return got.size() >= 2; });
        BOOST_TEST_REQUIRE(got.size() == 2u);
        BOOST_TEST(got[0].first == "chan-a");
        BOOST_TEST(got[0].second == "hello");
        BOOST_TEST(got[1].first == "chan-b");
        BOOST_TEST(got[1].second == binary);

        // Redis accepts no ordinary command on a subscriber connection; we say so up front.
        auto [e2, r2] = co_await cmd(sub, "GET", "x");
        BOOST_TEST((e2 == rd::redis_errc::subscribed));
        BOOST_TEST(sub.stats().messages_total == 2u);
    }, 10s);
}

BOOST_AUTO_TEST_CASE(commands_fail_fast_while_redis_is_down_and_work_again_after_restart)
{
    test::redis_server srv;
    run_bounded([&](asio::io_context& ioc) -> asio::awaitable<void> {
        rd::connection conn(ioc.get_executor(), options_for(srv));
        rd::connection sub(ioc.get_executor(), options_for(srv));
        std::vector<bool> sub_states;
        std::vector<std::string> got;
        sub.set_state_handler([&](bool up) { sub_states.push_back(up); });
        sub.set_message_handler([&](const std::string&, const std::string& p) { got.push_back(p); });
        co_await conn.async_connect(use_nothrow_awaitable);
        std::vector<std::string> channels{"events"};
        co_await sub.async_subscribe(std::move(channels), use_nothrow_awaitable);

        srv.stop();
        co_await eventually([&] { return !conn.is_connected() && !sub.is_connected(); });
        diagnostics diag;
        auto [ec, r] = co_await cmd_diag(conn, diag, "PING");
        BOOST_TEST((ec == rd::redis_errc::not_connected || ec == rd::redis_errc::connection_lost), ec.message());

        srv.start();
        co_await eventually([&] { return conn.is_connected() && sub.is_connected(); });
        auto [ec2, r2] = co_await cmd(conn, "PUBLISH", "events", "after restart");
        BOOST_TEST(!ec2);
        BOOST_TEST(r2.integer == 1);  // the subscription was renewed by itself
        co_await eventually([&] { return !got.empty(); });
        BOOST_TEST(got.front() == "after restart");
        BOOST_TEST(conn.stats().disconnects_total == 1u);
        BOOST_TEST(conn.stats().connects_total == 2u);
        BOOST_TEST_REQUIRE(sub_states.size() >= 3u);
        BOOST_TEST(sub_states[0] == true);
        BOOST_TEST(sub_states[1] == false);
        BOOST_TEST(sub_states.back() == true);
    }, 20s);
}

BOOST_AUTO_TEST_CASE(connect_to_a_closed_port_fails_with_diagnostics)
{
    std::uint16_t port = 0;
    {
        test::redis_server srv;  // borrow a free port, then free it again
        port = srv.port();
    }
    run_bounded([&](asio::io_context& ioc) -> asio::awaitable<void> {
        rd::connection_options o;
        o.port = port;
        o.reconnect = false;
        rd::connection conn(ioc.get_executor(), o);
        diagnostics diag;
        auto [ec] = co_await conn.async_connect(diag, use_nothrow_awaitable);
        BOOST_TEST((ec == rd::redis_errc::connect_failed), ec.message());
        BOOST_TEST(!diag.client_message().empty());
        BOOST_TEST(conn.stats().connect_failures_total == 1u);
        auto [ec2, r] = co_await cmd(conn, "PING");
        BOOST_TEST((ec2 == rd::redis_errc::not_connected));
    }, 10s);
}

BOOST_AUTO_TEST_CASE(unanswered_command_times_out_and_cancelled_command_completes_aborted)
{
    test::redis_server srv;
    run_bounded([&](asio::io_context& ioc) -> asio::awaitable<void> {
        auto o = options_for(srv);
        o.command_timeout = 200ms;
        rd::connection conn(ioc.get_executor(), o);
        co_await conn.async_connect(use_nothrow_awaitable);
        srv.pause();  // the connection stays open, nothing is answered
        auto [ec, r] = co_await cmd(conn, "PING");
        BOOST_TEST((ec == rd::redis_errc::timeout), ec.message());

        asio::cancellation_signal sig;
        asio::steady_timer t(ioc, 20ms);
        t.async_wait([&](error_code) { sig.emit(asio::cancellation_type::terminal); });
        std::vector<std::string> ping{"PING"};
        auto cancellable = asio::bind_cancellation_slot(sig.slot(), use_nothrow_awaitable);
        auto [ec2, r2] = co_await conn.async_command(std::move(ping), cancellable);
        BOOST_TEST((ec2 == asio::error::operation_aborted), ec2.message());
        srv.resume();

        // The late answers are dropped; the next command gets its own reply.
        auto [ec3, r3] = co_await cmd(conn, "ECHO", "mine");
        BOOST_TEST(!ec3);
        BOOST_TEST(r3.str == "mine");
    }, 10s);
}

BOOST_AUTO_TEST_CASE(close_completes_pending_operations_with_closed)
{
    test::redis_server srv;
    run_bounded([&](asio::io_context& ioc) -> asio::awaitable<void> {
        auto o = options_for(srv);
        o.command_timeout = 0ms;
        auto conn = std::make_unique<rd::connection>(ioc.get_executor(), o);
        co_await conn->async_connect(use_nothrow_awaitable);
        srv.pause();
        error_code got;
        bool done = false;
        conn->async_command({"PING"}, [&](error_code ec, rd::reply) { got = ec; done = true; });
        co_await sleep_for(20ms);
        conn.reset();  // the destructor closes
        co_await eventually([&] { return done; });
        BOOST_TEST((got == rd::redis_errc::closed), got.message());
        srv.resume();
    }, 10s);
}

BOOST_AUTO_TEST_SUITE_END()
