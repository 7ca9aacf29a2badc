// The pipelines a scenario runs and what they tally: song → MIDI through the client, or its two
// stages by hand, waiting on the callback hub directly to time callback → resume.
#ifndef KIEMIDI_BENCHMARKS_LOAD_PIPELINES_HPP
#define KIEMIDI_BENCHMARKS_LOAD_PIPELINES_HPP

#include "scenario.hpp"

#include <kiemidi/callback_hub.hpp>
#include <kiemidi/client.hpp>

#include <boost/asio/awaitable.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace kiemidi::bench {

struct tallies
{
    std::size_t started = 0, done = 0, failed = 0, in_flight = 0, peak_in_flight = 0;
    std::string first_error;
    std::vector<double> overhead_ms;       // per pipeline: wall time − 2 × delay
    std::vector<double> resume_latency_us; // latency scenario: listener received → coroutine resumed
    std::size_t buffered_callbacks = 0;    // latency scenario: callbacks that arrived before the wait began
    std::uint64_t polls = 0, callbacks = 0;
};

/// What a pipeline runs against and where it tallies.
struct env
{
    kiemidi::client& kie;
    kiemidi::callback_hub& hub;
    const scenario& sc;
    kiemidi::wait_options wait;
    tallies& t;
};

/// Counts a failure; the first one's text is kept for the JSON line.
void record_failure(tallies& t, const std::string& what);

/// Pipeline `i` through client::async_generate_midi.
boost::asio::awaitable<void> one_pipeline(env& e, std::size_t i);

/// The pipeline's two stages by hand, each wait done on the hub itself, to read when the listener
/// received each callback (callback_message::received_at) and when this coroutine resumed.
boost::asio::awaitable<void> one_latency_pipeline(env& e, std::size_t i);

/// Keeps `concurrency` pipelines running until `pipelines` have started.
boost::asio::awaitable<void> worker(env& e);

}  // namespace kiemidi::bench

#endif
