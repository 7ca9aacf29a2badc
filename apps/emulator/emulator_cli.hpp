// Command-line front end of the local KIE emulator, shared by `kiemidi-emulator` and
// `kiemidi emulator`: the option table (parse_emulator_args) and the serve-until-signal loop
// (serve_emulator). Both report problems on stderr and return the process exit code.
#ifndef KIEMIDI_APPS_EMULATOR_CLI_HPP
#define KIEMIDI_APPS_EMULATOR_CLI_HPP

#include <kiemidi/emulator.hpp>

#include <stdexcept>
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
};

/// A flag or value the emulator does not accept; what() names it.
struct emulator_cli_error : std::invalid_argument
{
    using std::invalid_argument::invalid_argument;
};

/// The option lines of --help (without a "usage:" line).
extern const std::string_view emulator_options_help;

/// Parses emulator flags (`--flag value` or `--flag=value`); `args` excludes the program name.
/// Throws emulator_cli_error.
emulator_cli_options parse_emulator_args(const std::vector<std::string>& args);

/// Starts the server, prints its URLs and API key on stdout (and writes the CA when asked),
/// serves until SIGINT or SIGTERM, then prints a one-line summary. Returns 0, or 1 on failure
/// (with `program: reason` on stderr).
int serve_emulator(const emulator_cli_options& opts, std::string_view program);

}  // namespace kiemidi::apps

#endif
