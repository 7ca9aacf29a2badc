#include "options.hpp"

#include "command_line.hpp"

#include <algorithm>
#include <stdexcept>

namespace kiemidi::bench {

namespace {

constexpr const char* synopsis = "usage: kiemidi-bench-load [options]\nPrints one JSON line per scenario on stdout.";

}  // namespace

std::optional<driver_args> parse_args(int argc, char** argv)
{
    namespace po = kiemidi::apps::po;
    driver_args a;
    scenario one;
    bool all = false, tiny = false, latency = false;
    std::string mode = "callback", scheme = "http";
    po::options_description options("options");
    options.add_options()
        ("help,h", "this text")
        ("scenario", po::value(&one.name)->value_name("NAME"),
         "name printed in the JSON line (default: derived from mode and scheme); with --all: only that one of the set; "
         "rate-limited[-all]: a batch saturating an account limit enforced by the emulator (40 tracks; -all adds 200; "
         "or one by name, see README.md)")
        ("pipelines", po::value(&one.pipelines)->value_name("N"), "pipelines to run (default 1000)")
        ("concurrency", po::value(&one.concurrency)->value_name("C"), "pipelines in flight at once (default 256)")
        ("mode", po::value(&mode)->value_name("M"), "callback | polling (default callback)")
        ("scheme", po::value(&scheme)->value_name("S"), "http | https (default http)")
        ("delay-ms", po::value(&one.delay_ms)->value_name("D"), "emulated separation and MIDI time each (default 0)")
        ("latency", po::bool_switch(&latency), "wait on the callback hub directly to time callback -> resume")
        ("instances", po::value(&one.instances)->value_name("N"),
         "N kiemidi instances (own io thread, listener and Redis callback hub each) behind one round-robin "
         "callback address, sharing callbacks through Redis")
        ("redis", po::value(&a.redis)->value_name("HOST:PORT"),
         "with --instances: a running Redis (default: spawn redis-server on a free port)")
        ("all", po::bool_switch(&all),
         "the standard set (callback/polling x http/https, latency, scale-2k, scale 10,000, multi-instance-1 and "
         "multi-instance-3 when built with Redis)")
        ("tiny", po::bool_switch(&tiny), "with --all: small sizes (CI)")
        ("pool-size", po::value(&a.pool_size)->value_name("N"), "client connection pool size (default 32)")
        ("poll-ms", po::value(&a.poll_interval_ms)->value_name("N"), "polling mode: first poll interval (default 50; backs off x1.5 to 4x)")
        ("base-url", po::value(&a.base_url)->value_name("URL"), "use a running emulator instead of spawning kiemidi-emulator")
        ("api-key", po::value(&a.api_key)->value_name("KEY"), "its API key (default kie-emulator-key)")
        ("ca-file", po::value(&a.ca_file)->value_name("FILE"), "its CA certificate (https)")
        ("emulator", po::value(&a.emulator_exe)->value_name("PATH"), "the kiemidi-emulator executable to spawn")
        ("proxy", po::value(&a.proxy)->value_name("URL"),
         "the client reaches the emulator through this HTTP proxy (e.g. a tinyproxy on 127.0.0.1 allowing CONNECT "
         "to the emulator's ports); the JSON line then says \"proxy\":true and counts the tunnels. Default: "
         "direct (HTTPS_PROXY and friends are ignored)");
    po::options_description desc;
    desc.add(options);
    po::variables_map vm;
    kiemidi::apps::store_command_line(std::vector<std::string>(argv + 1, argv + argc), desc, {}, vm);
    if (vm.count("help"))
    {
        kiemidi::apps::print_help(synopsis, desc);
        return std::nullopt;
    }
    po::notify(vm);
    const bool named = vm.count("scenario") != 0;
    one.concurrency = std::max<std::size_t>(1, one.concurrency);
    if (mode == "callback") one.mode = kiemidi::wait_strategy::callback;
    else if (mode == "polling") one.mode = kiemidi::wait_strategy::polling;
    else throw po::error("--mode must be callback or polling");
    if (scheme != "http" && scheme != "https") throw po::error("--scheme must be http or https");
    one.https = scheme == "https";
    if (latency) one.kind = run_kind::latency;
    if (vm.count("instances")) one.kind = run_kind::multi_instance, one.instances = std::max<std::size_t>(1, one.instances);
    if (vm.count("poll-ms")) a.max_poll_interval_ms = 4 * a.poll_interval_ms;
    if (named && one.name.starts_with("rate-limited"))
    {
        // "rate-limited" runs the 40-track ones, "rate-limited-all" all, otherwise the one named
        for (auto& sc : rate_limited_set())
            if (sc.name == one.name || (one.name == "rate-limited" && sc.pipelines == 40) || one.name == "rate-limited-all")
                a.scenarios.push_back(sc);
        if (a.scenarios.empty()) throw std::invalid_argument("no rate-limited scenario named " + one.name);
        return a;
    }
    if (all || (tiny && !named))
    {
        a.scenarios = standard_set(tiny);
        if (named)
            std::erase_if(a.scenarios, [&](const scenario& s) { return s.name != one.name; });
        if (a.scenarios.empty()) throw std::invalid_argument("no standard scenario named " + one.name);
    }
    else
    {
        if (!named && one.kind == run_kind::multi_instance)
            one.name = "multi-instance-" + std::to_string(one.instances);
        else if (!named)
            one.name = std::string(one.kind == run_kind::latency ? "latency" : one.mode == kiemidi::wait_strategy::polling ? "polling" : "callback") +
                       (one.https ? "-https" : "-http");
        a.scenarios.push_back(one);
    }
    return a;
}

}  // namespace kiemidi::bench
