// Command-line front end of the local KIE emulator, shared by `kiemidi-emulator` and
// `kiemidi emulator`: the options (parse_emulator_args, Boost.ProgramOptions with the conventions
// of command_line.hpp) and the serve-until-signal loop (serve_emulator); emulator_main is both.
#ifndef KIEMIDI_APPS_EMULATOR_CLI_HPP
#define KIEMIDI_APPS_EMULATOR_CLI_HPP

#include "command_line.hpp"

#include <kiemidi/emulator/server.hpp>

#include <string>
#include <string_view>
#include <vector>

namespace kiemidi::apps {

/// What the emulator's command line asks for.
struct emulator_cli_options
{
    emulator::emulator_options server;  ///< The server's options (ports, delays, faults, ...).
    std::string ca_out;                 ///< Write the HTTPS CA (PEM) here when not empty.
    unsigned threads = 1;               ///< io threads.
    bool help = false;                  ///< --help was given.
    bool version = false;               ///< --version was given.
};

/// Parses emulator flags (`--flag value` or `--flag=value`); `args` excludes the program name.
/// Throws po::error naming the flag that is unknown or whose value is not accepted.
emulator_cli_options parse_emulator_args(const std::vector<std::string>& args);

/// The whole command line of `program` ("kiemidi-emulator" or "kiemidi emulator"): parses
/// `args`, answers --help or --version (exit 0) or a usage error (exit 2), otherwise serves. Returns the exit code.
int emulator_main(std::string_view program, const std::vector<std::string>& args);

/// Starts the server, prints its URLs and API key on stdout (and writes the CA when asked),
/// serves until SIGINT or SIGTERM, then prints a one-line summary. Returns 0, or 1 on failure
/// (with `program: reason` on stderr).
int serve_emulator(const emulator_cli_options& opts, std::string_view program);

}  // namespace kiemidi::apps

#endif
