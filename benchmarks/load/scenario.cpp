#include "scenario.hpp"

#include <utility>

namespace kiemidi::bench {

std::vector<std::string> emulator_flags(const scenario& sc)
{
    if (sc.server_limit == 0) return {};
    return {"--rate-limit-per-10s", std::to_string(sc.server_limit), "--accept-latency-ms",
            std::to_string(sc.accept_latency_ms), "--accept-latency-jitter-ms", std::to_string(sc.jitter_ms)};
}

std::chrono::seconds limit_time(const scenario& sc)
{
    if (sc.server_limit == 0) return std::chrono::seconds(0);
    return std::chrono::seconds(10 * (2 * sc.pipelines / sc.server_limit + 2));
}

std::vector<scenario> rate_limited_set()
{
    auto rl = [](std::string name, std::size_t n, unsigned server, int latency, int jitter) {
        scenario s;
        s.name = std::move(name);
        s.pipelines = n;
        s.concurrency = n;
        s.delay_ms = 3000;
        s.server_limit = server;
        s.client_limit = 20;  // KIE's documented figure
        s.accept_latency_ms = latency;
        s.jitter_ms = jitter;
        return s;
    };
    return {rl("rate-limited-40", 40, 20, 0, 0), rl("rate-limited-40-slow-accept", 40, 20, 200, 800),
            rl("rate-limited-40-real-10", 40, 10, 0, 0), rl("rate-limited-200", 200, 20, 0, 0),
            rl("rate-limited-200-slow-accept", 200, 20, 200, 800), rl("rate-limited-200-real-10", 200, 10, 0, 0)};
}

std::vector<scenario> standard_set(bool tiny)
{
    auto pick = [tiny](std::size_t small, std::size_t full) { return tiny ? small : full; };
    const std::size_t n = pick(40, 2000), c = pick(8, 256);
    std::vector<scenario> s{
        {"callback-http", n, c, kiemidi::wait_strategy::callback, false, 0, run_kind::pipeline},
        {"callback-https", n, c, kiemidi::wait_strategy::callback, true, 0, run_kind::pipeline},
        {"polling-http", n, c, kiemidi::wait_strategy::polling, false, 0, run_kind::pipeline},
        {"polling-https", n, c, kiemidi::wait_strategy::polling, true, 0, run_kind::pipeline},
        {"callback-latency", pick(40, 500), 8, kiemidi::wait_strategy::callback, false, 20, run_kind::latency},
    };
    // Everything in flight at once on one io thread; the delay makes the pipelines overlap.
    // scale-2k is the size compared with the reference clients; scale is the 10,000 of the target.
    s.push_back({"scale-2k", pick(100, 2000), pick(100, 2000), kiemidi::wait_strategy::callback, false,
                 tiny ? 500 : 3000, run_kind::pipeline});
    s.push_back({"scale", pick(200, 10000), pick(200, 10000), kiemidi::wait_strategy::callback, false,
                 tiny ? 500 : 3000, run_kind::pipeline});
#ifdef KIEMIDI_WITH_REDIS
    // The same work on 1 and on 3 instances sharing callbacks through Redis (2/3 of the callbacks
    // land on an instance that does not wait for them).
    s.push_back({"multi-instance-1", n, c, kiemidi::wait_strategy::callback, false, 0, run_kind::multi_instance, 1});
    s.push_back({"multi-instance-3", n, c, kiemidi::wait_strategy::callback, false, 0, run_kind::multi_instance, 3});
#endif
    return s;
}

}  // namespace kiemidi::bench
