// kiemidi-emulator: a local KIE.AI stand-in for demos, tests and benchmarks.
// Serves KIE's separation/MIDI endpoints on loopback over HTTP and HTTPS, prints the base URLs and
// the API key, and runs until SIGINT or SIGTERM. `--help` lists the options.
#include "emulator_cli.hpp"

#include <iostream>

int main(int argc, char** argv)
{
    using namespace kiemidi::apps;
    emulator_cli_options opts;
    try
    {
        opts = parse_emulator_args(std::vector<std::string>(argv + 1, argv + argc));
    }
    catch (const emulator_cli_error& e)
    {
        std::cerr << "kiemidi-emulator: " << e.what() << "\nusage: kiemidi-emulator [options]\n" << emulator_options_help;
        return 2;
    }
    if (opts.help)
    {
        std::cout << "usage: kiemidi-emulator [options]\n" << emulator_options_help;
        return 0;
    }
    return serve_emulator(opts, "kiemidi-emulator");
}
