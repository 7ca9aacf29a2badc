// Where the CLI's KIE is and how results come back: the base URL and key (flags or
// KIE_BASE_URL/KIE_API_KEY, else an embedded emulator in this process), the callback listener
// and hub (or polling only), and the client wired to them.
#ifndef KIEMIDI_APPS_CLI_SESSION_HPP
#define KIEMIDI_APPS_CLI_SESSION_HPP

#include <kiemidi/callback_listener.hpp>
#include <kiemidi/client.hpp>
#include <kiemidi/emulator/server.hpp>
#include <kiemidi/in_process_callback_hub.hpp>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>

namespace kiemidi::cli {

/// Exit codes of every command.
enum exit_code : int
{
    exit_ok = 0,               ///< Every track done.
    exit_failed = 1,           ///< Some tracks failed.
    exit_usage = 2,            ///< Bad flags, unreadable track list.
    exit_outcome_unknown = 3,  ///< Some paid submissions have an unknown outcome; see `kiemidi status`.
    exit_unreachable = 4,      ///< KIE cannot be reached, or the API key is refused.
    exit_no_credits = 5,       ///< KIE said the account is out of credits; the tracks not started stay pending.
    exit_not_ready = 6,        ///< The separation or music task named is not finished, or KIE knows no such task; nothing was paid.
    exit_state_lost = 7,       ///< The shared batch's state in Redis was lost; the tracks in flight were finished and recorded locally.
    exit_not_written = 8,      ///< KIE finished (and was paid) but result files could not be written; a rerun writes them, paying nothing.
    exit_budget = 9,           ///< batch --max-credits stopped the run; the tracks not started stay pending.
    exit_bad_rows = 10,        ///< batch: the track list had bad rows (the rest ran); --skip-bad-rows makes it 0.
    exit_kie_unavailable = 11, ///< KIE stayed unavailable longer than --outage-wait; the batch stopped, every track resumable.
    exit_sigint = 130,         ///< Stopped by SIGINT (clean stop; a rerun resumes).
    exit_sigterm = 143,        ///< Stopped by SIGTERM (clean stop; a rerun resumes).
};

/// A command-line mistake; main prints it with the command's usage and exits 2.
struct usage_error : std::runtime_error
{
    using std::runtime_error::runtime_error;
};

/// Flags shared by the commands that talk to KIE.
struct kie_flags
{
    std::string base_url;          ///< --base-url, else KIE_BASE_URL, else https://api.kie.ai (with a key).
    std::string api_key;           ///< --api-key, else KIE_API_KEY; neither → embedded emulator.
    std::string ca_file;           ///< --ca-file: extra CA (PEM) to trust, e.g. a `kiemidi emulator`'s.
    std::string proxy;             ///< --proxy: the HTTP proxy to KIE; empty: HTTPS_PROXY etc. from the environment.
    bool no_proxy = false;         ///< --no-proxy: connect to KIE directly, whatever the environment says.
    std::string listen_address = "127.0.0.1";
    std::uint16_t listen_port = 0;
    /// Without a listen_port: try this port first (the earlier run's of a batch), any free one if it is taken.
    std::uint16_t preferred_listen_port = 0;
    std::string public_url;
    bool poll_only = false;
    std::string callback_secret;    ///< The listener's path secret; empty → a random one.
    unsigned poll_interval_ms = 0;  ///< 0: the library's default (200 ms on the embedded emulator).
};

/// KIE (real or embedded), listener, hub and client for one command. Construct, use, close().
class kie_session
{
public:
    /// Throws usage_error for inconsistent flags; prints which KIE is used on stderr.
    kie_session(boost::asio::io_context& ioc, const kie_flags& flags, bool want_callbacks);
    ~kie_session();

    client& kie() { return *client_; }
    const wait_options& wait() const { return wait_; }
    const std::string& base_url() const { return base_url_; }
    /// The client's admission window for paid submissions (the batch plan's time estimate).
    const rate_limit_options& rate_limit() const { return rate_limit_; }
    bool embedded() const { return emulator_ != nullptr; }
    /// The callback listener's bound port; 0 when results are polled.
    std::uint16_t listen_port() const { return listener_ ? listener_->port() : 0; }
    /// The callback listener; nullptr when results are polled.
    const callback_listener* listener() const { return listener_.get(); }

    /// One credits read: exit_ok, or exit_unreachable with the reason on stderr.
    /// With `kie_down` (a batch, which pauses while KIE is down): when the read failed because
    /// KIE is unavailable (maintenance, server errors, no connection: the client's circuit
    /// breaker opened), exit_kie_unavailable with the reason in `kie_down` and nothing on
    /// stderr; a refused key or any other answer of KIE's stays exit_unreachable.
    boost::asio::awaitable<int> check_reachable(std::int64_t* credits = nullptr, std::string* kie_down = nullptr);

    /// Stops the listener, the client and the embedded emulator (their work ends; ioc.run() returns).
    void close();

private:
    std::unique_ptr<emulator::server> emulator_;
    std::unique_ptr<in_process_callback_hub> hub_;
    std::unique_ptr<callback_listener> listener_;
    std::unique_ptr<client> client_;
    wait_options wait_;
    std::string base_url_;
    rate_limit_options rate_limit_;
};

/// "<ec message>: <diagnostics>" for one stderr line.
std::string describe(const error_code& ec, const diagnostics& diag);

}  // namespace kiemidi::cli

#endif
