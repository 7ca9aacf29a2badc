/// @file
/// Observability: one metrics model (counters, gauges, latency histograms) that every client
/// keeps, always on; its Prometheus text exposition (format 0.0.4); and an optional observer
/// for tracing (stage started / finished, KIE answer received, callback taken).
///
/// The model counts what only the client sees (stages, KIE's answers by endpoint and code, lost
/// answers recovered, unknown outcomes, credits). What the transport, the rate limiter, the hub
/// and the listener already count is not duplicated: their stats structs are snapshotted when the
/// exposition is rendered (metrics::sources).
///
/// Cost: one relaxed atomic add per event and one clock read per stage or KIE exchange; no
/// allocation and no lock on the hot paths.
#ifndef KIEMIDI_METRICS_MODEL_HPP
#define KIEMIDI_METRICS_MODEL_HPP

#include <kiemidi/callback_hub.hpp>
#include <kiemidi/callback_listener.hpp>
#include <kiemidi/config.hpp>
#include <kiemidi/error.hpp>
#include <kiemidi/http_client.hpp>
#include <kiemidi/rate_limiter.hpp>

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

namespace kiemidi { class client; }

namespace kiemidi::metrics {

/// Upper bounds (seconds) of every latency histogram: KIE answers take milliseconds, its tasks
/// minutes, a stuck pipeline up to its deadline (tens of minutes).
inline constexpr std::array<double, 19> latency_buckets{0.005, 0.01, 0.025, 0.05, 0.1,  0.25, 0.5,  1,    2.5, 5,
                                                        10,    30,   60,    120,  300,  600,  1200, 1800, 3600};

/// A monotonic count.
class counter
{
public:
    /// Adds `n`.
    void inc(std::uint64_t n = 1) noexcept { v_.fetch_add(n, std::memory_order_relaxed); }
    /// The count now.
    std::uint64_t value() const noexcept { return v_.load(std::memory_order_relaxed); }

private:
    std::atomic<std::uint64_t> v_{0};
};

/// A value that goes up and down (in flight, credits).
class gauge
{
public:
    /// Adds `n`.
    void add(std::int64_t n = 1) noexcept { v_.fetch_add(n, std::memory_order_relaxed); }
    /// Subtracts `n`.
    void sub(std::int64_t n = 1) noexcept { v_.fetch_sub(n, std::memory_order_relaxed); }
    /// Sets the value to `n`.
    void set(std::int64_t n) noexcept { v_.store(n, std::memory_order_relaxed); }
    /// The value now.
    std::int64_t value() const noexcept { return v_.load(std::memory_order_relaxed); }

private:
    std::atomic<std::int64_t> v_{0};
};

/// Durations in latency_buckets (plus +Inf); the sum is kept in nanoseconds.
class histogram
{
public:
    /// Counts one duration `d` in its bucket and adds it to the sum.
    KIEMIDI_DECL void observe(std::chrono::nanoseconds d) noexcept;

    /// The histogram's counts at one moment (read()).
    struct snapshot
    {
        std::array<std::uint64_t, latency_buckets.size() + 1> cumulative{};  ///< Last one: +Inf (== count).
        /// Observations in all.
        std::uint64_t count = 0;
        /// Their sum, in seconds.
        double sum_seconds = 0;
    };
    /// The counts as Prometheus wants them (cumulative); count is the +Inf bucket, so the two agree.
    KIEMIDI_DECL snapshot read() const noexcept;

private:
    std::array<std::atomic<std::uint64_t>, latency_buckets.size() + 1> buckets_{};
    std::atomic<std::uint64_t> sum_ns_{0};
};

/// The step of a paid task a stage is: its POST (with the recovery of a lost answer) or the wait for its result.
enum class stage : unsigned char
{
    submit,  ///< The paid POST, with the recovery of a lost answer.
    wait,    ///< The wait for the task's result (callback or polls).
};
/// The number of stage values.
inline constexpr std::size_t stage_count = 2;

/// How a stage, a pipeline or a KIE exchange ended.
enum class outcome : unsigned char
{
    success,    ///< Completed without error.
    failure,    ///< KIE's word, or an error that is not one of the below.
    timeout,    ///< client_errc::timeout (a stage timeout or the pipeline's deadline).
    cancelled,  ///< boost::asio::error::operation_aborted, client_errc::shut_down.
    unknown,    ///< client_errc::outcome_unknown: a paid POST that may have been processed.
};
/// The number of outcome values.
inline constexpr std::size_t outcome_count = 5;
/// How an operation that completed with `ec` ended (success for no error).
KIEMIDI_DECL outcome outcome_of(const error_code& ec) noexcept;
/// The outcome's label value ("success", "failure", "timeout", "cancelled", "unknown").
KIEMIDI_DECL std::string_view to_string(outcome o) noexcept;
/// The stage's label value ("submit", "wait").
KIEMIDI_DECL std::string_view to_string(stage s) noexcept;

/// KIE's endpoints the client calls.
enum class endpoint : unsigned char
{
    separation_submit,  ///< POST /api/v1/vocal-removal/generate
    separation_record,  ///< GET /api/v1/vocal-removal/record-info
    midi_submit,        ///< POST /api/v1/midi/generate
    midi_record,        ///< GET /api/v1/midi/record-info
    credits,            ///< GET /api/v1/chat/credit
    music_record,       ///< GET /api/v1/generate/record-info
};
/// The number of endpoint values.
inline constexpr std::size_t endpoint_count = 6;
/// The endpoint's path, e.g. "/api/v1/midi/generate" (its label value).
KIEMIDI_DECL std::string_view endpoint_path(endpoint e) noexcept;

/// KIE's body codes counted one by one; any other is counted as "other", and an answer
/// that is not a KIE JSON envelope (a gateway's page) as "none".
inline constexpr std::array<int, 17> counted_codes{200, 400, 401, 402, 404, 405, 409, 413, 422,
                                                   429, 430, 451, 455, 500, 501, 502, 503};
/// Counters per endpoint: one per counted code, then "other" and "none".
inline constexpr std::size_t code_slots = counted_codes.size() + 2;  // + other, none

/// One stage's (or the pipelines') series.
struct stage_metrics
{
    /// Stages running now.
    gauge in_flight;
    /// How long finished stages took.
    histogram duration;
    std::array<counter, outcome_count> finished;  ///< By outcome.
};

/// One endpoint's series.
struct endpoint_metrics
{
    histogram latency;                     ///< From sending the request to its final answer (retries included).
    std::array<counter, code_slots> answers;  ///< By KIE's body code (see counted_codes).
    counter no_answer;                     ///< Exchanges that ended without an answer (network, timeout, cancelled).
};

/// KIE's availability as the client's circuit breaker sees it (see client.hpp: while KIE is
/// down no new paid submission starts; a free read probes it at growing intervals).
struct kie_availability
{
    bool down = false;                                     ///< The breaker is open.
    int code = 0;                                          ///< KIE's code (455) or the HTTP status that opened it; 0 for none.
    std::string reason;                                    ///< "maintenance", "server errors" or "no connection".
    std::chrono::system_clock::time_point since{};         ///< When KIE went down (wall clock).
    std::chrono::steady_clock::time_point since_steady{};  ///< The same on the steady clock.
    std::chrono::steady_clock::time_point next_try{};      ///< When the next probe may go.
    std::chrono::milliseconds down_for{0};                 ///< How long the current outage lasts so far.
    std::chrono::milliseconds total_down{0};               ///< Time spent down since the client started.
    std::uint64_t outages = 0;                             ///< Times KIE went down.
};

/// The model: every series the client counts (client::metrics()). Every member may be read
/// and updated from any thread.
struct registry
{
    std::array<std::array<stage_metrics, 2>, stage_count> stages;  ///< [stage][callback_kind].
    stage_metrics pipelines;                                        ///< async_generate_midi, end to end.
    /// By endpoint (indexed by metrics::endpoint).
    std::array<endpoint_metrics, endpoint_count> endpoints;
    std::array<counter, 2> recovered;         ///< [callback_kind] Lost answers whose task was found through its callback.
    std::array<counter, 2> unknown_outcomes;  ///< [callback_kind] Paid submissions that ended as outcome_unknown.
    std::array<counter, 2> callbacks;         ///< [callback_kind] Callbacks taken by waits.
    histogram limiter_wait;                   ///< How long paid submissions waited for the rate limiter's admission.
    /// The account's credits as last read (async_get_credits sets it; a caller may set it too).
    KIEMIDI_DECL void set_credits(std::int64_t remaining) noexcept;
    /// The credits as last set; nullopt before the first read.
    KIEMIDI_DECL std::optional<std::int64_t> credits() const noexcept;

    /// The series of stage `s` of tasks of kind `k`.
    stage_metrics& of(stage s, callback_kind k) noexcept
    {
        return stages[static_cast<std::size_t>(s)][static_cast<std::size_t>(k)];
    }
    /// The circuit breaker's view of KIE, with down_for and total_down as of `now`.
    KIEMIDI_DECL kie_availability kie(std::chrono::steady_clock::time_point now = std::chrono::steady_clock::now()) const;
    /// Set by the client whenever its breaker's view changes.
    KIEMIDI_DECL void set_kie(kie_availability a);

    /// Counts one KIE answer: `kie_code` is its body code, nullopt when the body is not KIE's.
    KIEMIDI_DECL void count_answer(endpoint e, std::optional<int> kie_code, std::chrono::nanoseconds latency) noexcept;
    /// The count of answers of `e` with code slot `code` (a counted code; -1: other; 0: none).
    KIEMIDI_DECL std::uint64_t answers(endpoint e, int code) const noexcept;
    /// A fresh id for a stage or pipeline (observer events), unique in this registry.
    std::uint64_t next_id() noexcept { return ids_.fetch_add(1, std::memory_order_relaxed) + 1; }

private:
    mutable std::mutex kie_m_;
    kie_availability kie_;
    std::atomic<std::int64_t> credits_{0};
    std::atomic<bool> credits_known_{false};
    std::atomic<std::uint64_t> ids_{0};
};

// ---- tracing -------------------------------------------------------------------------------

/// A stage started or finished. The string_views are valid only during the call.
struct stage_event
{
    std::uint64_t id = 0;         ///< This stage's (or pipeline's) id, unique per client.
    std::uint64_t parent_id = 0;  ///< The pipeline it belongs to; 0 for a standalone operation or a pipeline.
    std::string_view name;        ///< "submit", "wait" or "pipeline".
    std::string_view kind;        ///< "separation" or "midi"; empty for a pipeline.
    std::string_view task_id;     ///< The KIE task, when known (the waited task; a submission's created task when finished).
    std::chrono::nanoseconds duration{};  ///< stage_finished only.
    error_code ec;                        ///< stage_finished only: how it ended.
    outcome result = outcome::success;    ///< stage_finished only: ec classified.
};

/// One KIE exchange ended (after the transport's retries).
struct kie_answer_event
{
    std::string_view endpoint;       ///< Its path.
    unsigned http_status = 0;        ///< 0 when no answer came.
    std::optional<int> kie_code;     ///< The body's code, when the body is KIE's.
    /// From sending the request to its final answer (retries included).
    std::chrono::nanoseconds latency{};
    error_code ec;                   ///< The exchange's error (KIE's word included), {} on success.
};

/// A wait took a callback of its task (from the hub).
struct callback_event
{
    std::string_view kind;     ///< "separation" or "midi".
    std::string_view task_id;  ///< The task the callback is about.
    int code = 0;              ///< The callback's KIE code as parsed (0 when unparsable).
};

/// Tracing hooks (client_options::observer). Each is called inline on the executor (strand) of
/// the operation that produced the event, so it must not block: hand the event over (copy what
/// it needs; the views die with the call) to a logger or an OpenTelemetry exporter. It may be
/// called from several threads at once when the io_context runs on several; never throw.
class observer
{
public:
    /// Destroys the observer (the client holds it by shared_ptr).
    virtual ~observer() = default;
    /// A stage or pipeline started. Does nothing unless overridden.
    virtual void stage_started(const stage_event&) noexcept {}
    /// A stage or pipeline finished; the event carries its duration and outcome.
    virtual void stage_finished(const stage_event&) noexcept {}
    /// A KIE exchange ended (answer or none).
    virtual void kie_answer(const kie_answer_event&) noexcept {}
    /// A wait took its task's callback.
    virtual void callback_received(const callback_event&) noexcept {}
};

// ---- exposition ----------------------------------------------------------------------------

/// What one exposition shows: the model and snapshots of the other parts' counters (each optional).
struct sources
{
    /// The client's model; nullptr: not shown.
    const registry* model = nullptr;
    /// The transport's counters (client::transport_stats()).
    std::optional<http_client_stats> transport;
    /// The rate limiter's counters.
    std::optional<rate_limiter_stats> limiter;
    /// The callback hub's counters.
    std::optional<callback_hub_stats> hub;
    /// The callback listener's counters.
    std::optional<listener_stats> listener;
};

/// The client's model and transport, its hub's counters (when callbacks are attached) and
/// `listener`'s (when given), read now.
KIEMIDI_DECL sources collect(client& c, const callback_listener* listener = nullptr);

/// Prometheus text exposition format 0.0.4 (Content-Type: text/plain; version=0.0.4) of `s`.
/// Pure: reads the snapshot and the model's atomics, nothing else.
KIEMIDI_DECL std::string render_prometheus(const sources& s);

/// The Content-Type of render_prometheus's output.
inline constexpr std::string_view content_type = "text/plain; version=0.0.4; charset=utf-8";

}  // namespace kiemidi::metrics

#endif
