// A load scenario: how many pipelines, how many at once, how they wait, over which scheme, how
// long the emulator takes, and the account limit it enforces; plus the named sets the driver runs.
#ifndef KIEMIDI_BENCHMARKS_LOAD_SCENARIO_HPP
#define KIEMIDI_BENCHMARKS_LOAD_SCENARIO_HPP

#include <kiemidi/client.hpp>

#include <chrono>
#include <cstddef>
#include <string>
#include <vector>

namespace kiemidi::bench {

enum class run_kind
{
    pipeline,  ///< client::async_generate_midi
    latency,   ///< the pipeline's steps by hand, waiting on the hub directly to time callback → resume
    multi_instance,  ///< `instances` clients (own io thread, listener, Redis hub each) behind one callback address
};

struct scenario
{
    std::string name;
    std::size_t pipelines = 1000;
    std::size_t concurrency = 256;
    kiemidi::wait_strategy mode = kiemidi::wait_strategy::callback;
    bool https = false;
    int delay_ms = 0;
    run_kind kind = run_kind::pipeline;
    std::size_t instances = 1;  ///< multi_instance: how many
    // rate-limited scenarios: the emulator enforces `server_limit` paid POSTs per 10 s (counted at
    // arrival), answering each paid POST after accept_latency_ms + 0..jitter_ms; the client assumes `client_limit`
    unsigned server_limit = 0;
    unsigned client_limit = 0;
    int accept_latency_ms = 0;
    int jitter_ms = 0;
};

/// The emulator's flags for a scenario beyond its task delay: the account limit, when it has one.
std::vector<std::string> emulator_flags(const scenario& sc);

/// How long the account's limit alone stretches a rate-limited scenario (zero otherwise).
std::chrono::seconds limit_time(const scenario& sc);

/// The rate-limited set: a batch saturating the account's limit (2 paid POSTs per pipeline).
std::vector<scenario> rate_limited_set();

/// The standard set (--all), at CI sizes when `tiny`.
std::vector<scenario> standard_set(bool tiny);

}  // namespace kiemidi::bench

#endif
