// kiemidi::emulator::server under concurrency: many keep-alive connections and pipelines at once,
// with the server on a multi-threaded executor (its state must stay consistent).
#include "common/emulator_fixture.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/thread_pool.hpp>

#include <set>

namespace asio = boost::asio;

using namespace kiemidi::test;

namespace {

/// One track's pipeline: separation → poll → MIDI from the instrumental stem → poll.
asio::awaitable<void> pipeline(asio::any_io_executor ex, std::uint16_t port, std::string cb, int n, std::size_t& done)
{
    raw_client cli(ex, port);
    auto s = co_await cli.request(post_json("/api/v1/vocal-removal/generate",
                                            separation_body("music-" + std::to_string(n), "audio-" + std::to_string(n),
                                                            n % 3 == 0 ? "split_stem" : "separate_vocal", cb)));
    BOOST_REQUIRE(s.code() == 200);
    const auto sep = str(s.json().at("data").at("taskId"));
    auto rec = co_await poll_until(cli, get_path("/api/v1/vocal-removal/record-info?taskId=" + sep),
                                   [](const raw_response& r) { return sep_flag(r) == "SUCCESS"; });
    const auto stem = str(rec.json().at("data").at("response").at("originData").at(1).at("id"));
    auto m = co_await cli.request(post_json("/api/v1/midi/generate", midi_body(sep, cb, stem)));
    BOOST_REQUIRE(m.code() == 200);
    const auto midi = str(m.json().at("data").at("taskId"));
    (void)co_await poll_until(cli, get_path("/api/v1/midi/record-info?taskId=" + midi),
                              [](const raw_response& r) { return midi_flag(r) == 1; });
    BOOST_TEST(cli.connects() == 1u);
    ++done;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(emulator_concurrency)

BOOST_AUTO_TEST_CASE(many_concurrent_pipelines_on_a_multithreaded_server, *boost::unit_test::label("multithreaded"))
{
    asio::thread_pool pool(2);
    emu::emulator_options o;
    o.separation_delay = 50ms;
    o.midi_delay = 50ms;
    emu::server srv(pool.get_executor(), o);
    srv.start();
    static constexpr int tracks = 120;
    run_bounded([&](asio::io_context& ioc) -> asio::awaitable<void> {
        callback_receiver rx(ioc.get_executor());
        std::size_t done = 0;
        for (int i = 0; i < tracks; ++i)
            asio::co_spawn(ioc, pipeline(ioc.get_executor(), srv.http_port(), rx.url(), i, done), [](std::exception_ptr e) {
                if (e) std::rethrow_exception(e);
            });
        std::set<std::string> ids;
        for (int i = 0; i < 2 * tracks; ++i)
        {
            auto cb = (co_await rx.next()).json();
            const auto& o = cb.as_object();
            ids.insert(o.contains("task_id") ? str(o.at("task_id")) : str(cb.at("data").at("task_id")));
        }
        BOOST_TEST(ids.size() == static_cast<std::size_t>(2 * tracks));
        while (done < static_cast<std::size_t>(tracks)) co_await pause(2ms);
        auto c = co_await wait_counters(srv, [](const emu::counters& x) { return x.callbacks_sent == 2 * tracks; });
        BOOST_TEST(c.tasks_created == static_cast<std::uint64_t>(2 * tracks));
        BOOST_TEST(c.tasks_completed == static_cast<std::uint64_t>(2 * tracks));
        BOOST_TEST(c.tcp_connections_accepted == static_cast<std::uint64_t>(tracks));
        BOOST_TEST(c.duplicate_paid_submissions() == 0u);
        BOOST_TEST(c.max_paid_per_key() == 1u);
        BOOST_TEST(c.requests_to("POST /api/v1/midi/generate") == static_cast<std::uint64_t>(tracks));
        BOOST_TEST(c.responses_with_code(200) >= static_cast<std::uint64_t>(4 * tracks));
        BOOST_TEST(c.credits == 1000000 - 40 * 50 - 80 * 10 - 120 * 10);
        rx.stop();
    }, 60s);
    srv.stop();
    pool.join();
    BOOST_TEST(srv.snapshot().active_operations == 0u);
    BOOST_TEST(srv.snapshot().open_connections == 0u);
}

BOOST_AUTO_TEST_SUITE_END()
