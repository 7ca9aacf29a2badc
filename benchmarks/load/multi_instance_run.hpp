// One scenario on several kiemidi instances in this process sharing callbacks through Redis,
// behind one round-robin callback address, as separate backend processes would; one JSON line.
#ifndef KIEMIDI_BENCHMARKS_LOAD_MULTI_INSTANCE_RUN_HPP
#define KIEMIDI_BENCHMARKS_LOAD_MULTI_INSTANCE_RUN_HPP

#include "options.hpp"
#include "scenario.hpp"

namespace kiemidi::bench {

/// Runs a multi_instance scenario and prints its JSON line; skipped (true) without Redis.
/// Returns false when a pipeline failed.
bool run_multi_instance(const driver_args& args, const scenario& sc);

}  // namespace kiemidi::bench

#endif
