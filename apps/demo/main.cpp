// kiemidi-demo: the main job. Runs song → MIDI pipelines concurrently with
// `client::async_generate_midi`, one line per track and a summary.
//
// With no KIE_API_KEY in the environment it starts the embedded KIE emulator and a callback
// listener in-process, and runs a few dozen tracks (the emulator's music tasks). With KIE_API_KEY
// (and optionally KIE_BASE_URL) it talks to the real service: give the tracks as TASK_ID:AUDIO_ID
// arguments, and either a public URL that reaches the listener (--public-url, --listen-port) or
// --poll-only. Separation and MIDI generation are paid requests.
#include "command_line.hpp"
#include <kiemidi/nothrow_awaitable.hpp>

#include <kiemidi/callback_listener.hpp>
#include <kiemidi/client.hpp>
#include <kiemidi/emulator/server.hpp>
#include <kiemidi/in_process_callback_hub.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <cstdio>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace asio = boost::asio;
using namespace std::chrono_literals;
using kiemidi::use_nothrow_awaitable;

namespace {

constexpr const char* program = "kiemidi-demo";

struct track
{
    std::string task_id;
    std::string audio_id;
};

struct demo_args
{
    std::vector<track> tracks;
    int emulated_tracks = 36;
    bool poll_only = false;
    std::uint16_t listen_port = 0;
    std::string listen_address = "127.0.0.1";
    std::string public_url;
};

constexpr const char* synopsis =
    "usage: kiemidi-demo [--tracks N] [--poll-only] [--listen-address A] [--listen-port P]\n"
    "                    [--public-url URL] [TASK_ID:AUDIO_ID ...]\n"
    "Without KIE_API_KEY: runs N (default 36) tracks on the embedded emulator.\n"
    "With KIE_API_KEY (and KIE_BASE_URL): runs the given tracks on that service (paid).";

/// The command line; nullopt after --help or a usage error, with `exit_code` set.
std::optional<demo_args> parse_args(int argc, char** argv, int& exit_code)
{
    namespace po = kiemidi::apps::po;
    demo_args a;
    std::vector<std::string> tracks;
    po::options_description options("options");
    options.add_options()
        ("help,h", "this text")
        ("version", "print the version and exit")
        ("tracks", po::value(&a.emulated_tracks)->value_name("N"), "tracks to run on the embedded emulator (default 36)")
        ("poll-only", po::bool_switch(&a.poll_only), "no listener: poll record-info for results")
        ("listen-address", po::value(&a.listen_address)->value_name("A"), "callback listener address (default 127.0.0.1)")
        ("listen-port", po::value(&a.listen_port)->value_name("P"), "callback listener port (default 0 = any free port)")
        ("public-url", po::value(&a.public_url)->value_name("URL"), "base URL at which KIE reaches the listener")
        ("track", po::value(&tracks)->value_name("TASK_ID:AUDIO_ID"), "a track of the real service (also positional)");
    po::options_description desc;
    desc.add(options);
    po::positional_options_description pos;
    pos.add("track", -1);
    try
    {
        po::variables_map vm;
        kiemidi::apps::store_command_line(std::vector<std::string>(argv + 1, argv + argc), desc, pos, vm);
        if (vm.count("help"))
        {
            kiemidi::apps::print_help(synopsis, desc);
            exit_code = 0;
            return std::nullopt;
        }
        if (vm.count("version"))
        {
            kiemidi::apps::print_version(program);
            exit_code = 0;
            return std::nullopt;
        }
        po::notify(vm);
        for (const auto& t : tracks)
        {
            auto colon = t.find(':');
            if (colon == std::string::npos || colon == 0 || colon + 1 == t.size())
                throw po::error("a track is TASK_ID:AUDIO_ID, not '" + t + "'");
            a.tracks.push_back({t.substr(0, colon), t.substr(colon + 1)});
        }
    }
    catch (const po::error& e)
    {
        exit_code = kiemidi::apps::usage_error(program, e.what());
        return std::nullopt;
    }
    return a;
}

struct totals
{
    int done = 0;
    int failed = 0;
    std::size_t notes = 0;
};

asio::awaitable<void> run_track(kiemidi::client& kie, track t, kiemidi::wait_options wait, totals& sum)
{
    kiemidi::midi_params params{.task_id = t.task_id, .audio_id = t.audio_id};
    params.wait = wait;
    kiemidi::diagnostics diag;
    auto [ec, midi] = co_await kie.async_generate_midi(std::move(params), diag, use_nothrow_awaitable);
    char line[256];
    if (ec)
    {
        ++sum.failed;
        std::cout << "FAIL " << t.task_id << ':' << t.audio_id << "  " << ec.message() << "  " << diag.to_string() << '\n';
        co_return;
    }
    ++sum.done;
    sum.notes += midi.note_count();
    std::snprintf(line, sizeof line, "ok   %-14s %-28s %2zu instruments %5zu notes  %6.3f s  %s", t.task_id.c_str(),
                  t.audio_id.c_str(), midi.instruments.size(), midi.note_count(),
                  std::chrono::duration<double>(midi.total_time).count(), midi.callbacks == 2 ? "callbacks" : "polled");
    std::cout << line << '\n';
}

asio::awaitable<void> run_all(kiemidi::client& kie, std::vector<track> tracks, kiemidi::wait_options wait, totals& sum)
{
    // Every track is its own coroutine; all run concurrently on this one thread. The group ends
    // when the last one does (none outlives this function).
    auto ex = co_await asio::this_coro::executor;
    std::size_t remaining = tracks.size();
    asio::steady_timer all_done(ex, asio::steady_timer::time_point::max());
    for (auto& t : tracks)
    {
        asio::co_spawn(ex, run_track(kie, std::move(t), wait, sum), [&](std::exception_ptr) {
            if (--remaining == 0) all_done.cancel();
        });
    }
    if (remaining) co_await all_done.async_wait(use_nothrow_awaitable);
}

}  // namespace

int main(int argc, char** argv)
{
    try
    {
        int exit_code = 0;
        auto args = parse_args(argc, argv, exit_code);
        if (!args) return exit_code;

        asio::io_context ioc;
        std::unique_ptr<kiemidi::emulator::server> emu;
        auto opts = kiemidi::client_options::from_environment();
        if (!opts)
        {
            // The embedded KIE: HTTPS with a CA generated at start-up, callbacks to our listener.
            kiemidi::emulator::emulator_options eo;
            eo.separation_delay = 300ms;
            eo.midi_delay = 300ms;
            emu = std::make_unique<kiemidi::emulator::server>(ioc.get_executor(), eo);
            emu->start();
            opts.emplace();
            opts->base_url = emu->https_base_url();
            opts->api_key = eo.api_key;
            opts->transport.tls.ca_pem = emu->ca_certificate_pem();
            // The emulator does not enforce KIE's 20-per-10-s submission limit, so the demo need
            // not wait for it; against the real service the client keeps its default of 19.
            opts->transport.rate_limit.enabled = false;
            std::cout << "KIE: embedded emulator at " << opts->base_url << " (set KIE_API_KEY to use the real service)\n";
            for (int i = 0; i < args->emulated_tracks; ++i)
                args->tracks.push_back({"music-" + std::to_string(i / 2), "track-" + std::to_string(i)});
        }
        else
        {
            std::cout << "KIE: " << opts->base_url << '\n';
            if (args->tracks.empty())
                return kiemidi::apps::usage_error(program, "with a real service, give the tracks as TASK_ID:AUDIO_ID");
            if (!args->poll_only && args->public_url.empty())
                return kiemidi::apps::usage_error(program, "with a real service, give --public-url (reaching the listener) or --poll-only");
        }

        kiemidi::in_process_callback_hub hub(ioc.get_executor());
        kiemidi::listener_options lo;
        lo.bind_address = args->listen_address;
        lo.port = args->listen_port;
        lo.public_base_url = args->public_url;
        kiemidi::callback_listener listener(ioc.get_executor(), lo, hub);
        kiemidi::client kie(ioc.get_executor(), std::move(*opts));
        kiemidi::wait_options wait;
        if (args->poll_only)
        {
            wait.strategy = kiemidi::wait_strategy::polling;
            if (emu) wait.poll_interval = 200ms;
        }
        else
        {
            listener.start();
            kie.attach_callbacks(hub, listener);
            std::cout << "callbacks: listener on " << args->listen_address << ':' << listener.port() << '\n';
        }

        totals sum;
        const auto t0 = std::chrono::steady_clock::now();
        std::exception_ptr failure;
        asio::co_spawn(ioc, run_all(kie, args->tracks, wait, sum), [&](std::exception_ptr e) {
            failure = e;
            kie.close();
            listener.stop();
            hub.close();
            if (emu) emu->stop();
        });
        ioc.run();
        if (failure) std::rethrow_exception(failure);

        const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        const auto stats = kie.transport_stats();
        char line[256];
        std::snprintf(line, sizeof line,
                      "summary: %zu tracks, %d ok, %d failed, %zu notes, %llu requests over %llu connection(s), %llu callbacks, %.2f s",
                      args->tracks.size(), sum.done, sum.failed, sum.notes,
                      static_cast<unsigned long long>(stats.requests_sent),
                      static_cast<unsigned long long>(stats.connections_opened),
                      static_cast<unsigned long long>(listener.stats().callbacks_accepted), seconds);
        std::cout << line << '\n';
        return sum.failed == 0 ? 0 : 1;
    }
    catch (const std::exception& e)
    {
        std::cerr << program << ": " << e.what() << '\n';
        return 1;
    }
}
