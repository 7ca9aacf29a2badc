// kiemidi-bench-load: runs many song → MIDI pipelines against the KIE emulator and prints one
// JSON line per scenario (throughput, client CPU, memory per pipeline in flight, requests per
// pipeline by endpoint, connections, callback → resume latency, overhead over the emulated delay).
//
// The emulator runs as a separate process (the built kiemidi-emulator, started per scenario on
// 127.0.0.1 with free ports), so CPU and memory figures are the client's alone. With --base-url
// an already running emulator is used instead. `--help` lists the flags; benchmarks/README.md
// explains the scenarios and the numbers.
#include "command_line.hpp"
#include "load/multi_instance_run.hpp"
#include "load/options.hpp"
#include "load/process_usage.hpp"
#include "load/single_instance_run.hpp"

#include <signal.h>

#include <iostream>
#include <stdexcept>

using namespace kiemidi::bench;

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
