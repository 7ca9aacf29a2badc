#include "single_instance_run.hpp"

#include "emulator_counters.hpp"
#include "emulator_process.hpp"
#include "json_result.hpp"
#include "pipelines.hpp"
#include "process_usage.hpp"

#include <kiemidi/callback_listener.hpp>
#include <kiemidi/client.hpp>
#include <kiemidi/in_process_callback_hub.hpp>
#include <kiemidi/nothrow_awaitable.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <exception>
#include <filesystem>
#include <iostream>
#include <optional>
#include <sstream>
#include <string>

namespace asio = boost::asio;
using namespace std::chrono_literals;

namespace kiemidi::bench {

using steady = std::chrono::steady_clock;

bool run_scenario(const driver_args& args, const scenario& sc)
{
    std::optional<emulator_process> emu;
    std::string base_url = args.base_url, ca_file = args.ca_file;
    const auto ca_path = std::filesystem::temp_directory_path() / ("kiemidi-bench-ca-" + std::to_string(getpid()) + ".pem");
    if (base_url.empty())
    {
        emu.emplace(args.emulator_exe, sc.delay_ms, ca_path, emulator_flags(sc));
        base_url = emu->base_url(sc.https);
        ca_file = ca_path.string();
    }

    asio::io_context ioc(1);
    kiemidi::in_process_callback_hub hub(ioc.get_executor());
    kiemidi::listener_options lo;
    lo.max_connections = 60000;
    kiemidi::callback_listener listener(ioc.get_executor(), lo, hub);
    kiemidi::client_options co;
    co.base_url = base_url;
    co.api_key = args.api_key;
    co.transport.pool_size = args.pool_size;
    co.transport.tls.ca_file = ca_file;
    co.transport.proxy.use_environment = false;
    co.transport.proxy.url = args.proxy;
    // The emulator enforces no limit unless the scenario asks; against KIE the default stays on.
    co.transport.rate_limit.enabled = sc.server_limit > 0;
    if (sc.client_limit > 0) co.transport.rate_limit.submissions_per_window = sc.client_limit;
    kiemidi::http_client counters_http(ioc.get_executor(), counters_transport(co));
    kiemidi::client kie(ioc.get_executor(), std::move(co));
    const bool callbacks = sc.mode == kiemidi::wait_strategy::callback;
    if (callbacks)
    {
        listener.start();
        kie.attach_callbacks(hub, listener);
    }

    kiemidi::wait_options wait;
    wait.strategy = sc.mode;
    wait.poll_interval = std::chrono::milliseconds(args.poll_interval_ms);
    wait.max_poll_interval = std::chrono::milliseconds(args.max_poll_interval_ms);
    tallies t;
    t.overhead_ms.reserve(sc.pipelines);
    env e{kie, hub, sc, wait, t};

    std::optional<emulator_counters> before, after;
    kiemidi::http_client_stats stats_before{}, stats_after{};
    cpu_time cpu0, cpu1;
    steady::time_point t0, t1;
    long rss_base = 0, rss_peak_delta = 0;
    std::size_t in_flight_at_peak = 0;

    auto main = [&]() -> asio::awaitable<void> {
        auto ex = co_await asio::this_coro::executor;
        before = co_await fetch_counters(counters_http);
        stats_before = kie.transport_stats();
        rss_base = proc_status_kib("VmRSS");
        cpu0 = cpu_seconds();
        t0 = steady::now();

        std::size_t workers = std::min(sc.concurrency, sc.pipelines), running = workers;
        asio::steady_timer all_done(ex, steady::time_point::max());
        for (std::size_t w = 0; w < workers; ++w)
            asio::co_spawn(ex, worker(e), [&](std::exception_ptr ep) {
                if (ep) record_failure(t, "worker threw");
                if (--running == 0) all_done.cancel();
            });
        // Samples RSS against pipelines in flight every 50 ms; stops the run if it overstays.
        const auto give_up = t0 + std::chrono::milliseconds(sc.delay_ms) * 2 + 180s + sc.pipelines * 25ms + limit_time(sc);
        asio::steady_timer tick(ex);
        while (running > 0)
        {
            const long rss = proc_status_kib("VmRSS") - rss_base;
            if (t.in_flight > 0 && (t.in_flight > in_flight_at_peak || (t.in_flight == in_flight_at_peak && rss > rss_peak_delta)))
            {
                in_flight_at_peak = t.in_flight;
                rss_peak_delta = rss;
            }
            if (steady::now() > give_up)
            {
                record_failure(t, "scenario time limit reached");
                kie.close();
                hub.close();
                break;
            }
            tick.expires_after(50ms);
            auto [ec] = co_await tick.async_wait(use_nothrow_awaitable);
            (void)ec;
        }
        if (running > 0) co_await all_done.async_wait(use_nothrow_awaitable);
        t1 = steady::now();
        cpu1 = cpu_seconds();
        stats_after = kie.transport_stats();
        after = co_await fetch_counters(counters_http);
        kie.close();
        counters_http.close();
        listener.stop();
        hub.close();
    };
    std::exception_ptr failure;
    asio::co_spawn(ioc, main(), [&](std::exception_ptr ep) { failure = ep; });
    ioc.run();
    if (emu) emu->stop();
    std::error_code rm_ec;
    std::filesystem::remove(ca_path, rm_ec);
    if (failure) std::rethrow_exception(failure);

    const double secs = std::chrono::duration<double>(t1 - t0).count();
    const double n = static_cast<double>(std::max<std::size_t>(1, t.done));
    std::ostringstream j;
    j << "{\"client\":\"kiemidi\",\"scenario\":" << json_string(sc.name) << ",\"mode\":\""
      << (callbacks ? "callback" : "polling") << "\",\"scheme\":\"" << (sc.https ? "https" : "http") << "\""
      << ",\"pipelines\":" << sc.pipelines << ",\"concurrency\":" << sc.concurrency << ",\"delay_ms\":" << sc.delay_ms
      << ",\"ok\":" << t.done << ",\"failed\":" << t.failed << ",\"elapsed_s\":" << fmt(secs)
      << ",\"pipelines_per_s\":" << fmt(static_cast<double>(t.done) / secs, 1)
      << ",\"client_cpu_s_per_1000\":" << fmt((cpu1.total - cpu0.total) / n * 1000.0, 4)
      << ",\"client_sys_cpu_s_per_1000\":" << fmt((cpu1.sys - cpu0.sys) / n * 1000.0, 4)
      << ",\"peak_rss_kib\":" << proc_status_kib("VmHWM") << ",\"rss_base_kib\":" << rss_base
      << ",\"peak_rss_growth_per_inflight_kib\":"
      << fmt(in_flight_at_peak ? static_cast<double>(proc_status_kib("VmHWM") - rss_base) / static_cast<double>(in_flight_at_peak) : 0.0, 2)
      << ",\"peak_in_flight\":" << in_flight_at_peak
      << ",\"rss_delta_at_peak_kib\":" << rss_peak_delta
      << ",\"rss_per_inflight_kib\":" << fmt(in_flight_at_peak ? static_cast<double>(rss_peak_delta) / static_cast<double>(in_flight_at_peak) : 0.0, 2);
    write_requests_per_pipeline(j, before, after, n);
    const auto opened = stats_after.connections_opened - stats_before.connections_opened;
    j << ",\"connections_opened\":" << opened << ",\"pool_size\":" << args.pool_size
      << ",\"connections_per_1000\":" << fmt(static_cast<double>(opened) / n * 1000.0, 2)
      << ",\"proxy\":" << (args.proxy.empty() ? "false" : "true")
      << ",\"proxy_tunnels\":" << (stats_after.proxy_tunnels - stats_before.proxy_tunnels);
    if (before && after)
        j << ",\"emulator_connections_accepted\":" << (after->tcp + after->tls - before->tcp - before->tls)
          << ",\"callbacks_sent\":" << (after->callbacks_sent - before->callbacks_sent)
          << ",\"duplicate_paid_submissions\":" << (after->duplicate_paid - before->duplicate_paid);
    j << ",\"polls_per_pipeline\":" << fmt(static_cast<double>(t.polls) / n, 3)
      << ",\"callbacks_per_pipeline\":" << fmt(static_cast<double>(t.callbacks) / n, 3)
      << ",\"overhead_ms_p50\":" << fmt(percentile(t.overhead_ms, 50))
      << ",\"overhead_ms_p99\":" << fmt(percentile(t.overhead_ms, 99));
    if (sc.kind == run_kind::latency)
        j << ",\"callback_resume_us_p50\":" << fmt(percentile(t.resume_latency_us, 50), 1)
          << ",\"callback_resume_us_p99\":" << fmt(percentile(t.resume_latency_us, 99), 1)
          << ",\"callback_resume_us_p999\":" << fmt(percentile(t.resume_latency_us, 99.9), 1)
          << ",\"callback_resume_samples\":" << t.resume_latency_us.size()
          << ",\"callbacks_before_wait\":" << t.buffered_callbacks;
    if (sc.server_limit > 0)
    {
        // The floor: 2 paid POSTs per pipeline, `server_limit` per 10 s window, the last admitted
        // at the start of the last window, then one task of delay_ms.
        const auto posts = 2 * sc.pipelines;
        const auto windows = (posts + sc.server_limit - 1) / sc.server_limit;
        const double bound = 10.0 * static_cast<double>(windows - 1) + sc.delay_ms / 1000.0;
        j << ",\"server_limit_per_10s\":" << sc.server_limit << ",\"client_limit_per_10s\":" << sc.client_limit
          << ",\"accept_latency_ms\":" << sc.accept_latency_ms << ",\"accept_jitter_ms\":" << sc.jitter_ms
          << ",\"limit_bound_s\":" << fmt(bound) << ",\"ratio\":" << fmt(secs / bound)
          << ",\"http_429\":" << (stats_after.throttled - stats_before.throttled)
          << ",\"limiter_budget_end\":" << stats_after.limiter_budget;
    }
    if (!t.first_error.empty()) j << ",\"first_error\":" << json_string(t.first_error);
    j << "}";
    std::cout << j.str() << std::endl;
    return t.failed == 0;
}

}  // namespace kiemidi::bench
