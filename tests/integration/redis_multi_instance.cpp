// Three kiemidi instances behind one callback address, sharing callbacks through a real Redis:
// KIE (the emulator) calls a round-robin forwarder, so a callback usually lands on an instance
// other than the one waiting for it. Every pipeline must still complete by callback alone, with
// exactly two paid POSTs; with Redis stopped for a while, waits fall back to polling and nothing
// is lost.
#include <kiemidi/callback_listener.hpp>
#include <kiemidi/client.hpp>
#include <kiemidi/emulator/server.hpp>
#include <kiemidi/redis_callback_hub.hpp>

#include "common/redis_server.hpp"
#include "common/round_robin_forwarder.hpp"
#include "common/run_bounded.hpp"
#include "nothrow_awaitable.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <memory>
#include <random>
#include <thread>
#include <vector>

namespace asio = boost::asio;
using namespace kiemidi;
using namespace std::chrono_literals;

namespace {

using kiemidi::test::eventually;
using kiemidi::test::sleep_for;

const std::string sep_post = "POST /api/v1/vocal-removal/generate";
const std::string midi_post = "POST /api/v1/midi/generate";
const std::string sep_get = "GET /api/v1/vocal-removal/record-info";
const std::string midi_get = "GET /api/v1/midi/record-info";

// One kiemidi instance as a backend process would have it: hub, listener, client.
struct instance
{
    redis_callback_hub hub;
    callback_listener listener;
    std::unique_ptr<client> cli;

    instance(asio::any_io_executor ex, const redis_callback_hub_options& ho, const listener_options& lo, client_options co)
        : hub(ex, ho), listener(ex, lo, hub)
    {
        listener.start();
        cli = std::make_unique<client>(ex, std::move(co));
        cli->attach_callbacks(hub, listener);
    }
    ~instance()
    {
        cli->close();
        listener.stop();
        hub.close();
    }
};

std::uint64_t count(const emulator::counters& c, const std::string& key)
{
    auto it = c.requests.find(key);
    return it == c.requests.end() ? 0 : it->second;
}

struct outcome
{
    error_code ec;
    midi_result result;
    std::string diag;
    bool done = false;
};

// Runs `n` pipelines numbered from `first`, each on a pseudo-randomly chosen instance (so the
// instance that waits and the one the forwarder picks for the callback are independent).
void launch(asio::io_context& ioc, std::vector<std::unique_ptr<instance>>& fleet, int first, int n, wait_options w,
            std::vector<outcome>& out)
{
    std::mt19937 rng(static_cast<unsigned>(first) + 7);
    for (int i = 0; i < n; ++i)
    {
        auto* inst = fleet[rng() % fleet.size()].get();
        auto* slot = &out[static_cast<std::size_t>(i)];
        asio::co_spawn(ioc, [inst, slot, i, first, w]() -> asio::awaitable<void> {
            midi_params p;
            p.task_id = "music" + std::to_string(first + i);
            p.audio_id = "audio" + std::to_string(first + i);
            p.wait = w;
            p.stage_timeout = 25s;
            p.deadline = 40s;
            diagnostics diag;
            auto [ec, r] = co_await inst->cli->async_generate_midi(std::move(p), diag, use_nothrow_awaitable);
            slot->ec = ec;
            slot->result = std::move(r);
            slot->diag = diag.to_string();
            slot->done = true;
        }, asio::detached);
    }
}

}  // namespace

BOOST_AUTO_TEST_SUITE(multi_instance, *boost::unit_test::label("redis"))

BOOST_AUTO_TEST_CASE(three_instances_behind_one_callback_address_share_callbacks_through_redis)
{
    test::redis_server redis;
    test::run_bounded([&](asio::io_context& ioc) -> asio::awaitable<void> {
        auto ex = ioc.get_executor();
        emulator::emulator_options eo;
        eo.enable_https = false;
        emulator::server kie(ex, eo);
        kie.start();

        redis_callback_hub_options ho;
        ho.redis.host = redis.host();
        ho.redis.port = redis.port();
        ho.redis.reconnect_min_delay = 20ms;
        ho.redis.reconnect_max_delay = 200ms;
        ho.key_prefix = "kiemidi-test-multi:";

        client_options co;
        co.base_url = kie.http_base_url();
        co.api_key = eo.api_key;
        co.transport.retry.base_delay = 1ms;
        co.transport.retry.max_delay = 10ms;
        co.transport.rate_limit.enabled = false;

        // One public callback address for the fleet: same path secret, same public base URL.
        std::vector<std::uint16_t> ports;
        for (int i = 0; i < 3; ++i)
        {
            // Reserve three free ports by binding throwaway listeners, then free them for the instances.
            in_process_callback_hub dummy(ex);
            callback_listener probe(ex, listener_options{}, dummy);
            probe.start();
            ports.push_back(probe.port());
            probe.stop();
        }
        test::round_robin_forwarder lb(ex, ports);
        listener_options lo;
        lo.path_secret = "shared-fleet-secret-0123456789";
        lo.public_base_url = "http://127.0.0.1:" + std::to_string(lb.port());

        std::vector<std::unique_ptr<instance>> fleet;
        for (int i = 0; i < 3; ++i)
        {
            auto l = lo;
            l.port = ports[static_cast<std::size_t>(i)];
            fleet.push_back(std::make_unique<instance>(ex, ho, l, co));
        }
        for (auto& inst : fleet)
        {
            auto [ec] = co_await inst->hub.async_connect(use_nothrow_awaitable);
            BOOST_TEST_REQUIRE(!ec, ec.message());
        }
        BOOST_TEST(fleet[0]->cli->callback_url(callback_kind::midi) == fleet[2]->cli->callback_url(callback_kind::midi));

        // ---- Phase 1: 300 pipelines, callbacks only (hybrid, but the callback is never overdue) ----
        constexpr int n1 = 300;
        wait_options w1;
        w1.callback_overdue = 20s;
        std::vector<outcome> out1(n1);
        launch(ioc, fleet, 0, n1, w1, out1);
        co_await eventually([&] {
            for (auto& o : out1)
                if (!o.done) return false;
            return true;
        });
        unsigned polls = 0, callbacks = 0, failures = 0;
        for (auto& o : out1)
        {
            if (o.ec)
            {
                if (++failures <= 3) BOOST_TEST_MESSAGE("pipeline failed: " << o.ec.message() << " " << o.diag);
                continue;
            }
            polls += o.result.polls;
            callbacks += o.result.callbacks;
        }
        BOOST_TEST(failures == 0u);
        BOOST_TEST(polls == 0u);
        BOOST_TEST(callbacks == 2u * n1);
        auto c1 = kie.snapshot();
        BOOST_TEST(count(c1, sep_post) == std::uint64_t(n1));
        BOOST_TEST(count(c1, midi_post) == std::uint64_t(n1));
        BOOST_TEST(c1.separation_submissions.size() == std::size_t(n1));
        BOOST_TEST(c1.midi_submissions.size() == std::size_t(n1));
        BOOST_TEST(c1.max_paid_per_key() == 1u);
        BOOST_TEST(count(c1, sep_get) == 0u);
        BOOST_TEST(count(c1, midi_get) == 0u);
        std::uint64_t remote = 0, stored = 0;
        for (auto& inst : fleet)
        {
            auto rs = inst->hub.redis_stats();
            remote += rs.remote_delivered_total;
            stored += rs.stored_total;
        }
        BOOST_TEST_MESSAGE("phase 1: " << remote << " of " << 2 * n1 << " callbacks reached their waiter through Redis");
        BOOST_TEST(remote > 0u);  // callbacks did land on other instances
        BOOST_TEST(stored == 2u * n1);
        for (auto f : lb.forwarded()) BOOST_TEST(f > 0u);

        // ---- Phase 2: Redis stopped for a few seconds while pipelines run ----
        constexpr int n2 = 150;
        wait_options w2;
        w2.callback_overdue = 700ms;
        w2.poll_interval = 50ms;
        w2.max_poll_interval = 200ms;
        // Hold the callbacks back a little, so they arrive while Redis is down.
        emulator::fault_options f;
        f.callback_delay_rate = 1;
        f.callback_delay = 300ms;
        kie.set_faults(f);
        std::vector<outcome> out2(n2);
        launch(ioc, fleet, 100000, n2, w2, out2);
        co_await eventually([&] { return count(kie.snapshot(), sep_post) == std::uint64_t(n1 + n2); });
        const auto sent_before_stop = kie.snapshot().callbacks_sent;

        // Stopping and starting the server blocks this thread briefly (a test may); the waits
        // in between keep the io_context running.
        redis.stop();
        co_await sleep_for(2500ms);
        redis.start();
        co_await eventually([&] {
            for (auto& o : out2)
                if (!o.done) return false;
            return true;
        });

        unsigned polls2 = 0, failures2 = 0;
        for (auto& o : out2)
        {
            if (o.ec)
            {
                if (++failures2 <= 3) BOOST_TEST_MESSAGE("pipeline failed: " << o.ec.message() << " " << o.diag);
                continue;
            }
            polls2 += o.result.polls;
        }
        BOOST_TEST(failures2 == 0u);
        auto c2 = kie.snapshot();
        BOOST_TEST(count(c2, sep_post) == std::uint64_t(n1 + n2));
        BOOST_TEST(count(c2, midi_post) == std::uint64_t(n1 + n2));
        BOOST_TEST(c2.max_paid_per_key() == 1u);
        std::uint64_t failures_stored = 0;
        for (auto& inst : fleet) failures_stored += inst->hub.redis_stats().store_failures_total;
        BOOST_TEST_MESSAGE("phase 2: " << polls2 << " polls, " << failures_stored << " callbacks kept locally during the outage");
        // When no phase-2 callback had arrived before the stop, the separation callbacks all came
        // during the outage, two thirds of them to an instance without the waiter: those waits polled.
        if (sent_before_stop == c1.callbacks_sent)
        {
            BOOST_TEST(polls2 > 0u);
            BOOST_TEST(failures_stored > 0u);
        }
        // Back in business: every hub reconnects, and the callbacks kept locally during the
        // outage are stored in Redis after all (nothing lost for a wait that starts later).
        co_await eventually([&] {
            for (auto& inst : fleet)
                if (!inst->hub.redis_stats().connected || !inst->hub.redis_stats().subscribed) return false;
            return true;
        });
        co_await eventually([&] {
            std::uint64_t s = 0;
            for (auto& inst : fleet) s += inst->hub.redis_stats().stored_total;
            return s == 2u * (n1 + n2);
        });

        fleet.clear();
        lb.stop();
        kie.stop();
    }, 60s);
}

BOOST_AUTO_TEST_SUITE_END()
