#include "multi_instance_run.hpp"

#include <iostream>

#ifdef KIEMIDI_WITH_REDIS
#include "emulator_counters.hpp"
#include "emulator_process.hpp"
#include "json_result.hpp"
#include "pipelines.hpp"
#include "process_usage.hpp"

#include "common/redis_server.hpp"
#include "common/round_robin_forwarder.hpp"

#include <kiemidi/callback_listener.hpp>
#include <kiemidi/client.hpp>
#include <kiemidi/nothrow_awaitable.hpp>
#include <kiemidi/redis_callback_hub.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace asio = boost::asio;
using namespace std::chrono_literals;
#endif

namespace kiemidi::bench {

#ifdef KIEMIDI_WITH_REDIS
using steady = std::chrono::steady_clock;

/// multi-instance: `sc.instances` kiemidi instances in this process, each with its own io_context
/// thread, callback listener, Redis callback hub and client (as separate backend processes would
/// have), behind one round-robin callback address. Pipelines are claimed by whichever instance
/// has a free worker, so most callbacks land on an instance other than the waiting one.
bool run_multi_instance(const driver_args& args, const scenario& sc)
{
    if (sc.https) throw std::invalid_argument("--instances runs over http only");
    std::optional<kiemidi::test::redis_server> own_redis;
    std::string redis_host = "127.0.0.1";
    std::uint16_t redis_port = 0;
    if (!args.redis.empty())
    {
        const auto colon = args.redis.rfind(':');
        if (colon == std::string::npos) throw std::invalid_argument("--redis must be HOST:PORT");
        redis_host = args.redis.substr(0, colon);
        redis_port = static_cast<std::uint16_t>(std::stoul(args.redis.substr(colon + 1)));
    }
    else
    {
        if (!kiemidi::test::redis_server::available())
        {
            std::cerr << "kiemidi-bench-load: " << sc.name << " skipped: redis-server not found (or pass --redis)\n";
            return true;
        }
        own_redis.emplace();
        redis_port = own_redis->port();
    }
    std::optional<emulator_process> emu;
    std::string base_url = args.base_url;
    const auto ca_path = std::filesystem::temp_directory_path() / ("kiemidi-bench-ca-" + std::to_string(getpid()) + ".pem");
    if (base_url.empty())
    {
        emu.emplace(args.emulator_exe, sc.delay_ms, ca_path, emulator_flags(sc));
        base_url = emu->base_url(false);
    }
    kiemidi::client_options co;
    co.base_url = base_url;
    co.api_key = args.api_key;
    co.transport.pool_size = args.pool_size;
    co.transport.rate_limit.enabled = false;

    auto counters_now = [&] {
        asio::io_context cioc(1);
        kiemidi::http_client probe(cioc.get_executor(), counters_transport(co));
        std::optional<emulator_counters> c;
        asio::co_spawn(cioc, [&]() -> asio::awaitable<void> { c = co_await fetch_counters(probe); },
                       [&](std::exception_ptr) { probe.close(); });
        cioc.run();
        return c;
    };

    // One public callback address: a round-robin forwarder in front of the instances' listeners.
    const std::size_t n_inst = sc.instances;
    std::vector<std::uint16_t> ports;
    for (std::size_t i = 0; i < n_inst; ++i) ports.push_back(free_port());
    asio::io_context lb_ioc(1);
    auto lb_work = asio::make_work_guard(lb_ioc);
    kiemidi::test::round_robin_forwarder lb(lb_ioc.get_executor(), ports);
    std::thread lb_thread([&] { lb_ioc.run(); });

    kiemidi::redis_callback_hub_options ho;
    ho.redis.host = redis_host;
    ho.redis.port = redis_port;
    ho.key_prefix = "kiemidi-bench-" + std::to_string(getpid()) + "-" + sc.name + ":";
    kiemidi::listener_options lo;
    lo.max_connections = 60000;
    lo.path_secret = "kiemidi-bench-fleet-secret-0123456789";
    lo.public_base_url = "http://127.0.0.1:" + std::to_string(lb.port());
    kiemidi::wait_options wait;
    wait.strategy = kiemidi::wait_strategy::hybrid;  // a callback that never arrives shows up as polls
    wait.callback_overdue = 30s;
    wait.poll_interval = std::chrono::milliseconds(args.poll_interval_ms);
    wait.max_poll_interval = std::chrono::milliseconds(args.max_poll_interval_ms);

    struct instance
    {
        asio::io_context ioc{1};
        std::unique_ptr<kiemidi::redis_callback_hub> hub;
        std::unique_ptr<kiemidi::callback_listener> listener;
        std::unique_ptr<kiemidi::client> kie;
        tallies t;
        std::thread thread;
    };
    std::vector<std::unique_ptr<instance>> fleet;
    for (std::size_t i = 0; i < n_inst; ++i)
    {
        auto inst = std::make_unique<instance>();
        inst->hub = std::make_unique<kiemidi::redis_callback_hub>(inst->ioc.get_executor(), ho);
        auto l = lo;
        l.port = ports[i];
        inst->listener = std::make_unique<kiemidi::callback_listener>(inst->ioc.get_executor(), l, *inst->hub);
        inst->listener->start();
        inst->kie = std::make_unique<kiemidi::client>(inst->ioc.get_executor(), co);
        inst->kie->attach_callbacks(*inst->hub, *inst->listener);
        fleet.push_back(std::move(inst));
    }

    const auto before = counters_now();
    std::atomic<std::size_t> next{0}, finished{0}, ready{0};
    std::atomic<bool> go{false}, all_done{false}, connect_failed{false};
    for (auto& ip : fleet)
    {
        auto* inst = ip.get();
        auto body = [&, inst]() -> asio::awaitable<void> {
            auto ex = co_await asio::this_coro::executor;
            auto [cec] = co_await inst->hub->async_connect(use_nothrow_awaitable);
            if (cec) connect_failed = true;
            ++ready;
            asio::steady_timer tick(ex);
            while (!go)
            {
                tick.expires_after(1ms);
                co_await tick.async_wait(use_nothrow_awaitable);
            }
            env e{*inst->kie, *inst->hub, sc, wait, inst->t};
            const std::size_t workers = std::max<std::size_t>(1, std::min(sc.concurrency, sc.pipelines) / n_inst);
            std::size_t running = workers;
            for (std::size_t w = 0; w < workers; ++w)
                asio::co_spawn(ex, [&]() -> asio::awaitable<void> {
                    for (;;)
                    {
                        const auto i = next++;
                        if (i >= sc.pipelines) break;
                        ++e.t.started;
                        co_await one_pipeline(e, i);
                        ++finished;
                    }
                }, [&](std::exception_ptr ep) {
                    if (ep) record_failure(inst->t, "worker threw");
                    --running;
                });
            // Stay up until every instance is done: this listener receives other instances' callbacks.
            while (running > 0 || !all_done)
            {
                tick.expires_after(5ms);
                co_await tick.async_wait(use_nothrow_awaitable);
            }
            inst->kie->close();
            inst->listener->stop();
            inst->hub->close();
        };
        asio::co_spawn(inst->ioc, body, asio::detached);  // the callable, so its captures live as long as the coroutine
        inst->thread = std::thread([inst] { inst->ioc.run(); });
    }
    while (ready < n_inst) std::this_thread::sleep_for(1ms);
    const cpu_time cpu0 = cpu_seconds();
    const auto t0 = steady::now();
    go = true;
    const auto give_up = t0 + std::chrono::milliseconds(sc.delay_ms) * 2 + 180s + sc.pipelines * 25ms;
    while (finished < sc.pipelines && steady::now() < give_up) std::this_thread::sleep_for(1ms);
    const auto t1 = steady::now();
    const cpu_time cpu1 = cpu_seconds();
    const bool timed_out = finished < sc.pipelines;
    if (timed_out)
        for (auto& inst : fleet) asio::post(inst->ioc, [i = inst.get()] { i->kie->close(); i->hub->close(); });
    all_done = true;
    for (auto& inst : fleet) inst->thread.join();
    const auto after = counters_now();

    tallies t;
    std::uint64_t via_redis = 0;
    for (auto& inst : fleet)
    {
        t.done += inst->t.done;
        t.failed += inst->t.failed;
        t.polls += inst->t.polls;
        t.callbacks += inst->t.callbacks;
        t.overhead_ms.insert(t.overhead_ms.end(), inst->t.overhead_ms.begin(), inst->t.overhead_ms.end());
        if (t.first_error.empty()) t.first_error = inst->t.first_error;
        via_redis += inst->hub->redis_stats().remote_delivered_total;
    }
    if (timed_out) record_failure(t, "scenario time limit reached");
    if (connect_failed) record_failure(t, "an instance could not connect to Redis");
    fleet.clear();
    lb.stop();
    lb_work.reset();
    lb_thread.join();
    if (emu) emu->stop();
    std::error_code rm_ec;
    std::filesystem::remove(ca_path, rm_ec);

    const double secs = std::chrono::duration<double>(t1 - t0).count();
    const double n = static_cast<double>(std::max<std::size_t>(1, t.done));
    std::ostringstream j;
    j << "{\"client\":\"kiemidi\",\"scenario\":" << json_string(sc.name) << ",\"mode\":\"hybrid\",\"scheme\":\"http\""
      << ",\"instances\":" << n_inst << ",\"hub\":\"redis\""
      << ",\"pipelines\":" << sc.pipelines << ",\"concurrency\":" << sc.concurrency << ",\"delay_ms\":" << sc.delay_ms
      << ",\"ok\":" << t.done << ",\"failed\":" << t.failed << ",\"elapsed_s\":" << fmt(secs)
      << ",\"pipelines_per_s\":" << fmt(static_cast<double>(t.done) / secs, 1)
      << ",\"client_cpu_s_per_1000\":" << fmt((cpu1.total - cpu0.total) / n * 1000.0, 4)
      << ",\"client_sys_cpu_s_per_1000\":" << fmt((cpu1.sys - cpu0.sys) / n * 1000.0, 4)
      << ",\"peak_rss_kib\":" << proc_status_kib("VmHWM");
    write_requests_per_pipeline(j, before, after, n, "GET /emulator/counters");
    if (before && after)
        j << ",\"callbacks_sent\":" << (after->callbacks_sent - before->callbacks_sent)
          << ",\"duplicate_paid_submissions\":" << (after->duplicate_paid - before->duplicate_paid);
    j << ",\"polls_per_pipeline\":" << fmt(static_cast<double>(t.polls) / n, 3)
      << ",\"callbacks_per_pipeline\":" << fmt(static_cast<double>(t.callbacks) / n, 3)
      << ",\"callbacks_via_redis\":" << via_redis
      << ",\"overhead_ms_p50\":" << fmt(percentile(t.overhead_ms, 50))
      << ",\"overhead_ms_p99\":" << fmt(percentile(t.overhead_ms, 99));
    if (!t.first_error.empty()) j << ",\"first_error\":" << json_string(t.first_error);
    j << "}";
    std::cout << j.str() << std::endl;
    return t.failed == 0;
}
#else
bool run_multi_instance(const driver_args&, const scenario& sc)
{
    std::cerr << "kiemidi-bench-load: " << sc.name << " skipped: built without Redis (KIEMIDI_WITH_REDIS)\n";
    return true;
}
#endif

}  // namespace kiemidi::bench
