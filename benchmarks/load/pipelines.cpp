#include "pipelines.hpp"

#include <kiemidi/nothrow_awaitable.hpp>

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>

#include <algorithm>
#include <chrono>
#include <utility>

namespace asio = boost::asio;
using namespace std::chrono_literals;

namespace kiemidi::bench {

using steady = std::chrono::steady_clock;

void record_failure(tallies& t, const std::string& what)
{
    ++t.failed;
    if (t.first_error.empty()) t.first_error = what;
}

asio::awaitable<void> one_pipeline(env& e, std::size_t i)
{
    kiemidi::midi_params p;
    p.task_id = "bench-music-" + std::to_string(i / 2);
    p.audio_id = "bench-audio-" + std::to_string(i);
    p.wait = e.wait;
    // Generous: on a loaded machine the emulator's callbacks for thousands of tasks queue up.
    p.stage_timeout = std::chrono::milliseconds(e.sc.delay_ms) + 60s + e.sc.pipelines * 10ms + limit_time(e.sc);
    p.deadline = 2 * p.stage_timeout;
    // The exchanges are measured, as the Node and Python peers make them: no tempo map. Estimated by
    // default, it is a few ms of CPU per song (kiemidi-bench-tempo measures it; README.md, load).
    p.tempo = std::nullopt;
    kiemidi::diagnostics diag;
    const auto t0 = steady::now();
    auto [ec, r] = co_await e.kie.async_generate_midi(std::move(p), diag, use_nothrow_awaitable);
    const double ms = std::chrono::duration<double, std::milli>(steady::now() - t0).count();
    if (ec) { record_failure(e.t, ec.message() + " " + diag.to_string()); co_return; }
    if (r.note_count() == 0) { record_failure(e.t, "pipeline returned no notes"); co_return; }
    ++e.t.done;
    e.t.polls += r.polls;
    e.t.callbacks += r.callbacks;
    e.t.overhead_ms.push_back(ms - 2.0 * e.sc.delay_ms);
}

/// Waits, bounded, for the hub's callback of `task_id` and counts its resume latency. A function, not
/// a lambda of one_latency_pipeline(): in a unity build g++ (-Wsubobject-linkage) refuses a
/// coroutine frame that holds a closure.
asio::awaitable<bool> wait_on_hub(env& e, kiemidi::callback_kind kind, const std::string& task_id)
{
    const auto wait_started = std::chrono::system_clock::now();
    asio::steady_timer deadline(co_await asio::this_coro::executor,
                                std::chrono::milliseconds(e.sc.delay_ms) + 60s + e.sc.pipelines * 10ms);
    deadline.async_wait([&](boost::system::error_code ec) { if (!ec) e.hub.close(); });
    auto [ec, msg] = co_await e.hub.async_wait(kind, std::string(task_id), use_nothrow_awaitable);
    const auto resumed = std::chrono::system_clock::now();
    deadline.cancel();
    if (ec) { record_failure(e.t, "hub wait: " + ec.message()); co_return false; }
    if (msg.received_at < wait_started) ++e.t.buffered_callbacks;  // arrived first: not a resume latency
    else e.t.resume_latency_us.push_back(std::chrono::duration<double, std::micro>(resumed - msg.received_at).count());
    ++e.t.callbacks;
    co_return true;
}

asio::awaitable<void> one_latency_pipeline(env& e, std::size_t i)
{
    kiemidi::diagnostics diag;
    const auto t0 = steady::now();
    kiemidi::api::separation_request sreq;
    sreq.task_id = "bench-music-" + std::to_string(i / 2);
    sreq.audio_id = "bench-audio-" + std::to_string(i);
    auto [ec1, sep] = co_await e.kie.async_submit_separation(std::move(sreq), diag, use_nothrow_awaitable);
    if (ec1) { record_failure(e.t, "separate: " + ec1.message() + " " + diag.to_string()); co_return; }

    std::string sep_id = sep.task_id;
    if (!co_await wait_on_hub(e, kiemidi::callback_kind::separation, sep_id)) co_return;

    kiemidi::api::midi_request mreq;
    mreq.task_id = sep.task_id;
    auto [ec2, midi] = co_await e.kie.async_submit_midi(std::move(mreq), diag, use_nothrow_awaitable);
    if (ec2) { record_failure(e.t, "transcribe: " + ec2.message() + " " + diag.to_string()); co_return; }
    std::string midi_id = midi.task_id;
    if (!co_await wait_on_hub(e, kiemidi::callback_kind::midi, midi_id)) co_return;
    ++e.t.done;
    const double ms = std::chrono::duration<double, std::milli>(steady::now() - t0).count();
    e.t.overhead_ms.push_back(ms - 2.0 * e.sc.delay_ms);
}

asio::awaitable<void> worker(env& e)
{
    while (e.t.started < e.sc.pipelines)
    {
        const auto i = e.t.started++;
        ++e.t.in_flight;
        e.t.peak_in_flight = std::max(e.t.peak_in_flight, e.t.in_flight);
        if (e.sc.kind == run_kind::latency) co_await one_latency_pipeline(e, i);
        else co_await one_pipeline(e, i);
        --e.t.in_flight;
    }
}

}  // namespace kiemidi::bench
