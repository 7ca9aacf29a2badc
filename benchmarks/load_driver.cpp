// kiemidi-bench-load: runs many song → MIDI pipelines against the KIE emulator and prints one
// JSON line per scenario (throughput, client CPU, memory per pipeline in flight, requests per
// pipeline by endpoint, connections, callback → resume latency, overhead over the emulated delay).
//
// The emulator runs as a separate process (the built kiemidi-emulator, started per scenario on
// 127.0.0.1 with free ports), so CPU and memory figures are the client's alone. With --base-url
// an already running emulator is used instead. `--help` lists the flags; benchmarks/README.md
// explains the scenarios and the numbers.
#include "command_line.hpp"
#include "../src/nothrow_awaitable.hpp"

#include <kiemidi/in_process_callback_hub.hpp>
#include <kiemidi/callback_listener.hpp>
#include <kiemidi/client.hpp>
#ifdef KIEMIDI_WITH_REDIS
#include <kiemidi/redis_callback_hub.hpp>

#include "common/redis_server.hpp"
#include "common/round_robin_forwarder.hpp"

#include <atomic>
#include <thread>

#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#endif

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

extern char** environ;

namespace asio = boost::asio;
using namespace std::chrono_literals;
using kiemidi::use_nothrow_awaitable;
using steady = std::chrono::steady_clock;

namespace {

// ---- measurement helpers ----------------------------------------------------------------------

/// A field of /proc/self/status in KiB (VmRSS, VmHWM), 0 if unreadable.
long proc_status_kib(const char* field)
{
    std::ifstream in("/proc/self/status");
    std::string line;
    const std::string key = std::string(field) + ":";
    while (std::getline(in, line))
        if (line.rfind(key, 0) == 0) return std::strtol(line.c_str() + key.size(), nullptr, 10);
    return 0;
}

/// CPU time of this process (getrusage), user + system and system alone: the kernel's share
/// (sockets, epoll, page faults) is what no client of the same protocol can avoid.
struct cpu_time
{
    double total = 0, sys = 0;
};

cpu_time cpu_seconds()
{
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    auto tv = [](timeval t) { return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6; };
    return {tv(ru.ru_utime) + tv(ru.ru_stime), tv(ru.ru_stime)};
}

double percentile(std::vector<double> v, double p)
{
    if (v.empty()) return 0;
    std::sort(v.begin(), v.end());
    auto idx = static_cast<std::size_t>(p / 100.0 * static_cast<double>(v.size() - 1) + 0.5);
    return v[std::min(idx, v.size() - 1)];
}

std::string fmt(double v, int digits = 3)
{
    char b[64];
    std::snprintf(b, sizeof b, "%.*f", digits, v);
    return b;
}

/// Raises the open-file limit to the hard limit (10,000 pipelines need many sockets); the
/// spawned emulator inherits it.
void raise_fd_limit()
{
    rlimit rl{};
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max)
    {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

// ---- the emulator as a child process -------------------------------------------------------------

std::uint16_t free_port()
{
    asio::io_context ioc;
    asio::ip::tcp::acceptor a(ioc, {asio::ip::make_address("127.0.0.1"), 0});
    return a.local_endpoint().port();
}

/// A kiemidi-emulator process on 127.0.0.1; stopped (SIGTERM, then SIGKILL) on destruction.
class emulator_process
{
public:
    emulator_process(const std::string& exe, int delay_ms, const std::filesystem::path& ca_out,
                     std::vector<std::string> extra = {})
    {
        http_port_ = free_port();
        https_port_ = free_port();
        std::vector<std::string> args{exe,
                                      "--address", "127.0.0.1",
                                      "--http-port", std::to_string(http_port_),
                                      "--https-port", std::to_string(https_port_),
                                      "--ca-out", ca_out.string(),
                                      "--separation-delay-ms", std::to_string(delay_ms),
                                      "--midi-delay-ms", std::to_string(delay_ms)};
        args.insert(args.end(), extra.begin(), extra.end());
        std::vector<char*> argv;
        for (auto& a : args) argv.push_back(a.data());
        argv.push_back(nullptr);

        int out[2];
        if (pipe(out) != 0) throw std::runtime_error("pipe failed");
        posix_spawn_file_actions_t fa;
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_adddup2(&fa, out[1], 1);
        posix_spawn_file_actions_addclose(&fa, out[0]);
        int rc = posix_spawn(&pid_, exe.c_str(), &fa, nullptr, argv.data(), environ);
        posix_spawn_file_actions_destroy(&fa);
        close(out[1]);
        if (rc != 0)
        {
            close(out[0]);
            throw std::runtime_error("cannot start " + exe);
        }
        // Ready when it has printed its API key line (ports bound, CA written); at most 15 s.
        std::string text;
        const auto until = steady::now() + 15s;
        while (text.find("api key:") == std::string::npos)
        {
            auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - steady::now()).count();
            pollfd p{out[0], POLLIN, 0};
            if (left <= 0 || poll(&p, 1, static_cast<int>(left)) <= 0) break;
            char buf[512];
            auto n = read(out[0], buf, sizeof buf);
            if (n <= 0) break;
            text.append(buf, static_cast<std::size_t>(n));
        }
        // Keep the pipe's read end open but unread: the emulator prints only a line at exit.
        out_fd_ = out[0];
        if (text.find("api key:") == std::string::npos)
        {
            stop();
            throw std::runtime_error("kiemidi-emulator did not start: " + text);
        }
    }
    ~emulator_process() { stop(); }
    emulator_process(const emulator_process&) = delete;
    emulator_process& operator=(const emulator_process&) = delete;

    std::string base_url(bool https) const
    {
        return std::string(https ? "https" : "http") + "://127.0.0.1:" + std::to_string(https ? https_port_ : http_port_);
    }

    void stop()
    {
        if (pid_ > 0)
        {
            kill(pid_, SIGTERM);
            const auto until = steady::now() + 5s;
            int status = 0;
            while (waitpid(pid_, &status, WNOHANG) == 0)
            {
                if (steady::now() > until)
                {
                    kill(pid_, SIGKILL);
                    waitpid(pid_, &status, 0);
                    break;
                }
                usleep(10000);
            }
            pid_ = -1;
        }
        if (out_fd_ >= 0) close(out_fd_), out_fd_ = -1;
    }

private:
    pid_t pid_ = -1;
    int out_fd_ = -1;
    std::uint16_t http_port_ = 0, https_port_ = 0;
};

// ---- scenarios --------------------------------------------------------------------------------------

enum class run_kind
{
    pipeline,  ///< client::async_generate_midi
    latency,   ///< the pipeline's steps by hand, waiting on the hub directly to time callback → resume
    multi_instance,  ///< `instances` clients (own io thread, listener, Redis hub each) behind one callback address
};

struct scenario
{
    std::string name;
    std::size_t pipelines = 1000;
    std::size_t concurrency = 256;
    kiemidi::wait_strategy mode = kiemidi::wait_strategy::callback;
    bool https = false;
    int delay_ms = 0;
    run_kind kind = run_kind::pipeline;
    std::size_t instances = 1;  ///< multi_instance: how many
    // rate-limited scenarios: the emulator enforces `server_limit` paid POSTs per 10 s (counted at
    // arrival), answering each paid POST after accept_latency_ms + 0..jitter_ms; the client assumes `client_limit`
    unsigned server_limit = 0;
    unsigned client_limit = 0;
    int accept_latency_ms = 0;
    int jitter_ms = 0;
};

/// The emulator's flags for a scenario beyond its task delay: the account limit, when it has one.
std::vector<std::string> emulator_flags(const scenario& sc)
{
    if (sc.server_limit == 0) return {};
    return {"--rate-limit-per-10s", std::to_string(sc.server_limit), "--accept-latency-ms",
            std::to_string(sc.accept_latency_ms), "--accept-latency-jitter-ms", std::to_string(sc.jitter_ms)};
}

/// How long the account's limit alone stretches a rate-limited scenario (zero otherwise).
std::chrono::seconds limit_time(const scenario& sc)
{
    if (sc.server_limit == 0) return std::chrono::seconds(0);
    return std::chrono::seconds(10 * (2 * sc.pipelines / sc.server_limit + 2));
}

/// The rate-limited set: a batch saturating the account's limit (2 paid POSTs per pipeline).
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

struct driver_args
{
    std::vector<scenario> scenarios;
    std::string base_url;  // external emulator, else spawn one
    std::string api_key = "kie-emulator-key";
    std::string ca_file;
    std::string emulator_exe = KIEMIDI_EMULATOR_EXE;
    std::size_t pool_size = 32;
    int poll_interval_ms = 50;
    int max_poll_interval_ms = 200;
    std::string redis;  // multi-instance: HOST:PORT of a running Redis, else spawn redis-server
    std::string proxy;  // the client's HTTP proxy (CONNECT tunnels); empty: direct, whatever the environment says
};

constexpr const char* program = "kiemidi-bench-load";
constexpr const char* synopsis = "usage: kiemidi-bench-load [options]\nPrints one JSON line per scenario on stdout.";

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

/// The command line; nullopt after --help. Throws po::error (or std::invalid_argument) on a usage error.
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

// ---- one scenario ------------------------------------------------------------------------------------

struct tallies
{
    std::size_t started = 0, done = 0, failed = 0, in_flight = 0, peak_in_flight = 0;
    std::string first_error;
    std::vector<double> overhead_ms;       // per pipeline: wall time − 2 × delay
    std::vector<double> resume_latency_us; // latency scenario: listener received → coroutine resumed
    std::size_t buffered_callbacks = 0;    // latency scenario: callbacks that arrived before the wait began
    std::uint64_t polls = 0, callbacks = 0;
};

struct env
{
    kiemidi::client& kie;
    kiemidi::callback_hub& hub;
    const scenario& sc;
    kiemidi::wait_options wait;
    tallies& t;
};

void record_failure(tallies& t, const std::string& what)
{
    ++t.failed;
    if (t.first_error.empty()) t.first_error = what;
}

asio::awaitable<void> one_pipeline(env& e, std::size_t i)
{
    kiemidi::midi_params p;
    p.task_id = "bench-music-" + std::to_string(i / 2);
    p.audio_id = "bench-audio-" + std::to_string(i);
    p.wait = e.wait;
    // Generous: on a loaded machine the emulator's callbacks for thousands of tasks queue up.
    p.stage_timeout = std::chrono::milliseconds(e.sc.delay_ms) + 60s + e.sc.pipelines * 10ms + limit_time(e.sc);
    p.deadline = 2 * p.stage_timeout;
    kiemidi::diagnostics diag;
    const auto t0 = steady::now();
    auto [ec, r] = co_await e.kie.async_generate_midi(std::move(p), diag, use_nothrow_awaitable);
    const double ms = std::chrono::duration<double, std::milli>(steady::now() - t0).count();
    if (ec) { record_failure(e.t, ec.message() + " " + diag.to_string()); co_return; }
    if (r.note_count() == 0) { record_failure(e.t, "pipeline returned no notes"); co_return; }
    ++e.t.done;
    e.t.polls += r.polls;
    e.t.callbacks += r.callbacks;
    e.t.overhead_ms.push_back(ms - 2.0 * e.sc.delay_ms);
}

/// The pipeline's two stages by hand, each wait done on the hub itself, to read when the listener
/// received each callback (callback_message::received_at) and when this coroutine resumed.
asio::awaitable<void> one_latency_pipeline(env& e, std::size_t i)
{
    kiemidi::diagnostics diag;
    const auto t0 = steady::now();
    kiemidi::api::separation_request sreq;
    sreq.task_id = "bench-music-" + std::to_string(i / 2);
    sreq.audio_id = "bench-audio-" + std::to_string(i);
    auto [ec1, sep] = co_await e.kie.async_submit_separation(std::move(sreq), diag, use_nothrow_awaitable);
    if (ec1) { record_failure(e.t, "separate: " + ec1.message() + " " + diag.to_string()); co_return; }

    auto wait_on_hub = [&](kiemidi::callback_kind kind, std::string task_id) -> asio::awaitable<bool> {
        const auto wait_started = std::chrono::system_clock::now();
        asio::steady_timer deadline(co_await asio::this_coro::executor,
                                    std::chrono::milliseconds(e.sc.delay_ms) + 60s + e.sc.pipelines * 10ms);
        deadline.async_wait([&](boost::system::error_code ec) { if (!ec) e.hub.close(); });
        auto [ec, msg] = co_await e.hub.async_wait(kind, std::move(task_id), use_nothrow_awaitable);
        const auto resumed = std::chrono::system_clock::now();
        deadline.cancel();
        if (ec) { record_failure(e.t, "hub wait: " + ec.message()); co_return false; }
        if (msg.received_at < wait_started) ++e.t.buffered_callbacks;  // arrived first: not a resume latency
        else e.t.resume_latency_us.push_back(std::chrono::duration<double, std::micro>(resumed - msg.received_at).count());
        ++e.t.callbacks;
        co_return true;
    };
    std::string sep_id = sep.task_id;
    if (!co_await wait_on_hub(kiemidi::callback_kind::separation, std::move(sep_id))) co_return;

    kiemidi::api::midi_request mreq;
    mreq.task_id = sep.task_id;
    auto [ec2, midi] = co_await e.kie.async_submit_midi(std::move(mreq), diag, use_nothrow_awaitable);
    if (ec2) { record_failure(e.t, "transcribe: " + ec2.message() + " " + diag.to_string()); co_return; }
    std::string midi_id = midi.task_id;
    if (!co_await wait_on_hub(kiemidi::callback_kind::midi, std::move(midi_id))) co_return;
    ++e.t.done;
    const double ms = std::chrono::duration<double, std::milli>(steady::now() - t0).count();
    e.t.overhead_ms.push_back(ms - 2.0 * e.sc.delay_ms);
}

/// Keeps `concurrency` pipelines running until `pipelines` have started.
asio::awaitable<void> worker(env& e)
{
    while (e.t.started < e.sc.pipelines)
    {
        const auto i = e.t.started++;
        ++e.t.in_flight;
        e.t.peak_in_flight = std::max(e.t.peak_in_flight, e.t.in_flight);
        if (e.sc.kind == run_kind::latency) co_await one_latency_pipeline(e, i);
        else co_await one_pipeline(e, i);
        --e.t.in_flight;
    }
}

struct emulator_counters
{
    std::map<std::string, std::uint64_t> requests;
    std::uint64_t tcp = 0, tls = 0, callbacks_sent = 0, duplicate_paid = 0;
};

asio::awaitable<std::optional<emulator_counters>> fetch_counters(kiemidi::http_client& http)
{
    kiemidi::http_request req;
    req.target = "/emulator/counters";
    kiemidi::diagnostics diag;
    auto [ec, res] = co_await http.async_execute(std::move(req), diag, use_nothrow_awaitable);
    if (ec || res.status != 200) co_return std::nullopt;
    boost::system::error_code jec;
    auto v = boost::json::parse(res.body, jec);
    if (jec || !v.is_object() || !v.as_object().contains("requests")) co_return std::nullopt;
    emulator_counters c;
    for (auto& [k, n] : v.at("requests").as_object()) c.requests[std::string(k)] = n.to_number<std::uint64_t>();
    c.tcp = v.at("tcp_connections_accepted").to_number<std::uint64_t>();
    c.tls = v.at("tls_connections_accepted").to_number<std::uint64_t>();
    c.callbacks_sent = v.at("callbacks_sent").to_number<std::uint64_t>();
    c.duplicate_paid = v.at("duplicate_paid_submissions").to_number<std::uint64_t>();
    co_return c;
}

/// A transport of its own for the emulator's counters, to the client's base URL with its TLS
/// settings: the client's pool serves only KIE requests.
kiemidi::transport_options counters_transport(const kiemidi::client_options& co)
{
    kiemidi::transport_options t = co.transport;
    t.base_url = co.base_url;
    t.bearer_token = co.api_key;
    t.pool_size = 1;
    t.proxy.use_environment = false;  // the counters are not what is measured: always direct
    t.proxy.url.clear();
    return t;
}

std::string json_string(const std::string& s)
{
    std::string o = "\"";
    for (char c : s)
    {
        if (c == '"' || c == '\\') o += '\\', o += c;
        else if (static_cast<unsigned char>(c) < 0x20) o += ' ';
        else o += c;
    }
    return o + "\"";
}

/// Runs one scenario and prints its JSON line. Returns false when a pipeline failed.
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
    j << ",\"requests_per_pipeline\":{";
    if (before && after)
    {
        bool first = true;
        for (auto& [k, v] : after->requests)
        {
            auto b = before->requests.count(k) ? before->requests.at(k) : 0;
            if (v == b) continue;
            j << (first ? "" : ",") << json_string(k) << ":" << fmt(static_cast<double>(v - b) / n, 3);
            first = false;
        }
    }
    j << "}";
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


#ifdef KIEMIDI_WITH_REDIS
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
    j << ",\"requests_per_pipeline\":{";
    if (before && after)
    {
        bool first = true;
        for (auto& [k, v] : after->requests)
        {
            auto b = before->requests.count(k) ? before->requests.at(k) : 0;
            if (v == b || k == "GET /emulator/counters") continue;
            j << (first ? "" : ",") << json_string(k) << ":" << fmt(static_cast<double>(v - b) / n, 3);
            first = false;
        }
    }
    j << "}";
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
}  // namespace

int main(int argc, char** argv)
{
    try
    {
        auto args = parse_args(argc, argv);
        if (!args) return 0;
        raise_fd_limit();
        signal(SIGPIPE, SIG_IGN);
        bool ok = true;
        for (const auto& sc : args->scenarios)
            ok = (sc.kind == run_kind::multi_instance ? run_multi_instance(*args, sc) : run_scenario(*args, sc)) && ok;
        return ok ? 0 : 1;
    }
    catch (const kiemidi::apps::po::error& e)
    {
        return kiemidi::apps::usage_error(program, e.what());
    }
    catch (const std::invalid_argument& e)
    {
        return kiemidi::apps::usage_error(program, e.what());
    }
    catch (const std::exception& e)
    {
        std::cerr << program << ": " << e.what() << "\n";
        return 1;
    }
}
