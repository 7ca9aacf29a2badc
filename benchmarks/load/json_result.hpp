// The pieces of a scenario's JSON result line that every kind of run writes the same way: numbers
// at a fixed precision, escaped strings, percentiles, and the requests per pipeline by endpoint.
#ifndef KIEMIDI_BENCHMARKS_LOAD_JSON_RESULT_HPP
#define KIEMIDI_BENCHMARKS_LOAD_JSON_RESULT_HPP

#include "emulator_counters.hpp"

#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

namespace kiemidi::bench {

/// The p-th percentile (0..100) of `v`, 0 when empty.
double percentile(std::vector<double> v, double p);

/// `v` with `digits` decimals.
std::string fmt(double v, int digits = 3);

/// `s` as a JSON string (quotes and backslashes escaped, control characters as spaces).
std::string json_string(const std::string& s);

/// Writes `,"requests_per_pipeline":{...}`: each endpoint whose count moved between `before` and
/// `after`, divided by `n` pipelines; `skip` names an endpoint left out. Empty when a count is missing.
void write_requests_per_pipeline(std::ostream& j, const std::optional<emulator_counters>& before,
                                 const std::optional<emulator_counters>& after, double n,
                                 std::string_view skip = {});

}  // namespace kiemidi::bench

#endif
