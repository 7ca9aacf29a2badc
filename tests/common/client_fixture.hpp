// What the client integration tests share: local_kie without the client-side rate limit (a test's
// requests are not paced), generate_midi in one call, and emulator options with one fault always on.
#ifndef KIEMIDI_TESTS_COMMON_CLIENT_FIXTURE_HPP
#define KIEMIDI_TESTS_COMMON_CLIENT_FIXTURE_HPP

#include "local_kie.hpp"
#include "nothrow_awaitable.hpp"

#include <kiemidi/client.hpp>
#include <kiemidi/emulator.hpp>

#include <boost/asio/any_io_executor.hpp>

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

}  // namespace kiemidi::test

#endif
