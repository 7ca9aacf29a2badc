// The load driver's command line: which scenarios to run, against which emulator (spawned or
// already running), and the client's settings that are not part of a scenario.
#ifndef KIEMIDI_BENCHMARKS_LOAD_OPTIONS_HPP
#define KIEMIDI_BENCHMARKS_LOAD_OPTIONS_HPP

#include "scenario.hpp"

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

namespace kiemidi::bench {

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

inline constexpr const char* program = "kiemidi-bench-load";

/// The command line; nullopt after --help. Throws po::error (or std::invalid_argument) on a usage error.
std::optional<driver_args> parse_args(int argc, char** argv);

}  // namespace kiemidi::bench

#endif
