// The command-line conventions every kiemidi executable shares (the kiemidi CLI, kiemidi-emulator,
// kiemidi-demo and the benchmark drivers): Boost.ProgramOptions with long options written
// `--flag value` or `--flag=value` and never abbreviated, one --help layout (the usage lines, then
// the option groups), one usage-error line with exit code 2, and one --version text.
#ifndef KIEMIDI_APPS_COMMAND_LINE_HPP
#define KIEMIDI_APPS_COMMAND_LINE_HPP

#include <boost/program_options.hpp>

#include <string>
#include <string_view>
#include <vector>

namespace kiemidi::apps {

namespace po = boost::program_options;

/// The exit code of a usage error (a bad flag or value); the kiemidi CLI documents it as 2.
inline constexpr int exit_usage_error = 2;

/// Stores `args` (without the program name) into `vm` as `options` and `positional` describe
/// them; does not run po::notify, so that --help works without the required options. Throws
/// po::error naming the flag.
void store_command_line(const std::vector<std::string>& args, const po::options_description& options,
                        const po::positional_options_description& positional, po::variables_map& vm);

/// The --help text on stdout: `synopsis` ("usage: PROGRAM ..." and what it does), the option
/// groups (captioned groups added to an uncaptioned list, so that a blank line precedes each),
/// then `epilogue`.
void print_help(std::string_view synopsis, const po::options_description& options, std::string_view epilogue = {});

/// The usage error on stderr, "PROGRAM: WHAT; see PROGRAM --help". Returns exit_usage_error.
int usage_error(std::string_view program, std::string_view what);

/// The --version text on stdout: "PROGRAM VERSION", then the Boost and OpenSSL versions the
/// kiemidi library was built with (and the OpenSSL it runs with), and a warning line when the
/// library it runs with is not the one its headers promised (library_matches_headers()).
void print_version(std::string_view program);

}  // namespace kiemidi::apps

#endif
