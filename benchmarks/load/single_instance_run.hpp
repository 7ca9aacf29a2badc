// One scenario on one client in this process (pipeline and latency kinds): the emulator spawned
// for it unless one is given, an in-process callback hub, and one JSON line on stdout.
#ifndef KIEMIDI_BENCHMARKS_LOAD_SINGLE_INSTANCE_RUN_HPP
#define KIEMIDI_BENCHMARKS_LOAD_SINGLE_INSTANCE_RUN_HPP

#include "options.hpp"
#include "scenario.hpp"

namespace kiemidi::bench {

/// Runs one scenario and prints its JSON line. Returns false when a pipeline failed.
bool run_scenario(const driver_args& args, const scenario& sc);

}  // namespace kiemidi::bench

#endif
