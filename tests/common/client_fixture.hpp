// What the client integration tests share: local_kie without the client-side rate limit (a test's
// requests are not paced), generate_midi in one call (awaited, or run bounded and kept with what
// KIE and the listener counted, for checks afterwards), and emulator options with one fault on.
#ifndef KIEMIDI_TESTS_COMMON_CLIENT_FIXTURE_HPP
#define KIEMIDI_TESTS_COMMON_CLIENT_FIXTURE_HPP

#include "local_kie.hpp"
#include "run_bounded.hpp"
#include "nothrow_awaitable.hpp"

#include <kiemidi/client.hpp>
#include <kiemidi/emulator/server.hpp>

#include <boost/asio/any_io_executor.hpp>

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <utility>

namespace kiemidi::test {

/// KIE (emulated) + a listener + a hub + a client; no client-side rate limit. `attach` false
/// leaves the client without callbacks (polling only).
struct unpaced_kie : local_kie
{
    explicit unpaced_kie(boost::asio::any_io_executor ex, emulator::emulator_options eo = {}, bool attach = true)
        : local_kie(ex, std::move(eo), attach, [](client_options& co) { co.transport.rate_limit.enabled = false; })
    {
    }

    /// async_generate_midi(p) awaited without throwing: co_await gives {error_code, midi_result}.
    /// Not a coroutine: the arguments travel in the operation itself, as with the client's own
    /// call (g++ 12 destroys some temporaries inside a co_await expression twice).
    auto generate(midi_params p, diagnostics& diag)
    {
        return cli->async_generate_midi(std::move(p), diag, use_nothrow_awaitable);
    }
};

/// What one generate_midi against an emulated KIE left: its error, diagnostics and result, and
/// afterwards KIE's counters, the listener's and the notes KIE itself generated for the result.
struct generated
{
    error_code ec;
    diagnostics diag;
    midi_result r;
    emulator::counters kie;
    listener_stats listener;
    std::string kie_notes_json;  // the emulator's own notes for r.midi_task_id (empty if none)

    std::size_t requests(const std::string& endpoint) const { return kie.requests_to(endpoint); }
};

/// Runs generate_midi(p) (bounded) against a fresh unpaced_kie with `eo`.
inline generated generate_against(emulator::emulator_options eo, midi_params p, bool attach = true)
{
    generated out;
    run_bounded([&](boost::asio::io_context& ioc) -> boost::asio::awaitable<void> {
        unpaced_kie env(ioc.get_executor(), std::move(eo), attach);
        auto [ec, r] = co_await env.generate(std::move(p), out.diag);
        out.ec = ec;
        out.r = std::move(r);
        out.kie = env.kie->snapshot();
        out.listener = env.listener.stats();
        out.kie_notes_json = env.kie->midi_notes_json(out.r.midi_task_id);
    });
    return out;
}

/// The notes in the emulator's own notes JSON, counted without the client's parser.
inline std::size_t notes_in(const std::string& instruments_json)
{
    std::size_t n = 0;
    for (auto at = instruments_json.find("\"pitch\""); at != std::string::npos; at = instruments_json.find("\"pitch\"", at + 1)) ++n;
    return n;
}

/// Emulator options with `fault` (a rate) at 1: every answer or task it concerns has it.
inline emulator::emulator_options always(double emulator::fault_options::*fault)
{
    emulator::emulator_options eo;
    eo.faults.*fault = 1.0;
    return eo;
}

/// Fault options with `fault` (a rate) at 1, for server::set_faults.
inline emulator::fault_options always_fault(double emulator::fault_options::*fault)
{
    emulator::fault_options f;
    f.*fault = 1.0;
    return f;
}

/// Paid POSTs KIE processed (charged), over all keys of one of the emulator's submission counters.
inline std::uint64_t charged(const std::map<emulator::paid_key, std::uint64_t>& submissions)
{
    std::uint64_t n = 0;
    for (const auto& [key, count] : submissions) n += count;
    return n;
}

}  // namespace kiemidi::test

#endif
