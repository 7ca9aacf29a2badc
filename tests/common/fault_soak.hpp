// The fault soak: many song → MIDI pipelines (client::async_generate_midi) against the emulator
// with HTTP 500s, 429s, connection resets and dropped, duplicated, delayed and reordered
// callbacks, then an audit of every pipeline against the emulator's own records.
//
// Shared by the small-size test (tests/integration/client_fault_soak.cpp) and the full-size runner
// (benchmarks/soak_driver.cpp). The emulator runs on its own thread and io_context, the client,
// listener and hub on the caller's executor.
//
// What the audit calls what (every pipeline lands in exactly one class):
//  - verified: the pipeline succeeded and its notes equal, note for note, the notes the emulator
//    generated for that MIDI task (server::midi_notes_json); `wrong_notes` otherwise.
//  - errors, by "<stage>:<error>": a terminal error the pipeline reported. An HTTP 500 answer to a
//    paid POST is final (not resent); a paid POST whose answer was lost to a reset is first looked
//    for through its tagged callback (midi_params::unknown_outcome_wait), and only then reported
//    as outcome_unknown.
// Paid work is then checked against the emulator's counters:
//  - duplicate paid submissions: the emulator charged some (music task, track) or separation
//    twice. Must be 0.
//  - lost: the emulator charged a submission for a pipeline that neither delivered its result nor
//    said "outcome_unknown" for that stage (silently paid and dropped). Must be 0.
//  - unknown_paid: outcome_unknown pipelines whose submission the emulator did process (paid; its
//    callback was lost too, so nothing could find it): reported to the caller, not lost.
//  - unknown_unpaid: outcome_unknown pipelines whose submission was never processed (reset before it).
// Afterwards every count of open work must return to zero: transport connections and requests in
// flight, listener connections, hub waiters (by task and by reference) and, once their time to
// live has passed, buffered callbacks; the emulator's open connections and its tracked work
// (sessions, task timers, callback senders) above the baseline of its accept loop. The client's
// own timers (retry backoff, poll intervals, deadlines) live inside operations that are counted
// as in flight or as hub waiters, so those counts cover them.
#ifndef KIEMIDI_TESTS_COMMON_FAULT_SOAK_HPP
#define KIEMIDI_TESTS_COMMON_FAULT_SOAK_HPP

#include "nothrow_awaitable.hpp"

#include <kiemidi/callback_listener.hpp>
#include <kiemidi/client.hpp>
#include <kiemidi/emulator/server.hpp>
#include <kiemidi/in_process_callback_hub.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <chrono>
#include <cmath>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace kiemidi::test {

struct soak_config
{
    std::size_t pipelines = 300;
    std::size_t in_flight = 0;  ///< Pipelines running at once; 0 = all.
    /// The faults (rates per request or per callback).
    double http_500_rate = 0.05;
    double http_429_rate = 0.02;
    double reset_before_rate = 0.005;  ///< Connection reset after reading the request, not processed.
    double reset_after_rate = 0.005;   ///< Processed (and charged), then reset without an answer.
    double callback_drop_rate = 0.10;
    double callback_duplicate_rate = 0.05;
    double callback_delay_rate = 0.05;
    double callback_reorder_rate = 0.05;
    std::chrono::milliseconds callback_delay{300};
    std::chrono::milliseconds separation_delay{20};
    std::chrono::milliseconds midi_delay{20};
    /// How long a pipeline whose paid POST answer was lost waits for its tagged callback.
    std::chrono::milliseconds unknown_outcome_wait{3000};
    std::chrono::milliseconds callback_overdue{1000};
    std::chrono::milliseconds stage_timeout{std::chrono::seconds(120)};
    std::chrono::milliseconds hub_buffer_ttl{std::chrono::seconds(2)};
    /// Bound on waiting for every open count to return to zero after the run.
    std::chrono::milliseconds drain_limit{std::chrono::seconds(60)};
    std::uint64_t seed = 7;
};

struct soak_report
{
    std::size_t pipelines = 0, in_flight = 0, verified = 0, wrong_notes = 0, recovered = 0, polls = 0, callbacks = 0;
    std::map<std::string, std::size_t> errors;  ///< "<stage>:<error message>" → pipelines
    std::size_t unknown_paid = 0, unknown_unpaid = 0, lost = 0;
    std::uint64_t duplicate_paid = 0, paid_separations = 0, paid_midis = 0;
    emulator::counters emu;  ///< after the run
    // open counts right after the last pipeline ended, and after draining (must be 0)
    std::size_t hub_waiting = 0, hub_waiting_references = 0;
    std::size_t transport_in_flight_after = 0, transport_open_after = 0, listener_open_after = 0;
    std::size_t hub_buffered_before_ttl = 0, hub_buffered_after = 0, emulator_open_after = 0;
    std::uint64_t emulator_active_baseline = 0;  ///< tracked work before any request (the accept loops)
    std::uint64_t emulator_active_after = 0;     ///< tracked work beyond the baseline
    bool drained = false;
    double wall_s = 0, drain_s = 0;
    std::string first_wrong;  ///< describes the first wrong pipeline, if any

    std::size_t error_count() const
    {
        std::size_t n = 0;
        for (const auto& [k, v] : errors) n += v;
        return n;
    }

    std::string to_json() const
    {
        boost::json::object o;
        o["pipelines"] = pipelines;
        o["in_flight"] = in_flight;
        o["verified"] = verified;
        o["wrong_notes"] = wrong_notes;
        boost::json::object e;
        for (const auto& [k, v] : errors) e[k] = v;
        o["errors"] = std::move(e);
        o["recovered_from_callback"] = recovered;
        o["unknown_paid"] = unknown_paid;
        o["unknown_unpaid"] = unknown_unpaid;
        o["lost"] = lost;
        o["duplicate_paid_submissions"] = duplicate_paid;
        o["paid_separations"] = paid_separations;
        o["paid_midis"] = paid_midis;
        o["polls"] = polls;
        o["callbacks_used"] = callbacks;
        boost::json::object emu_o;
        for (const auto& [k, v] : emu.requests) emu_o[k] = v;
        o["emulator_requests"] = std::move(emu_o);
        boost::json::object st;
        for (const auto& [k, v] : emu.responses_by_http_status) st[std::to_string(k)] = v;
        o["emulator_http_status"] = std::move(st);
        o["emulator_resets"] = emu.connection_resets;
        o["callbacks_sent"] = emu.callbacks_sent;
        o["callbacks_dropped"] = emu.callbacks_dropped;
        o["callbacks_duplicated"] = emu.callbacks_duplicated;
        o["callbacks_delayed"] = emu.callbacks_delayed;
        o["callbacks_reordered"] = emu.callbacks_reordered;
        o["callbacks_failed"] = emu.callbacks_failed;
        o["tasks_created"] = emu.tasks_created;
        boost::json::object leaks;
        leaks["hub_waiting"] = hub_waiting;
        leaks["hub_waiting_references"] = hub_waiting_references;
        leaks["hub_buffered_before_ttl"] = hub_buffered_before_ttl;
        leaks["hub_buffered"] = hub_buffered_after;
        leaks["transport_in_flight"] = transport_in_flight_after;
        leaks["transport_open_connections"] = transport_open_after;
        leaks["listener_open_connections"] = listener_open_after;
        leaks["emulator_active_operations_over_baseline"] = emulator_active_after;
        leaks["emulator_active_operations_baseline"] = emulator_active_baseline;
        leaks["emulator_open_connections"] = emulator_open_after;
        leaks["drained"] = drained;
        o["after_run"] = std::move(leaks);
        o["wall_s"] = wall_s;
        o["drain_s"] = drain_s;
        return boost::json::serialize(o);
    }
};

namespace soak_detail {

inline bool close_enough(double a, double b) { return std::fabs(a - b) <= 1e-9 * std::max(1.0, std::fabs(b)); }

/// Compares the pipeline's instruments with the emulator's JSON; empty when equal, else why not.
inline std::string compare_notes(const std::vector<api::instrument>& got, const std::string& expected_json)
{
    if (expected_json.empty()) return "the emulator has no completed notes for this task";
    boost::system::error_code ec;
    auto jv = boost::json::parse(expected_json, ec);
    if (ec || !jv.is_array()) return "unreadable emulator notes";
    const auto& arr = jv.get_array();
    if (arr.size() != got.size())
        return "instrument count " + std::to_string(got.size()) + " != " + std::to_string(arr.size());
    for (std::size_t i = 0; i < arr.size(); ++i)
    {
        const auto& inst = arr[i].as_object();
        if (got[i].name != inst.at("name").as_string()) return "instrument " + std::to_string(i) + " name differs";
        const auto& notes = inst.at("notes").as_array();
        if (notes.size() != got[i].notes.size()) return "instrument " + std::to_string(i) + " note count differs";
        for (std::size_t n = 0; n < notes.size(); ++n)
        {
            const auto& e = notes[n].as_object();
            const auto& g = got[i].notes[n];
            if (g.pitch != e.at("pitch").to_number<int>() || !close_enough(g.start, e.at("start").to_number<double>()) ||
                !close_enough(g.end, e.at("end").to_number<double>()) ||
                !close_enough(g.velocity, e.at("velocity").to_number<double>()))
                return "instrument " + std::to_string(i) + " note " + std::to_string(n) + " differs";
        }
    }
    return {};
}

struct outcome
{
    error_code ec;
    std::string stage, error_text;
    midi_result result;
};

}  // namespace soak_detail

/// Runs the soak on the calling coroutine's executor (one thread is enough); the emulator gets
/// its own thread. Never throws for pipeline failures: they are in the report.
inline boost::asio::awaitable<soak_report> run_soak(soak_config cfg)
{
    using namespace std::chrono_literals;
    using clock = std::chrono::steady_clock;
    auto ex = co_await boost::asio::this_coro::executor;
    soak_report rep;
    rep.pipelines = cfg.pipelines;
    rep.in_flight = cfg.in_flight == 0 ? cfg.pipelines : std::min(cfg.in_flight, cfg.pipelines);

    // KIE on its own thread.
    emulator::emulator_options eo;
    eo.enable_https = false;  // the soak is about faults, not TLS; keeps the full size affordable
    eo.seed = cfg.seed;
    eo.separation_delay = cfg.separation_delay;
    eo.midi_delay = cfg.midi_delay;
    eo.callback_retry_delay = 200ms;
    eo.faults.http_500_rate = cfg.http_500_rate;
    eo.faults.http_429_rate = cfg.http_429_rate;
    eo.faults.connection_reset_rate = cfg.reset_before_rate;
    eo.faults.reset_after_processing_rate = cfg.reset_after_rate;
    eo.faults.callback_drop_rate = cfg.callback_drop_rate;
    eo.faults.callback_duplicate_rate = cfg.callback_duplicate_rate;
    eo.faults.callback_delay_rate = cfg.callback_delay_rate;
    eo.faults.callback_reorder_rate = cfg.callback_reorder_rate;
    eo.faults.callback_delay = cfg.callback_delay;
    boost::asio::io_context emu_ioc;
    auto emu = std::make_unique<emulator::server>(emu_ioc.get_executor(), eo);
    emu->start();
    // The accept loops are tracked work too: they are the baseline the count returns to.
    rep.emulator_active_baseline = emu->snapshot().active_operations;
    auto emu_work = boost::asio::make_work_guard(emu_ioc);
    std::thread emu_thread([&] { emu_ioc.run(); });
    struct joiner
    {
        boost::asio::io_context& ioc;
        std::unique_ptr<emulator::server>& emu;
        std::thread& t;
        decltype(emu_work)& work;
        ~joiner()
        {
            if (!t.joinable()) return;
            boost::asio::post(ioc, [this] { emu->stop(); });
            work.reset();
            t.join();
        }
    } join_emulator{emu_ioc, emu, emu_thread, emu_work};

    callback_hub_options ho;
    ho.buffer_ttl = cfg.hub_buffer_ttl;
    in_process_callback_hub hub(ex, ho);
    callback_listener listener(ex, listener_options{}, hub);
    listener.start();
    client_options co;
    co.base_url = emu->http_base_url();
    co.api_key = emu->api_key();
    co.transport.rate_limit.enabled = false;  // the emulator does not limit; 429s come from the fault
    auto cli = std::make_unique<client>(ex, co);
    cli->attach_callbacks(hub, listener);

    midi_params base;
    base.stage_timeout = cfg.stage_timeout;
    base.deadline = cfg.stage_timeout * 3;
    base.unknown_outcome_wait = cfg.unknown_outcome_wait;
    base.wait.callback_overdue = cfg.callback_overdue;
    base.wait.poll_interval = 200ms;
    base.wait.max_poll_interval = 1000ms;

    std::vector<soak_detail::outcome> outcomes(cfg.pipelines);
    const auto t0 = clock::now();
    std::size_t next = 0, running = 0;
    boost::asio::steady_timer all_done(ex, clock::time_point::max());
    auto worker = [&]() -> boost::asio::awaitable<void> {
        while (next < cfg.pipelines)
        {
            const std::size_t i = next++;
            midi_params p = base;
            p.task_id = "soak-music-" + std::to_string(i);
            p.audio_id = "soak-track-" + std::to_string(i);
            diagnostics diag;
            auto [ec, r] = co_await cli->async_generate_midi(std::move(p), diag, use_nothrow_awaitable);
            auto& o = outcomes[i];
            o.ec = ec;
            o.stage = diag.stage();
            o.error_text = ec ? ec.message() : std::string();
            o.result = std::move(r);
        }
    };
    const std::size_t workers = cfg.in_flight == 0 ? cfg.pipelines : std::min(cfg.in_flight, cfg.pipelines);
    for (std::size_t w = 0; w < workers; ++w)
    {
        ++running;
        boost::asio::co_spawn(ex, worker(), [&](std::exception_ptr) {
            if (--running == 0) all_done.cancel();
        });
    }
    while (running > 0) co_await all_done.async_wait(use_nothrow_awaitable);
    rep.wall_s = std::chrono::duration<double>(clock::now() - t0).count();

    // ---- audit ----
    const auto hs = hub.stats();
    rep.hub_waiting = hs.waiting;
    rep.hub_waiting_references = hs.waiting_references;
    rep.hub_buffered_before_ttl = hs.buffered;
    const auto emu_now = emu->snapshot();
    rep.duplicate_paid = emu_now.duplicate_paid_submissions();
    for (const auto& [k, n] : emu_now.separation_submissions) rep.paid_separations += n;
    for (const auto& [k, n] : emu_now.midi_submissions) rep.paid_midis += n;
    for (std::size_t i = 0; i < cfg.pipelines; ++i)
    {
        const auto& o = outcomes[i];
        rep.recovered += o.result.recovered;
        rep.polls += o.result.polls;
        rep.callbacks += o.result.callbacks;
        const emulator::paid_key sep_key{"soak-music-" + std::to_string(i), "soak-track-" + std::to_string(i)};
        const auto sep_it = emu_now.separation_submissions.find(sep_key);
        const bool sep_paid = sep_it != emu_now.separation_submissions.end() && sep_it->second > 0;
        const auto& sep_id = o.result.separation_task_id;
        const auto midi_it = sep_id.empty() ? emu_now.midi_submissions.end()
                                            : emu_now.midi_submissions.find(emulator::paid_key{sep_id, ""});
        const bool midi_paid = midi_it != emu_now.midi_submissions.end() && midi_it->second > 0;
        const bool unknown = o.ec == client_errc::outcome_unknown;
        if (!o.ec)
        {
            auto why = soak_detail::compare_notes(o.result.instruments, emu->midi_notes_json(o.result.midi_task_id));
            if (why.empty()) ++rep.verified;
            else
            {
                ++rep.wrong_notes;
                if (rep.first_wrong.empty()) rep.first_wrong = "pipeline " + std::to_string(i) + ": " + why;
            }
            continue;
        }
        ++rep.errors[o.stage + ":" + o.error_text];
        if (unknown)
        {
            const bool paid = o.stage == "separation" ? sep_paid : midi_paid;
            ++(paid ? rep.unknown_paid : rep.unknown_unpaid);
            // A MIDI stage outcome_unknown with the separation's result known is accounted for;
            // an unknown separation cannot have a MIDI submission.
            continue;
        }
        // Any other terminal error: whatever the emulator charged must be known to the pipeline
        // (its task id reported), otherwise the payment was lost silently.
        if (sep_paid && sep_id.empty()) ++rep.lost;
        else if (midi_paid && o.result.midi_task_id.empty()) ++rep.lost;
    }

    // ---- everything returns to zero ----
    const auto d0 = clock::now();
    cli->close();
    boost::asio::steady_timer tick(ex);
    auto open_counts = [&] {
        const auto ts = cli->transport_stats();
        const auto ls = listener.stats();
        const auto es = emu->snapshot();
        const auto h = hub.stats();
        rep.transport_in_flight_after = ts.in_flight;
        rep.transport_open_after = ts.open_connections;
        rep.listener_open_after = ls.open_connections;
        rep.emulator_active_after = es.active_operations - std::min(es.active_operations, rep.emulator_active_baseline);
        rep.emulator_open_after = es.open_connections;
        rep.hub_buffered_after = h.buffered;
        return ts.in_flight + ts.open_connections + ls.open_connections + rep.emulator_active_after + es.open_connections +
               h.buffered + h.waiting + h.waiting_references;
    };
    while (open_counts() != 0 && clock::now() - d0 < cfg.drain_limit)
    {
        tick.expires_after(50ms);
        co_await tick.async_wait(use_nothrow_awaitable);
    }
    rep.drained = open_counts() == 0;
    rep.drain_s = std::chrono::duration<double>(clock::now() - d0).count();
    rep.emu = emu->snapshot();
    listener.stop();
    hub.close();
    co_return rep;
}

}  // namespace kiemidi::test

#endif
