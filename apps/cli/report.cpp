// The batch report's HTML: a summary line, then one <tbody class="track"> per track (an info row
// and a detail row holding the message, the advice and the inline piano roll).
#include "report.hpp"

#include <kiemidi/smf/piano_roll.hpp>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <map>

namespace kiemidi::cli {

namespace {

using smf::xml_escape;

std::string duration_text(double s)
{
    if (!(s > 0)) return "0:00";
    const auto whole = static_cast<long long>(std::llround(s));
    char buf[48];
    if (whole >= 3600) std::snprintf(buf, sizeof buf, "%lld:%02lld:%02lld", whole / 3600, whole / 60 % 60, whole % 60);
    else std::snprintf(buf, sizeof buf, "%lld:%02lld", whole / 60, whole % 60);
    return buf;
}

/// A class name from a state name: letters, digits, '-' and '_' only.
std::string css_token(std::string_view s)
{
    std::string out;
    for (char c : s) out += (std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-') ? c : '_';
    return out.empty() ? "unknown" : out;
}

/// `arg` as a POSIX shell word: as it is when plain, else in single quotes.
std::string shell_word(std::string_view arg)
{
    const bool plain = !arg.empty() && std::all_of(arg.begin(), arg.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.' || c == '/' || c == ':' || c == '@';
    });
    if (plain) return std::string(arg);
    std::string out = "'";
    for (char c : arg) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return out + "'";
}

bool is_url(std::string_view href) { return href.starts_with("https://") || href.starts_with("http://"); }

constexpr std::string_view style = R"(
body{font-family:sans-serif;margin:16px;color:#222;background:#fff}
h1{font-size:20px;margin:0 0 4px}
.source,.summary{margin:4px 0;color:#444}
table{border-collapse:collapse;width:100%;margin-top:12px}
th,td{text-align:left;padding:6px 8px;vertical-align:top}
thead th{border-bottom:2px solid #888}
tbody.track{border-bottom:1px solid #ccc}
tr.info td{padding-top:10px}
.ids{color:#666;font-size:12px}
.state{display:inline-block;padding:1px 8px;border-radius:9px;background:#ddd;font-size:13px}
.state-done .state{background:#cdeccd}
.state-failed .state{background:#f6c6c6}
.state-outcome_unknown .state{background:#fde2b8}
.message{color:#a00}
.warning{color:#8a5a00}
.advice{color:#333}
.roll svg{max-width:100%;height:auto;display:block}
.files a{margin-right:8px}
)";

}  // namespace

std::string encode_href(std::string_view href)
{
    static constexpr char hex[] = "0123456789ABCDEF";
    std::string out;
    for (char c : href)
    {
        const auto u = static_cast<unsigned char>(c);
        if (std::isalnum(u) || c == '-' || c == '.' || c == '_' || c == '~' || c == '/') out += c;
        else
        {
            out += '%';
            out += hex[u >> 4];
            out += hex[u & 15];
        }
    }
    return out;
}

std::string advice_for(const report_row& row)
{
    const std::string choices = (row.type.empty() ? std::string() : " --type " + shell_word(row.type)) +
                                (row.stem.empty() ? std::string() : " --stem " + shell_word(row.stem));
    const std::string retry = !row.separation_task_id.empty()
                                  ? "`kiemidi midi " + shell_word(row.separation_task_id) + choices + " --name " +
                                        shell_word(row.name) + " -o DIR`"
                              : row.task_id.empty()
                                  ? std::string("`kiemidi run TASK_ID AUDIO_ID`")
                                  : "`kiemidi run " + shell_word(row.task_id) + " " + shell_word(row.audio_id) + choices +
                                        " --name " + shell_word(row.name) + " -o DIR`";
    if (row.state == "done")
    {
        if (row.notes == 0)
            return "KIE detected no notes (it documents this after a split_stem separation). Separating with "
                   "separate_vocal, or transcribing one stem, may find notes (a new paid run).";
        return {};
    }
    if (row.state == "failed")
    {
        if (row.failed_stage == "output")
            return "KIE's result could not be written here (see the message: disk space, permissions). Fix that, then "
                   "rerun the batch with --retry-failed: the result is fetched from KIE again, nothing paid.";
        return "KIE failed or refused this track; its message is above. Once the cause is fixed (e.g. credits, a wrong "
               "task or audio id), rerun the batch with --retry-failed (it resumes from the last step not paid yet and "
               "says first how many paid submissions it may make), or try again with " + retry + " (a new paid run).";
    }
    if (row.state == "not_written")
        return "KIE finished this track (and charged for it) but its files could not be written here (see the message: "
               "disk space, permissions, the output directory). Fix that, then run the same `kiemidi batch` command "
               "again: the result is fetched from KIE again, nothing paid.";
    if (row.state == "result_lost")
        return "The files are gone and KIE no longer keeps this result: only a new paid run brings it back. Rerun the "
               "batch with --resubmit to pay for it again.";
    if (row.state == "outcome_unknown")
        return "A paid submission (" + (row.failed_stage.empty() ? std::string("separation or MIDI") : row.failed_stage) +
               ") was sent but its answer was lost: KIE may have processed and charged it. `kiemidi status JOURNAL` "
               "lists it; rerun the batch with --resubmit-unknown to submit it again (it may be charged twice).";
    if (row.state == "pending")
        return "Not started yet: run the same `kiemidi batch` command again to process it.";
    if (row.state.empty() || row.state == "unknown")
        return "kiemidi knows nothing about this track's outcome; `kiemidi status JOURNAL` shows what the journal holds.";
    return "Not finished (" + row.state + "): run the same `kiemidi batch` command again; it resumes from the recorded "
           "KIE task without paying again.";
}

std::string render_report_html(std::string_view title, std::string_view source, std::span<const report_row> rows)
{
    std::map<std::string, std::size_t> counts;
    std::size_t notes = 0;
    for (const auto& r : rows)
    {
        ++counts[r.state.empty() ? "unknown" : r.state];
        notes += r.notes;
    }

    std::size_t size = 4096;
    for (const auto& r : rows) size += r.svg.size() + 1024;
    std::string h;
    h.reserve(size);
    h += "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"/><title>kiemidi report: ";
    h += xml_escape(title);
    h += "</title><style>";
    h += style;
    h += "</style></head><body><h1>";
    h += xml_escape(title);
    h += "</h1>";
    if (!source.empty()) h += "<p class=\"source\">From " + xml_escape(source) + "</p>";
    h += "<p class=\"summary\">" + std::to_string(rows.size()) + (rows.size() == 1 ? " track" : " tracks");
    for (const auto& [state, n] : counts) h += ", " + std::to_string(n) + " " + xml_escape(state);
    h += "; " + std::to_string(notes) + " notes</p>";
    if (rows.empty())
    {
        h += "<p class=\"empty\">No track results here yet.</p></body></html>\n";
        return h;
    }

    h += "<table class=\"tracks\"><thead><tr><th>Track</th><th>State</th><th>Instruments</th><th>Notes</th>"
         "<th>Duration</th><th>Files</th></tr></thead>";
    std::size_t index = 0;
    for (const auto& r : rows)
    {
        ++index;
        const std::string state = r.state.empty() ? "unknown" : r.state;
        h += "<tbody class=\"track state-" + css_token(state) + "\" id=\"track-" + std::to_string(index) + "\">";
        h += "<tr class=\"info\"><td class=\"name\">" + xml_escape(r.name);
        if (!r.task_id.empty() || !r.audio_id.empty())
            h += "<br/><span class=\"ids\">" + xml_escape(r.task_id) + " / " + xml_escape(r.audio_id) + "</span>";
        if (!r.separation_task_id.empty())
            h += "<br/><span class=\"ids\">separation " + xml_escape(r.separation_task_id) + "</span>";
        if (!r.type.empty() || !r.stem.empty())
            h += "<br/><span class=\"ids\">" + xml_escape(r.type) + (r.type.empty() || r.stem.empty() ? "" : ", ") +
                 (r.stem.empty() ? std::string() : "stem " + xml_escape(r.stem)) + "</span>";
        h += "</td><td><span class=\"state\">" + xml_escape(state) + "</span>";
        if (!r.failed_stage.empty()) h += " <span class=\"ids\">at " + xml_escape(r.failed_stage) + "</span>";
        h += "</td><td class=\"instruments\">";
        for (std::size_t i = 0; i < r.instruments.size(); ++i)
            h += (i ? ", " : "") + xml_escape(r.instruments[i].empty() ? "(unnamed)" : r.instruments[i]);
        h += "</td><td class=\"notes\">" + std::to_string(r.notes) + "</td><td class=\"duration\">" +
             (r.state == "done" ? duration_text(r.duration_seconds) : std::string()) + "</td><td class=\"files\">";
        for (const auto& l : r.links)
            h += "<a href=\"" + xml_escape(is_url(l.href) ? l.href : encode_href(l.href)) + "\">" + xml_escape(l.label) + "</a>";
        h += "</td></tr>";

        const auto advice = r.advice.empty() ? advice_for(r) : r.advice;
        if (!r.message.empty() || !r.warning.empty() || !advice.empty() || !r.svg.empty())
        {
            h += "<tr class=\"detail\"><td colspan=\"6\">";
            if (!r.message.empty()) h += "<p class=\"message\">" + xml_escape(r.message) + "</p>";
            if (!r.warning.empty()) h += "<p class=\"warning\">Warning: " + xml_escape(r.warning) + "</p>";
            if (!advice.empty()) h += "<p class=\"advice\">What to do: " + xml_escape(advice) + "</p>";
            if (!r.svg.empty()) h += "<div class=\"roll\">" + r.svg + "</div>";
            h += "</td></tr>";
        }
        h += "</tbody>";
    }
    h += "</table></body></html>\n";
    return h;
}

}  // namespace kiemidi::cli
