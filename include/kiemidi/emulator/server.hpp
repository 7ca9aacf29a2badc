/// @file
/// kiemidi::emulator::server: a local, faithful stand-in for KIE.AI's stem separation → MIDI API.
///
/// It serves KIE's endpoints over HTTP and HTTPS on loopback, runs tasks through KIE's states on
/// timers, calls back (only to loopback URLs) in KIE's documented shapes, injects faults on demand
/// and counts everything. Results are deterministic from the seed and the ids.
/// Used by kiemidi's demo, tests and benchmarks, and by users testing their own KIE integrations.
#ifndef KIEMIDI_EMULATOR_SERVER_HPP
#define KIEMIDI_EMULATOR_SERVER_HPP

#include <kiemidi/config.hpp>
#include <kiemidi/default_token.hpp>
#include <kiemidi/emulator/counters.hpp>
#include <kiemidi/emulator/options.hpp>
#include <kiemidi/error.hpp>

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/async_result.hpp>

#include <cstdint>
#include <memory>
#include <string>

namespace kiemidi::emulator {

/// The endpoints served (all answers are KIE's JSON envelope {code,msg,data}):
///  - POST /api/v1/vocal-removal/generate, GET /api/v1/vocal-removal/record-info?taskId=
///  - POST /api/v1/midi/generate, GET /api/v1/midi/record-info?taskId=
///  - GET /api/v1/chat/credit, GET /api/v1/generate/record-info?taskId= (any well-formed music task id
///    is a completed music task with two tracks)
///  - `GET /files/<name>` (tiny stand-in stem files, so that stem URLs stay on loopback)
/// Pre-seeded: completed separation tasks "5c79****be8e" (stem "8ca376e7-******-08aaf2c6dd27"; its
/// MIDI task id equals the separation task id, as in KIE's example) and "3e63b4cc88d52611159371f6af5571e7".
///
/// @par Starting and stopping
/// start(error_code&) binds and listens; `co_await emu.async_stop()` stops gracefully, in the shape
/// every embedded server of kiemidi shares (see callback_listener).
///
/// @par Object lifetimes
/// The server's work (connections, task timers, callbacks) runs on the executor passed at construction
/// and keeps the internal state alive until it ends; the server object itself may be destroyed at any
/// time (it calls stop()), and once async_stop has completed nothing of it runs any more. The
/// io_context must outlive the server object.
///
/// @par Thread safety
/// All member functions may be called from any thread, also while the executor runs on several
/// threads. Internal state is guarded by a mutex; each connection, timer and callback runs on its own strand.
class server
{
public:
    /// The executor type of the server's sockets and timers.
    using executor_type = boost::asio::any_io_executor;

    /// Prepares a server; nothing is bound until start(). Generates the TLS identity when HTTPS is enabled.
    KIEMIDI_DECL server(executor_type ex, emulator_options opts = {});
    /// Calls stop().
    KIEMIDI_DECL ~server();
    /// Not copyable.
    server(const server&) = delete;
    /// Not copy-assignable.
    server& operator=(const server&) = delete;

    /// Binds and listens synchronously (ports are known when it returns), then accepts asynchronously.
    /// Errors: the bind's (e.g. address_in_use), boost::asio::error::already_started when called twice or
    /// after a stop.
    KIEMIDI_DECL void start(error_code& ec);
    /// Same as start(error_code&), but throws boost::system::system_error on failure.
    KIEMIDI_DECL void start();

    /// Graceful stop. At once: no new connection is accepted, connections waiting for a request
    /// are closed, task timers are cancelled (a task not finished yet never finishes) and no new
    /// callback is started. An answer being prepared is written (then its connection closes), and
    /// callbacks being delivered go on (retries included); after emulator_options::stop_grace
    /// whatever is left is closed.
    ///
    /// @par Handler signature
    /// void(error_code), once nothing of the server runs any more: success,
    /// boost::asio::error::timed_out (the grace ran out and the rest was closed) or
    /// boost::asio::error::operation_aborted (this stop was cancelled).
    /// @par Cancellation
    /// terminal, partial and total: closes whatever is left at once; still completes only when
    /// nothing of the server runs.
    template <boost::asio::completion_token_for<void(error_code)> Token = kiemidi::default_token_t<executor_type>>
    auto async_stop(Token&& token = {})
    {
        return boost::asio::async_initiate<Token, void(error_code)>(
            [this](auto handler) {
                start_stop(boost::asio::any_completion_handler<void(error_code)>(std::move(handler)));
            },
            token);
    }

    /// Stops at once: stops accepting, closes every connection and cancels task timers and
    /// callbacks in flight. Returns at once; the cancelled work finishes as the executor runs
    /// (counters::active_operations says how much is left).
    KIEMIDI_DECL void stop();

    /// The bound HTTP port (0 before start()).
    KIEMIDI_DECL std::uint16_t http_port() const;
    /// The bound HTTPS port (0 before start() or when HTTPS is disabled).
    KIEMIDI_DECL std::uint16_t https_port() const;
    /// "http://127.0.0.1:<port>".
    KIEMIDI_DECL std::string http_base_url() const;
    /// "https://127.0.0.1:<port>" (empty when HTTPS is disabled).
    KIEMIDI_DECL std::string https_base_url() const;
    /// PEM of the CA that signed the HTTPS certificate; trust it in clients (empty when HTTPS is disabled).
    KIEMIDI_DECL std::string ca_certificate_pem() const;
    /// The bearer token the server accepts.
    KIEMIDI_DECL const std::string& api_key() const;

    /// A consistent copy of the counters.
    KIEMIDI_DECL counters snapshot() const;
    /// Replaces the fault options; applies to requests and callbacks from now on.
    KIEMIDI_DECL void set_faults(const fault_options& faults);
    /// The current fault options.
    KIEMIDI_DECL fault_options faults() const;
    /// The notes of a successfully completed MIDI task exactly as the emulator generated them:
    /// `[{"name":..,"notes":[{"pitch":..,"start":..,"end":..,"velocity":..},..]},..]`, numbers as
    /// numbers. Empty when the task is unknown, still pending or failed. Lets a test check that a
    /// client received the right notes without trusting the client's own reading of them.
    KIEMIDI_DECL std::string midi_notes_json(const std::string& midi_task_id) const;
    /// Sets the account's remaining credits.
    KIEMIDI_DECL void set_credits(std::int64_t credits);
    /// Drops the record of a separation or MIDI task, as KIE does once it no longer keeps a
    /// result: record-info then answers as for an unknown task. True when the task was known.
    KIEMIDI_DECL bool forget_task(const std::string& task_id);

    /// The executor the server's work runs on.
    KIEMIDI_DECL executor_type get_executor() const;

    class impl;

private:
    KIEMIDI_DECL void start_stop(boost::asio::any_completion_handler<void(error_code)> handler);

    std::shared_ptr<impl> impl_;
};

}  // namespace kiemidi::emulator

#endif
