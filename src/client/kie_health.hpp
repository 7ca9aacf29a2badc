// Internal: one client's view of KIE's health, a circuit breaker without any I/O.
//
// Every KIE exchange reports how it ended. Maintenance (KIE's code 455) opens the breaker at
// once; server errors (5xx, a gateway's page) and connection failures (refused, reset, TLS, DNS)
// open it after `failures_to_open` attempts in a row. While it is open no new paid submission starts: submitters wait
// (kie_availability.hpp), and one of them at a time probes KIE with a free read at growing,
// jittered, capped intervals. Any answer that is KIE's own word closes it.
//
// Time is passed in, so the logic is tested with explicit time points. Thread-safe: a client is
// used from any thread.
#ifndef KIEMIDI_SRC_CLIENT_KIE_HEALTH_HPP
#define KIEMIDI_SRC_CLIENT_KIE_HEALTH_HPP

#include <kiemidi/config.hpp>

#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <random>
#include <string>

namespace kiemidi::detail {

/// Why KIE is taken to be down.
enum class kie_down_cause
{
    maintenance,   ///< KIE answered code 455.
    server_error,  ///< 5xx answers or gateway pages.
    connection,    ///< Connection refused or reset, TLS or DNS failures, no answer.
};

/// A point in time on both clocks: steady for the decisions, wall for what people read.
struct kie_instant
{
    std::chrono::steady_clock::time_point steady;
    std::chrono::system_clock::time_point wall;
    static kie_instant now() noexcept { return {std::chrono::steady_clock::now(), std::chrono::system_clock::now()}; }
};

struct kie_health_options
{
    /// Server errors or connection failures in a row (transport attempts or whole exchanges)
    /// that open the breaker; 455 opens it at once.
    unsigned failures_to_open = 3;
    /// Interval before the first probe; doubles after each failed probe.
    std::chrono::milliseconds first_probe{std::chrono::seconds(1)};
    /// Upper bound of the probe interval.
    std::chrono::milliseconds max_probe{std::chrono::seconds(30)};
    /// Each interval is drawn uniformly from [interval * (1 - jitter), interval].
    double jitter = 0.2;
};

/// What the breaker says, for waits, diagnostics and metrics.
struct kie_health_view
{
    bool open = false;
    kie_down_cause cause = kie_down_cause::maintenance;
    int code = 0;                                           ///< KIE's code or the HTTP status; 0 for none.
    std::chrono::system_clock::time_point open_since{};     ///< When it opened (wall clock).
    std::chrono::steady_clock::time_point next_probe{};     ///< When the next probe may start.
    std::chrono::milliseconds open_for{0};                  ///< How long the current opening lasts so far.
    std::chrono::milliseconds total_open{0};                ///< Time spent open since the client started, current opening included.
    std::uint64_t openings = 0;                             ///< Times it opened.
    bool probing = false;                                   ///< A probe is in flight.
};

class KIEMIDI_DECL kie_health
{
public:
    explicit kie_health(kie_health_options opts = {}, std::uint64_t seed = std::random_device{}());

    /// An exchange got an answer that is KIE's own word (any code but 455 and 5xx): closes.
    void on_answer(kie_instant now);
    /// An exchange failed for `cause` (`code`: KIE's code or HTTP status, 0 for none).
    void on_failure(kie_down_cause cause, int code, kie_instant now);

    /// True when the caller should send the probe now: open, due, and no probe in flight.
    bool begin_probe(kie_instant now);
    /// The probe ended (its exchange reported on_answer / on_failure already). Still open: the
    /// next probe is due after a longer interval.
    void end_probe(kie_instant now);

    bool is_open() const;
    kie_health_view view(kie_instant now) const;

private:
    void open_locked(kie_down_cause cause, int code, kie_instant now);
    std::chrono::milliseconds draw_interval_locked();

    kie_health_options opts_;
    mutable std::mutex m_;
    std::mt19937_64 rng_;
    bool open_ = false;
    bool probing_ = false;
    unsigned failures_in_row_ = 0;
    kie_down_cause cause_ = kie_down_cause::maintenance;
    int code_ = 0;
    kie_instant opened_at_{};
    std::chrono::steady_clock::time_point next_probe_{};
    std::chrono::milliseconds interval_{0};
    std::chrono::steady_clock::duration closed_total_{0};
    std::uint64_t openings_ = 0;
};

/// "KIE unavailable (code 455, maintenance) since 12:03:10" (local time), for progress lines and diagnostics.
KIEMIDI_DECL std::string describe_kie_down(const kie_health_view& v);

}  // namespace kiemidi::detail

#endif
