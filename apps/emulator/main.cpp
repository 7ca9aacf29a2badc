// kiemidi-emulator: a local KIE.AI stand-in for demos, tests and benchmarks.
// Serves KIE's separation/MIDI endpoints on loopback over HTTP and HTTPS, prints the base URLs and
// the API key, and runs until SIGINT or SIGTERM. `--help` lists the options.
#include "emulator_cli.hpp"

int main(int argc, char** argv)
{
    return kiemidi::apps::emulator_main("kiemidi-emulator", std::vector<std::string>(argv + 1, argv + argc));
}
