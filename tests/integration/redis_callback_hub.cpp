// redis_callback_hub: two hubs (two "instances") sharing one real redis-server on 127.0.0.1.
#include <kiemidi/redis_callback_hub.hpp>

#include "redis/connection.hpp"

#include "common/redis_server.hpp"
#include "common/run_bounded.hpp"
#include "nothrow_awaitable.hpp"

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <functional>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace asio = boost::asio;
using namespace kiemidi;
using namespace std::chrono_literals;
using kiemidi::test::run_bounded;

namespace {

using kiemidi::test::eventually;
using kiemidi::test::sleep_for;


redis_callback_hub_options hub_options(const test::redis_server& srv, std::string prefix = "kiemidi-test:")
{
    redis_callback_hub_options o;
    o.redis.host = srv.host();
    o.redis.port = srv.port();
    o.redis.reconnect_min_delay = 20ms;
    o.redis.reconnect_max_delay = 200ms;
    o.key_prefix = std::move(prefix);
    return o;
}

callback_message make_msg(std::string id, callback_kind kind = callback_kind::midi, std::string ref = "nonce-1")
{
    callback_message m;
    m.kind = kind;
    m.task_id = std::move(id);
    m.body = R"({"code":200,"msg":"success","data":{"task_id":")" + m.task_id + R"("}})";
    m.reference = std::move(ref);
    // Recent (callbacks older than the buffer TTL are not shared any more), in whole milliseconds
    // (the stored form's precision).
    m.received_at = std::chrono::time_point_cast<std::chrono::milliseconds>(std::chrono::system_clock::now());
    return m;
}

using hub = redis_callback_hub;

/// Waits on `h` for the callback of `kind` for task `id`, which must come without an error.
asio::awaitable<callback_message> expect_callback(hub& h, callback_kind kind, const char* id)
{
    std::string task_id = id;  // named: g++ 12 mishandles temporaries inside co_await
    auto [ec, m] = co_await h.async_wait(kind, std::move(task_id), use_nothrow_awaitable);
    BOOST_TEST(!ec, ec.message());
    co_return m;
}

/// Runs `body(ioc, srv, a, b)` (a coroutine): two hubs, two "instances", both connected to one
/// fresh redis-server `srv`. `tune_a` / `tune_b` adjust each instance's options.
template <class Body>
void with_two_instances(Body body, std::chrono::seconds limit = 10s,
                        const std::function<void(redis_callback_hub_options&)>& tune_a = {},
                        const std::function<void(redis_callback_hub_options&)>& tune_b = {})
{
    test::redis_server srv;
    run_bounded(
        [&](asio::io_context& ioc) -> asio::awaitable<void> {
            auto a_options = hub_options(srv), b_options = hub_options(srv);
            if (tune_a) tune_a(a_options);
            if (tune_b) tune_b(b_options);
            redis_callback_hub a(ioc.get_executor(), a_options);
            redis_callback_hub b(ioc.get_executor(), b_options);
            auto [e1] = co_await a.async_connect(use_nothrow_awaitable);
            auto [e2] = co_await b.async_connect(use_nothrow_awaitable);
            BOOST_TEST_REQUIRE(!e1, e1.message());
            BOOST_TEST_REQUIRE(!e2, e2.message());
            co_await body(ioc, srv, a, b);
        },
        limit);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(redis_callback_hub_tests, *boost::unit_test::label("redis"))

BOOST_AUTO_TEST_CASE(serialized_callback_keeps_every_field)
{
    auto m = make_msg("t-1", callback_kind::separation, "ref-42");
    m.body = std::string("{\"x\":\"\\u0000\xc3\xa9\"}");
    callback_message back;
    BOOST_TEST_REQUIRE(parse_callback(serialize_callback(m), back));
    BOOST_TEST((back.kind == m.kind));
    BOOST_TEST(back.task_id == m.task_id);
    BOOST_TEST(back.body == m.body);
    BOOST_TEST(back.reference == "ref-42");
    BOOST_TEST((back.received_at == m.received_at));
    BOOST_TEST(!parse_callback("not json", back));
    BOOST_TEST(!parse_callback(R"({"v":2,"kind":"midi","task_id":"a","body":""})", back));
    BOOST_TEST(!parse_callback(R"({"v":1,"kind":"audio","task_id":"a","body":""})", back));
}

BOOST_AUTO_TEST_CASE(callback_received_by_one_instance_reaches_the_waiter_on_another)
{
    with_two_instances([](asio::io_context&, test::redis_server&, hub& a, hub& b) -> asio::awaitable<void> {
        std::optional<callback_message> got;
        error_code got_ec;
        a.async_wait(callback_kind::midi, "task-x", [&](error_code ec, callback_message m) {
            got_ec = ec;
            got = std::move(m);
        });
        co_await eventually([&] { return a.stats().waiting == 1; });
        co_await sleep_for(50ms);  // let a's lookup answer "nothing yet"
        BOOST_TEST((b.deliver(make_msg("task-x")) == deliver_result::buffered));
        co_await eventually([&] { return got.has_value(); });
        BOOST_TEST(!got_ec);
        BOOST_TEST(got->task_id == "task-x");
        BOOST_TEST(got->reference == "nonce-1");
        BOOST_TEST(got->body == make_msg("task-x").body);
        BOOST_TEST(b.redis_stats().published_total == 1u);
        BOOST_TEST(a.redis_stats().remote_delivered_total == 1u);
        BOOST_TEST(b.stats().buffered == 0u);  // b kept nothing locally: Redis has it
    });
}

BOOST_AUTO_TEST_CASE(callback_that_arrived_before_any_wait_is_found_by_a_later_wait_elsewhere)
{
    test::redis_server srv;
    run_bounded([&](asio::io_context& ioc) -> asio::awaitable<void> {
        redis_callback_hub b(ioc.get_executor(), hub_options(srv));
        co_await b.async_connect(use_nothrow_awaitable);
        b.deliver(make_msg("early"));
        co_await eventually([&] { return b.redis_stats().stored_total == 1; });

        // A instance that starts only now (e.g. the one that restarted) still finds it.
        redis_callback_hub a(ioc.get_executor(), hub_options(srv));
        co_await a.async_connect(use_nothrow_awaitable);
        const auto m = co_await expect_callback(a, callback_kind::midi, "early");
        BOOST_TEST(m.task_id == "early");
        BOOST_TEST(m.reference == "nonce-1");
    }, 10s);
}

BOOST_AUTO_TEST_CASE(wait_by_reference_finds_a_callback_another_instance_received_earlier)
{
    with_two_instances([](asio::io_context&, test::redis_server&, hub& a, hub& b) -> asio::awaitable<void> {
        // The answer to a paid POST was lost: only the reference sent with it is known. Its
        // callback landed on the other instance before anyone asked.
        b.deliver(make_msg("task-of-lost-answer", callback_kind::separation, "ref-lost"));
        co_await eventually([&] { return b.redis_stats().stored_total == 1; });
        std::string id_ref_lost = "ref-lost";
        auto [ec, m] = co_await a.async_wait_reference(std::move(id_ref_lost), use_nothrow_awaitable);
        BOOST_TEST(!ec, ec.message());
        BOOST_TEST(m.task_id == "task-of-lost-answer");
        BOOST_TEST(m.reference == "ref-lost");

        // A reference wait that starts first is served by the channel.
        std::optional<callback_message> later;
        a.async_wait_reference("ref-later", [&](error_code e, callback_message msg) {
            if (!e) later = std::move(msg);
        });
        co_await eventually([&] { return a.stats().waiting_references == 1; });
        co_await sleep_for(50ms);
        b.deliver(make_msg("task-later", callback_kind::midi, "ref-later"));
        co_await eventually([&] { return later.has_value(); });
        BOOST_TEST(later->task_id == "task-later");
    });
}

BOOST_AUTO_TEST_CASE(waits_find_callbacks_published_while_their_instance_was_disconnected)
{
    // The publish reaches only connected subscribers: a wait (by task id or by reference) whose
    // instance was away when the callback crossed finds it by looking up its key on reconnecting.
    const auto slow_a = [](redis_callback_hub_options& o) {
        o.redis.reconnect_min_delay = 1500ms;  // a stays away while b delivers
        o.redis.reconnect_max_delay = 1500ms;
    };
    with_two_instances([](asio::io_context& ioc, test::redis_server& srv, hub& a, hub& b) -> asio::awaitable<void> {
        std::optional<callback_message> by_id, by_ref;
        a.async_wait(callback_kind::midi, "task-away", [&](error_code e, callback_message m) {
            if (!e) by_id = std::move(m);
        });
        a.async_wait_reference("ref-away", [&](error_code e, callback_message m) {
            if (!e) by_ref = std::move(m);
        });
        co_await eventually([&] { return a.stats().waiting == 1 && a.stats().waiting_references == 1; });
        co_await eventually([&] { return a.redis_stats().lookups_total >= 2; });
        co_await sleep_for(50ms);  // the initial lookups found nothing

        // Every client connection is dropped by the server; b is back within ~20 ms, a after 1.5 s.
        redis::connection admin(ioc.get_executor(), hub_options(srv).redis);
        co_await admin.async_connect(use_nothrow_awaitable);
        for (const char* type : {"pubsub", "normal"})
        {
            std::vector<std::string> kill{"CLIENT", "KILL", "TYPE", type, "SKIPME", "yes"};
            auto [kec, kr] = co_await admin.async_command(std::move(kill), use_nothrow_awaitable);
            BOOST_TEST_REQUIRE(!kec, kec.message());
        }
        co_await eventually([&] { return !a.redis_stats().connected; });
        co_await eventually([&] { return b.redis_stats().connected; });
        co_await sleep_for(50ms);  // b's subscriber too
        BOOST_TEST_REQUIRE(!a.redis_stats().connected);
        BOOST_TEST((b.deliver(make_msg("task-away")) == deliver_result::buffered));
        BOOST_TEST((b.deliver(make_msg("task-of-ref", callback_kind::separation, "ref-away")) == deliver_result::buffered));
        co_await eventually([&] { return b.redis_stats().stored_total == 2; });
        co_await sleep_for(100ms);
        BOOST_TEST(!by_id.has_value());
        BOOST_TEST(!by_ref.has_value());

        co_await eventually([&] { return by_id.has_value() && by_ref.has_value(); });
        BOOST_TEST(by_id->task_id == "task-away");
        BOOST_TEST(by_ref->task_id == "task-of-ref");
        BOOST_TEST(by_ref->reference == "ref-away");
        admin.close();
    }, 15s, slow_a);
}

BOOST_AUTO_TEST_CASE(repeated_callback_is_stored_once_and_delivered_once)
{
    with_two_instances([](asio::io_context&, test::redis_server&, hub& a, hub& b) -> asio::awaitable<void> {
        int completions = 0;
        a.async_wait(callback_kind::midi, "dup", [&](error_code, callback_message) { ++completions; });
        co_await eventually([&] { return a.stats().waiting == 1; });
        b.deliver(make_msg("dup"));
        b.deliver(make_msg("dup"));
        a.deliver(make_msg("dup"));
        co_await eventually([&] {
            return a.redis_stats().stored_total + b.redis_stats().stored_total +
                       a.redis_stats().already_stored_total + b.redis_stats().already_stored_total ==
                   3;
        });
        co_await sleep_for(50ms);
        BOOST_TEST(completions == 1);
        BOOST_TEST(a.redis_stats().stored_total + b.redis_stats().stored_total == 1u);
        BOOST_TEST(a.redis_stats().published_total + b.redis_stats().published_total <= 1u);
    });
}

BOOST_AUTO_TEST_CASE(key_prefixes_keep_deployments_apart)
{
    const auto prod_prefix = [](redis_callback_hub_options& o) { o.key_prefix = "prod:"; };
    const auto staging_prefix = [](redis_callback_hub_options& o) { o.key_prefix = "staging:"; };
    with_two_instances([](asio::io_context&, test::redis_server&, hub& prod, hub& staging) -> asio::awaitable<void> {
        bool staging_got = false;
        bool staging_done = false;
        staging.async_wait(callback_kind::midi, "shared-id", [&](error_code ec, callback_message) {
            staging_got = !ec;
            staging_done = true;
        });
        co_await eventually([&] { return staging.stats().waiting == 1; });
        prod.deliver(make_msg("shared-id"));
        co_await eventually([&] { return prod.redis_stats().stored_total == 1; });
        co_await sleep_for(100ms);
        BOOST_TEST(!staging_got);
        BOOST_TEST(staging.redis_stats().messages_total == 0u);
        staging.close();
        // The shut_down completion is posted: wait for it, since it writes to this frame's locals.
        co_await eventually([&] { return staging_done; });
        BOOST_TEST(!staging_got);
    }, 10s, prod_prefix, staging_prefix);
}

BOOST_AUTO_TEST_CASE(without_redis_callbacks_are_kept_locally_and_shared_once_it_is_back)
{
    with_two_instances([](asio::io_context&, test::redis_server& srv, hub& a, hub& b) -> asio::awaitable<void> {

        // A short block of the test thread; it also keeps the server tied to this thread (PDEATHSIG).
        srv.stop();
        co_await eventually([&] { return !a.redis_stats().connected && !b.redis_stats().connected; });

        // Local waits still work without Redis.
        std::optional<callback_message> local_got;
        b.async_wait(callback_kind::midi, "local", [&](error_code, callback_message m) { local_got = std::move(m); });
        co_await eventually([&] { return b.stats().waiting == 1; });
        BOOST_TEST((b.deliver(make_msg("local")) == deliver_result::delivered));
        co_await eventually([&] { return local_got.has_value(); });

        // A callback for a waiter on the other instance cannot cross now...
        std::optional<callback_message> remote_got;
        a.async_wait(callback_kind::midi, "remote", [&](error_code, callback_message m) { remote_got = std::move(m); });
        BOOST_TEST((b.deliver(make_msg("remote")) == deliver_result::buffered));
        BOOST_TEST(b.stats().buffered == 1u);
        BOOST_TEST(b.redis_stats().store_failures_total >= 1u);
        co_await sleep_for(100ms);
        BOOST_TEST(!remote_got.has_value());

        // ...and crosses once Redis is back (stored, published, and looked up again by a).
        srv.start();
        co_await eventually([&] { return remote_got.has_value(); });
        BOOST_TEST(remote_got->task_id == "remote");
        BOOST_TEST(remote_got->reference == "nonce-1");
    }, 20s);
}

BOOST_AUTO_TEST_CASE(cancelled_wait_is_removed_and_close_ends_waits_with_shut_down)
{
    test::redis_server srv;
    run_bounded([&](asio::io_context& ioc) -> asio::awaitable<void> {
        redis_callback_hub a(ioc.get_executor(), hub_options(srv));
        co_await a.async_connect(use_nothrow_awaitable);
        asio::cancellation_signal sig;
        asio::steady_timer t(ioc, 30ms);
        t.async_wait([&](error_code) { sig.emit(asio::cancellation_type::terminal); });
        auto cancellable = asio::bind_cancellation_slot(sig.slot(), use_nothrow_awaitable);
        std::string id_never = "never";
        auto [ec, m] = co_await a.async_wait(callback_kind::midi, std::move(id_never), cancellable);
        BOOST_TEST((ec == asio::error::operation_aborted));
        BOOST_TEST(a.stats().waiting == 0u);

        error_code last;
        bool done = false;
        a.async_wait(callback_kind::midi, "pending", [&](error_code e, callback_message) { last = e; done = true; });
        a.close();
        co_await eventually([&] { return done; });
        BOOST_TEST((last == client_errc::shut_down));
        std::string id_after_close = "after-close";
        auto [ec2, m2] = co_await a.async_wait(callback_kind::midi, std::move(id_after_close), use_nothrow_awaitable);
        BOOST_TEST((ec2 == client_errc::shut_down));
    }, 10s);
}

BOOST_AUTO_TEST_CASE(unreachable_redis_reports_the_failure_and_the_hub_still_works_locally)
{
    std::uint16_t port = 0;
    {
        test::redis_server srv;
        port = srv.port();
    }
    run_bounded([&](asio::io_context& ioc) -> asio::awaitable<void> {
        redis_callback_hub_options o;
        o.redis.port = port;
        o.redis.reconnect_min_delay = 20ms;
        o.redis.reconnect_max_delay = 100ms;
        redis_callback_hub a(ioc.get_executor(), o);
        auto [ec] = co_await a.async_connect(use_nothrow_awaitable);
        BOOST_TEST((ec == redis::redis_errc::connect_failed || ec == redis::redis_errc::timeout), ec.message());
        a.deliver(make_msg("solo"));
        const auto m = co_await expect_callback(a, callback_kind::midi, "solo");
        BOOST_TEST(m.reference == "nonce-1");
        BOOST_TEST(!a.redis_stats().connected);
        BOOST_TEST(a.redis_stats().commands.connect_failures_total >= 1u);
    }, 10s);
}

// KIE may give a MIDI task the id of the separation it transcribes: across instances too,
// callbacks are stored, found and recognised as repeats by kind and task id together.

BOOST_AUTO_TEST_CASE(the_same_task_id_of_two_kinds_is_stored_and_delivered_per_kind)
{
    with_two_instances([](asio::io_context&, test::redis_server&, hub& a, hub& b) -> asio::awaitable<void> {
        auto sep = make_msg("same", callback_kind::separation, "ref-sep");
        sep.body = "separation body";
        auto midi = make_msg("same", callback_kind::midi, "ref-midi");
        midi.body = "midi body";

        // The separation callback lands on b while a waits for it.
        std::optional<callback_message> got_sep, got_midi;
        a.async_wait(callback_kind::separation, "same", [&](error_code, callback_message m) { got_sep = std::move(m); });
        co_await eventually([&] { return a.stats().waiting == 1; });
        co_await sleep_for(50ms);  // let a's lookup answer "nothing yet"
        BOOST_TEST((b.deliver(sep) == deliver_result::buffered));
        co_await eventually([&] { return got_sep.has_value(); });
        BOOST_TEST(got_sep->body == "separation body");

        // a now waits for the MIDI task of the same id; KIE repeats the separation callback,
        // to b and to a: it completes nothing and is stored only once.
        a.async_wait(callback_kind::midi, "same", [&](error_code, callback_message m) { got_midi = std::move(m); });
        co_await eventually([&] { return a.stats().waiting == 1; });
        co_await sleep_for(50ms);
        b.deliver(sep);
        a.deliver(sep);
        co_await eventually([&] {
            return a.redis_stats().already_stored_total + b.redis_stats().already_stored_total == 2;
        });
        co_await sleep_for(100ms);
        BOOST_TEST(!got_midi.has_value());
        BOOST_TEST(a.stats().waiting == 1u);

        // The MIDI callback, to b: stored under its own kind and handed to a's MIDI wait.
        BOOST_TEST((b.deliver(midi) == deliver_result::buffered));
        co_await eventually([&] { return got_midi.has_value(); });
        BOOST_TEST((got_midi->kind == callback_kind::midi));
        BOOST_TEST(got_midi->body == "midi body");
        BOOST_TEST(a.redis_stats().stored_total + b.redis_stats().stored_total == 2u);
    });
}

BOOST_AUTO_TEST_CASE(callbacks_of_both_kinds_for_one_id_that_came_before_any_wait_are_each_found_later)
{
    test::redis_server srv;
    run_bounded([&](asio::io_context& ioc) -> asio::awaitable<void> {
        redis_callback_hub b(ioc.get_executor(), hub_options(srv));
        co_await b.async_connect(use_nothrow_awaitable);
        auto sep = make_msg("early-both", callback_kind::separation);
        sep.body = "separation body";
        auto midi = make_msg("early-both", callback_kind::midi);
        midi.body = "midi body";
        BOOST_TEST((b.deliver(sep) == deliver_result::buffered));
        BOOST_TEST((b.deliver(midi) == deliver_result::buffered));
        co_await eventually([&] { return b.redis_stats().stored_total == 2; });
        BOOST_TEST(b.redis_stats().already_stored_total == 0u);

        // An instance that starts only now finds each by its kind.
        redis_callback_hub a(ioc.get_executor(), hub_options(srv));
        co_await a.async_connect(use_nothrow_awaitable);
        const auto m1 = co_await expect_callback(a, callback_kind::midi, "early-both");
        BOOST_TEST(m1.body == "midi body");
        const auto m2 = co_await expect_callback(a, callback_kind::separation, "early-both");
        BOOST_TEST(m2.body == "separation body");
    }, 10s);
}

BOOST_AUTO_TEST_CASE(a_hub_stop_lets_a_store_in_flight_reach_redis_and_completes_before_the_hub_is_destroyed)
{
    test::redis_server srv;
    run_bounded([&](asio::io_context& ioc) -> asio::awaitable<void> {
        redis_callback_hub reader(ioc.get_executor(), hub_options(srv));
        auto [e0] = co_await reader.async_connect(use_nothrow_awaitable);
        BOOST_TEST_REQUIRE(!e0, e0.message());
        auto stopping = std::make_unique<redis_callback_hub>(ioc.get_executor(), hub_options(srv));
        auto [e1] = co_await stopping->async_connect(use_nothrow_awaitable);
        BOOST_TEST_REQUIRE(!e1, e1.message());
        std::optional<error_code> waited;
        stopping->async_wait(callback_kind::separation, "never", [&](error_code ec, callback_message) { waited = ec; });

        // A callback whose store is in flight when the stop begins.
        BOOST_TEST((stopping->deliver(make_msg("stored-at-stop")) == deliver_result::buffered));
        std::optional<error_code> stopped;
        std::uint64_t stored_at_completion = 0;
        stopping->async_stop([&](error_code ec) {
            stopped = ec;
            stored_at_completion = stopping->redis_stats().stored_total;
            stopping.reset();  // nothing of the hub may run after this
        });
        co_await eventually([&] { return stopped.has_value(); });
        BOOST_TEST_REQUIRE(stopped.has_value());
        BOOST_TEST(!*stopped, stopped->message());
        BOOST_TEST(stored_at_completion == 1u);  // the store finished before the stop completed
        BOOST_TEST_REQUIRE(waited.has_value());
        BOOST_TEST((*waited == client_errc::shut_down), waited->message());
        co_await sleep_for(100ms);  // the io_context goes on running with the hub gone

        // Another instance finds the callback in Redis.
        auto m = co_await expect_callback(reader, callback_kind::midi, "stored-at-stop");
        BOOST_TEST(m.task_id == "stored-at-stop");
    });
}

BOOST_AUTO_TEST_SUITE_END()
