// The shared command-line conventions; see command_line.hpp.
#include "command_line.hpp"

#include <kiemidi/version.hpp>

#include <iostream>

namespace kiemidi::apps {

void store_command_line(const std::vector<std::string>& args, const po::options_description& options,
                        const po::positional_options_description& positional, po::variables_map& vm)
{
    // No guessing: an abbreviated flag is an unknown one, so that adding a flag never changes
    // what an existing command line means.
    const int style = po::command_line_style::default_style & ~po::command_line_style::allow_guessing;
    po::store(po::command_line_parser(args).options(options).positional(positional).style(style).run(), vm);
}

void print_help(std::string_view synopsis, const po::options_description& options, std::string_view epilogue)
{
    std::cout << synopsis << "\n" << options << epilogue << std::flush;
}

int usage_error(std::string_view program, std::string_view what)
{
    std::cerr << program << ": " << what << "; see " << program << " --help\n";
    return exit_usage_error;
}

void print_version(std::string_view program)
{
    const kiemidi::version_info lib = kiemidi::library_version();
    std::cout << program << " " << lib.string << "\n"
              << "built with Boost " << lib.boost << " and OpenSSL " << lib.openssl << " (running with OpenSSL "
              << lib.openssl_running << ")\n";
    if (!kiemidi::library_matches_headers())
        std::cout << "warning: compiled against the kiemidi " KIEMIDI_VERSION_STRING " headers, running with libkiemidi "
                  << lib.string << "\n";
    std::cout << std::flush;
}

}  // namespace kiemidi::apps
