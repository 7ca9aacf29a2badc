// Progress output of `kiemidi batch` on stderr: a live line redrawn with '\r' when stderr is a
// terminal (done/failed/in flight, tracks per second, ETA), plain log lines otherwise. It only
// draws; the counts come from the batch runner's events.
#ifndef KIEMIDI_APPS_CLI_PROGRESS_HPP
#define KIEMIDI_APPS_CLI_PROGRESS_HPP

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
};

/// "12/60 done, 1 failed, 16 in flight, 3.2 tracks/s, ETA 0:15". Tracks skipped because a previous
/// run finished them count as done but not towards the rate.
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
    /// A free-form notice (e.g. a bad row), above the live line.
    void note(std::string_view text);
    /// Final redraw and newline (live mode).
    void finish(const progress_counts& c);

private:
    void clear_line();
    void draw(const progress_counts& c);

    std::mutex mutex_;
    std::FILE* out_;
    bool live_;
    bool drawn_ = false;
    std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
    std::chrono::steady_clock::time_point last_draw_{};
};

}  // namespace kiemidi::cli

#endif
