// Progress output of `kiemidi batch` on stderr: on a terminal one status line (done/failed/in
// flight, tracks per second, ETA, and whether KIE's rate limit holds requests back) is redrawn in
// place with '\r', below the lines that finished tracks leave; in a pipe or file only plain lines,
// never an escape code. It only draws; the counts come from the batch runner's events and the
// transport's rate limiter.
#ifndef KIEMIDI_APPS_CLI_PROGRESS_HPP
#define KIEMIDI_APPS_CLI_PROGRESS_HPP

#include <kiemidi/metrics/model.hpp>

#include <chrono>
#include <cstddef>
#include <cstdio>
#include <mutex>
#include <string>
#include <string_view>

namespace kiemidi::cli {

/// Counts shown on the progress line.
struct progress_counts
{
    std::size_t total = 0, done = 0, failed = 0, in_flight = 0, skipped = 0;
    /// Paid submissions waiting for a token of the client's rate limiter (KIE's account limit).
    std::size_t rate_limit_queued = 0;
    /// While KIE is down: format_kie_line's text; empty while it is up.
    std::string kie_unavailable;
};

/// "KIE unavailable (code 455, maintenance) since 12:03:10, next try in 20 s" (local time) while
/// the client's circuit breaker is open; empty while KIE is up.
std::string format_kie_line(const metrics::kie_availability& kie, std::chrono::steady_clock::time_point now);

/// "waiting for KIE's rate limit: 12 requests queued".
std::string format_rate_limit_line(std::size_t queued);

/// "12/60 done, 1 failed, 16 in flight, 3.2 tracks/s, ETA 0:15", followed by
/// "; waiting for KIE's rate limit: 12 requests queued" while submissions wait for the limiter,
/// and "; KIE unavailable (...) since ..., next try in 20 s" while KIE is down.
/// Tracks skipped because a previous run finished them count as done but not towards the rate.
std::string format_progress_line(const progress_counts& c, std::chrono::steady_clock::duration elapsed);

/// Draws progress on a FILE (stderr). Thread safety: every member locks; call from any thread.
class progress_printer
{
public:
    /// `live`: redraw one line with '\r' (a terminal); otherwise log one line per finished track.
    progress_printer(std::FILE* out, bool live);

    /// A track finished (ok or not) or was skipped; `message` is the error or the output file.
    void track_line(std::string_view status, std::string_view track, std::string_view message,
                    const progress_counts& c);
    /// The counts changed; the live line is redrawn at most every 100 ms.
    void update(const progress_counts& c);
    /// `queued` paid submissions wait for the rate limiter now (sampled periodically). Live: shown
    /// on the status line. Plain: one line when requests start queueing, and again while they
    /// keep queueing at most every `plain_repeat`.
    void rate_limit(std::size_t queued);
    /// How often a plain output repeats the rate-limit line while requests keep queueing.
    static constexpr std::chrono::seconds plain_repeat{10};
    /// KIE's availability (format_kie_line's text, empty while up), sampled periodically. Live:
    /// shown on the status line. Plain: one line when KIE goes down, again at most every
    /// `plain_repeat` while it stays down, and one when it is back.
    void kie_status(const std::string& unavailable);
    /// A free-form notice (e.g. a bad row), above the live line.
    void note(std::string_view text);
    /// Final redraw and newline (live mode).
    void finish(const progress_counts& c);

private:
    void clear_line();
    void draw(const progress_counts& c);
    void redraw_if_due();

    std::mutex mutex_;
    std::FILE* out_;
    bool live_;
    bool drawn_ = false;
    std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
    std::chrono::steady_clock::time_point last_draw_{};
    progress_counts last_{};       // the latest counts, for redraws between events
    std::size_t queued_ = 0;       // the latest sample of the rate limiter's queue
    bool queued_said_ = false;     // plain: the current queueing spell was reported
    std::chrono::steady_clock::time_point queued_said_at_{};
    std::string kie_;              // the latest KIE status text (empty: up)
    std::chrono::steady_clock::time_point kie_said_at_{};
};

}  // namespace kiemidi::cli

#endif
