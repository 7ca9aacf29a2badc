// The batch report: one static HTML page (no external assets, no script) with one row per track:
// its state, instruments, note count, duration, inline piano roll, links to its files, and for
// tracks that are not done, KIE's message and what to do. Pure: rows in, text out.
#ifndef KIEMIDI_APPS_CLI_REPORT_HPP
#define KIEMIDI_APPS_CLI_REPORT_HPP

#include <cstddef>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace kiemidi::cli {

/// A file of a track, linked from its row.
struct report_link
{
    std::string label;  ///< e.g. "mid"
    std::string href;   ///< A path relative to the report (percent-encoded when rendered) or an absolute URL.
};

/// One track of the report.
struct report_row
{
    std::string name;                      ///< Output base name.
    std::string task_id, audio_id;         ///< Empty when unknown (a result file without a journal entry).
    std::string separation_task_id;        ///< A row naming a separation finished earlier (then no task/audio id).
    std::string type, stem;                ///< The row's own separation type and stem; empty: the batch's.
    std::string state;                     ///< The journal's state name ("done", "failed", "outcome_unknown", ...).
    std::string failed_stage;              ///< "separation", "midi" or "output" for failed / outcome_unknown tracks.
    std::vector<std::string> instruments;  ///< Names, in the result's order.
    std::size_t notes = 0;
    double duration_seconds = 0;           ///< End of the last note.
    std::string svg;                       ///< Piano roll, inlined as it is (it must be well-formed SVG); empty: none.
    std::vector<report_link> links;
    std::string message;                   ///< KIE's message / why the track is not done; empty when done.
    std::string warning;                   ///< The result's warning (repairs, no notes); may be empty.
    std::string advice;                    ///< What to do; empty: nothing.
};

/// What a user can do about `row` by its state (journal state names) and failed stage; the
/// command to retry it names its task and audio ids. Empty for done tracks with notes.
std::string advice_for(const report_row& row);

/// `href` made safe for a relative link: every byte outside [A-Za-z0-9-._~/] percent-encoded.
std::string encode_href(std::string_view href);

/// The whole page. `title` heads it; `source` says where the rows come from (e.g. the journal's path).
std::string render_report_html(std::string_view title, std::string_view source, std::span<const report_row> rows);

}  // namespace kiemidi::cli

#endif
