// kiemidi::emulator::server callbacks: delivery over HTTP and HTTPS, dialects, webhook signatures
// (the library's, whose known answer is checked in tests/unit/crypto.cpp), drop/duplicate/delay/
// reorder faults, retries, the loopback-only rule, and stop() cancelling callbacks in flight.
#include "common/emulator_fixture.hpp"

// White-box: the emulator's own certificate generator gives the HTTPS test receiver an identity.
#include "emulator/model.hpp"
// White-box: KIE's webhook signature as the library computes it (and the listener verifies it);
// its known-answer test is in tests/unit/crypto.cpp.
#include "crypto/crypto.hpp"

namespace asio = boost::asio;

using namespace kiemidi::test;

namespace {

asio::awaitable<std::string> submit(raw_client& cli, raw_request req)
{
    auto r = co_await cli.request(req);
    BOOST_TEST_REQUIRE(r.code() == 200);
    co_return str(r.json().at("data").at("taskId"));
}

}  // namespace

BOOST_AUTO_TEST_SUITE(emulator_callbacks)

BOOST_AUTO_TEST_CASE(callbacks_are_signed_with_the_webhook_hmac_key)
{
    run_bounded([](asio::io_context& ioc) -> asio::awaitable<void> {
        emu::emulator_options o;
        o.webhook_hmac_key = "whk-test-secret";
        callback_receiver rx(ioc.get_executor());
        emulator_under_test kie(ioc.get_executor(), o);
        auto& [srv, cli] = kie;
        const auto sep = co_await submit(cli, separation_post("a1", rx.url()));
        auto cb = co_await rx.next();
        const auto now = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
        const auto ts = cb.headers["x-webhook-timestamp"];
        BOOST_TEST_REQUIRE(!ts.empty());
        BOOST_TEST(std::abs(std::stoll(ts) - now) <= 5);
        BOOST_TEST(str(cb.json().at("data").at("task_id")) == sep);
        BOOST_TEST(cb.headers["x-webhook-signature"] == kiemidi::detail::webhook_signature("whk-test-secret", sep, ts));

        const auto midi = co_await submit(cli, post_json("/api/v1/midi/generate", midi_body(sep, rx.url())));
        auto mcb = co_await rx.next();
        BOOST_TEST(str(mcb.json().at("task_id")) == midi);
        BOOST_TEST(mcb.headers["x-webhook-signature"] ==
                   kiemidi::detail::webhook_signature("whk-test-secret", midi, mcb.headers["x-webhook-timestamp"]));
        BOOST_TEST(mcb.headers["x-webhook-signature"] != kiemidi::detail::webhook_signature("other-key", midi, mcb.headers["x-webhook-timestamp"]));
        srv.stop();
    });
}

BOOST_AUTO_TEST_CASE(unsigned_by_default)
{
    run_bounded([](asio::io_context& ioc) -> asio::awaitable<void> {
        callback_receiver rx(ioc.get_executor());
        emulator_under_test kie(ioc.get_executor());
        auto& [srv, cli] = kie;
        (void)co_await submit(cli, separation_post("a1", rx.url()));
        auto cb = co_await rx.next();
        BOOST_TEST(cb.headers.count("x-webhook-signature") == 0u);
        BOOST_TEST(cb.headers.count("x-webhook-timestamp") == 0u);
        srv.stop();
    });
}

BOOST_AUTO_TEST_CASE(chinese_dialect_uses_vocal_removal_info_and_data_task_id)
{
    run_bounded([](asio::io_context& ioc) -> asio::awaitable<void> {
        emu::emulator_options o;
        o.dialect = emu::callback_dialect::chinese;
        callback_receiver rx(ioc.get_executor());
        emulator_under_test kie(ioc.get_executor(), o);
        auto& [srv, cli] = kie;
        const auto sep = co_await submit(cli, separation_post("a1", rx.url(), "split_stem"));
        auto cb = (co_await rx.next()).json();
        BOOST_TEST(str(cb.at("msg")) == "vocal Removal generated successfully.");
        BOOST_TEST(str(cb.at("data").at("task_id")) == sep);
        const auto& info = cb.at("data").at("vocal_removal_info").as_object();
        BOOST_TEST(info.contains("drums_url"));
        BOOST_TEST(info.contains("bass_url"));
        BOOST_TEST(!info.contains("instrumental_url"));
        BOOST_TEST(!cb.at("data").as_object().contains("vocal_separation_info"));

        const auto midi = co_await submit(cli, post_json("/api/v1/midi/generate", midi_body(sep, rx.url())));
        auto mcb = (co_await rx.next()).json();
        BOOST_TEST(!mcb.as_object().contains("task_id"));
        BOOST_TEST(str(mcb.at("data").at("taskId")) == midi);
        BOOST_TEST(str(mcb.at("data").at("state")) == "complete");
        BOOST_TEST(mcb.at("data").at("instruments").is_array());
        srv.stop();
    });
}

BOOST_AUTO_TEST_CASE(mixed_dialect_uses_both_spellings)
{
    run_bounded([](asio::io_context& ioc) -> asio::awaitable<void> {
        emu::emulator_options o;
        o.dialect = emu::callback_dialect::mixed;
        callback_receiver rx(ioc.get_executor());
        emulator_under_test kie(ioc.get_executor(), o);
        auto& [srv, cli] = kie;
        std::size_t english = 0, chinese = 0;
        for (int i = 0; i < 12; ++i)
        {
            (void)co_await submit(cli, separation_post("a" + std::to_string(i), rx.url()));
            auto cb = (co_await rx.next()).json();
            if (cb.at("data").as_object().contains("vocal_separation_info")) ++english;
            if (cb.at("data").as_object().contains("vocal_removal_info")) ++chinese;
        }
        BOOST_TEST(english + chinese == 12u);
        BOOST_TEST(english > 0u);
        BOOST_TEST(chinese > 0u);
        srv.stop();
    });
}

BOOST_AUTO_TEST_CASE(dropped_callbacks_are_counted_and_never_sent)
{
    run_bounded([](asio::io_context& ioc) -> asio::awaitable<void> {
        emu::emulator_options o;
        o.faults.callback_drop_rate = 1;
        callback_receiver rx(ioc.get_executor());
        emulator_under_test kie(ioc.get_executor(), o);
        auto& [srv, cli] = kie;
        const auto sep = co_await submit(cli, separation_post("a1", rx.url()));
        (void)co_await poll_until(cli, get_path("/api/v1/vocal-removal/record-info?taskId=" + sep),
                                  [](const raw_response& r) { return sep_flag(r) == "SUCCESS"; });
        auto c = srv.snapshot();
        BOOST_TEST(c.callbacks_dropped == 1u);
        BOOST_TEST(c.callback_attempts == 0u);
        BOOST_TEST(rx.received() == 0u);
        srv.stop();
    });
}

BOOST_AUTO_TEST_CASE(duplicated_callbacks_arrive_twice)
{
    run_bounded([](asio::io_context& ioc) -> asio::awaitable<void> {
        emu::emulator_options o;
        o.faults.callback_duplicate_rate = 1;
        callback_receiver rx(ioc.get_executor());
        emulator_under_test kie(ioc.get_executor(), o);
        auto& [srv, cli] = kie;
        (void)co_await submit(cli, separation_post("a1", rx.url()));
        auto first = co_await rx.next();
        auto second = co_await rx.next();
        BOOST_TEST(first.body == second.body);
        auto c = co_await wait_counters(srv, [](const emu::counters& x) { return x.callbacks_sent == 2; });
        BOOST_TEST(c.callbacks_duplicated == 1u);
        srv.stop();
    });
}

BOOST_AUTO_TEST_CASE(delayed_callbacks_arrive_late)
{
    run_bounded([](asio::io_context& ioc) -> asio::awaitable<void> {
        emu::emulator_options o;
        o.faults.callback_delay_rate = 1;
        o.faults.callback_delay = 400ms;
        callback_receiver rx(ioc.get_executor());
        emulator_under_test kie(ioc.get_executor(), o);
        auto& [srv, cli] = kie;
        const auto t0 = std::chrono::steady_clock::now();
        (void)co_await submit(cli, separation_post("a1", rx.url()));
        (void)co_await rx.next();
        BOOST_TEST((std::chrono::steady_clock::now() - t0 >= 400ms));
        BOOST_TEST(srv.snapshot().callbacks_delayed == 1u);
        srv.stop();
    });
}

BOOST_AUTO_TEST_CASE(reordered_callback_arrives_after_the_next_one)
{
    run_bounded([](asio::io_context& ioc) -> asio::awaitable<void> {
        emu::emulator_options o;
        o.faults.callback_reorder_rate = 1;
        o.faults.callback_delay = 10s;  // the held callback waits this long for a successor at most
        callback_receiver rx(ioc.get_executor());
        emulator_under_test kie(ioc.get_executor(), o);
        auto& [srv, cli] = kie;
        const auto first = co_await submit(cli, separation_post("a1", rx.url()));
        (void)co_await poll_until(cli, get_path("/api/v1/vocal-removal/record-info?taskId=" + first),
                                  [](const raw_response& r) { return sep_flag(r) == "SUCCESS"; });
        auto f = srv.faults();
        f.callback_reorder_rate = 0;
        srv.set_faults(f);
        const auto second = co_await submit(cli, separation_post("a2", rx.url()));
        auto a = (co_await rx.next()).json();
        auto b = (co_await rx.next()).json();
        BOOST_TEST(str(a.at("data").at("task_id")) == second);
        BOOST_TEST(str(b.at("data").at("task_id")) == first);
        BOOST_TEST(srv.snapshot().callbacks_reordered == 1u);
        srv.stop();
    });
}

BOOST_AUTO_TEST_CASE(failed_deliveries_are_retried_three_times_then_counted)
{
    run_bounded([](asio::io_context& ioc) -> asio::awaitable<void> {
        emu::emulator_options o;
        o.callback_retry_delay = 10ms;
        emu::server srv(ioc.get_executor(), o);
        srv.start();
        callback_receiver rx(ioc.get_executor());
        rx.set_status(500);
        raw_client cli(ioc.get_executor(), srv.http_port());
        (void)co_await submit(cli, separation_post("a1", rx.url()));
        for (int i = 0; i < 4; ++i) (void)co_await rx.next();
        auto c = co_await wait_counters(srv, [](const emu::counters& x) { return x.callbacks_failed == 1; });
        BOOST_TEST(c.callback_attempts == 4u);
        BOOST_TEST(c.callbacks_sent == 0u);
        BOOST_TEST(rx.received() == 4u);
        srv.stop();
    });
}

BOOST_AUTO_TEST_CASE(callbacks_to_other_hosts_are_never_sent)
{
    run_bounded([](asio::io_context& ioc) -> asio::awaitable<void> {
        emulator_under_test kie(ioc.get_executor());
        auto& [srv, cli] = kie;
        std::vector<std::string> ids;
        for (const char* url : {"http://10.1.2.3:8080/cb", "https://example.com/cb", "http://192.168.0.1/cb"})
            ids.push_back(co_await submit(cli, separation_post("a" + std::to_string(ids.size()), url)));
        for (const auto& id : ids)
            (void)co_await poll_until(cli, get_path("/api/v1/vocal-removal/record-info?taskId=" + id),
                                      [](const raw_response& r) { return sep_flag(r) == "SUCCESS"; });
        auto c = srv.snapshot();
        BOOST_TEST(c.callbacks_skipped_non_loopback == 3u);
        BOOST_TEST(c.callback_attempts == 0u);
        srv.stop();
    });
}

BOOST_AUTO_TEST_CASE(https_callbacks_are_delivered_and_optionally_verified)
{
    run_bounded([](asio::io_context& ioc) -> asio::awaitable<void> {
        const auto id = emu::detail::make_tls_identity({"localhost", "127.0.0.1"});
        callback_receiver rx(ioc.get_executor(), callback_receiver::tls_files{id.server_cert_pem, id.server_key_pem});
        BOOST_TEST(rx.url().starts_with("https://127.0.0.1:"));
        {
            emu::server srv(ioc.get_executor());  // default: no verification (local test listeners)
            srv.start();
            raw_client cli(ioc.get_executor(), srv.http_port());
            (void)co_await submit(cli, separation_post("a1", rx.url()));
            auto cb = co_await rx.next();
            BOOST_TEST(cb.json().at("code").as_int64() == 200);
            srv.stop();
        }
        {
            emu::emulator_options o;
            o.callback_tls_verify = true;
            o.callback_ca_pem = id.ca_cert_pem;
            emulator_under_test kie(ioc.get_executor(), o);
            auto& [srv, cli] = kie;
            (void)co_await submit(cli, separation_post("a1", "https://localhost:" + std::to_string(rx.port()) + "/cb"));
            auto cb = co_await rx.next();
            BOOST_TEST(cb.target == "/cb");
            co_await wait_counters(srv, [](const emu::counters& x) { return x.callbacks_sent == 1; });
            srv.stop();
        }
        {
            const auto other = emu::detail::make_tls_identity({"localhost"});
            emu::emulator_options o;
            o.callback_tls_verify = true;
            o.callback_ca_pem = other.ca_cert_pem;  // not the receiver's CA
            o.callback_retry_delay = 5ms;
            emulator_under_test kie(ioc.get_executor(), o);
            auto& [srv, cli] = kie;
            (void)co_await submit(cli, separation_post("a1", rx.url()));
            auto c = co_await wait_counters(srv, [](const emu::counters& x) { return x.callbacks_failed == 1; });
            BOOST_TEST(c.callback_attempts == 4u);
            srv.stop();
        }
        rx.stop();
    });
}

BOOST_AUTO_TEST_CASE(stop_cancels_callbacks_in_flight_and_leaves_nothing_running)
{
    run_bounded([](asio::io_context& ioc) -> asio::awaitable<void> {
        emu::server srv(ioc.get_executor());
        srv.start();
        callback_receiver rx(ioc.get_executor());
        rx.set_hang(true);  // reads callbacks, never answers: they stay in flight (15 s timeout)
        raw_client cli(ioc.get_executor(), srv.http_port());
        (void)co_await submit(cli, separation_post("a1", rx.url()));
        (void)co_await submit(cli, separation_post("a2", rx.url()));
        co_await rx.wait_hanging(2);
        BOOST_TEST(srv.snapshot().active_operations >= 4u);  // 2 acceptors, 1 connection, 2 callbacks
        srv.stop();
        auto c = co_await wait_counters(srv, [](const emu::counters& x) { return x.active_operations == 0; });
        BOOST_TEST(c.open_connections == 0u);
        BOOST_TEST(c.callbacks_sent == 0u);
        BOOST_TEST(c.callbacks_failed == 0u);
        // the server no longer accepts connections
        raw_client late(ioc.get_executor(), srv.http_port());
        raw_response out;
        BOOST_TEST(static_cast<bool>(co_await late.try_request(get_path("/api/v1/chat/credit"), out)));
        rx.stop();
    });
}

BOOST_AUTO_TEST_SUITE_END()
