// `kiemidi report DIR`: reads what a batch (or `kiemidi run`) left in DIR (the journal when there
// is one, the .json result files) and writes <name>.svg next to each result and DIR/index.html.
#include "commands.hpp"
#include "report.hpp"

#include <kiemidi/atomic_file.hpp>
#include <kiemidi/batch.hpp>
#include <kiemidi/journal.hpp>
#include <kiemidi/result_files.hpp>
#include <kiemidi/smf/piano_roll.hpp>

#include <algorithm>
#include <iostream>
#include <optional>
#include <set>

namespace kiemidi::cli {

namespace fs = std::filesystem;

namespace {

/// Writes a page or an image of the report whole (see write_file_atomically: the
/// temporary name is unique, so the workers of a shared batch can write the same report).
bool write_whole_file(const fs::path& path, const std::string& text, std::string& why)
{
    diagnostics diag;
    if (const error_code ec = write_file_atomically(path, text, diag); !ec) return true;
    why = diag.client_message();
    return false;
}

/// The instruments (and warning) of a <name>.json written by write_result_files; nullopt, with
/// the reason, when the file is missing or not such a file.
std::optional<std::vector<api::instrument>> read_result(const fs::path& path, std::string& warning, std::string& why,
                                                        std::vector<report_link>& stems, std::optional<smf::beat_grid>& grid)
{
    auto r = read_result_json(path);
    if (r.state == result_json::status::missing)
    {
        why = "missing";
        return std::nullopt;
    }
    if (r.state != result_json::status::ok)
    {
        why = "not a kiemidi result (no \"instruments\" list)";
        return std::nullopt;
    }
    if (!r.warning.empty()) warning = std::move(r.warning);
    // The separation's stems: only absolute URLs are linked (the report must not point into the
    // file system from a result file's word).
    for (auto& [name, url] : r.stems)
        if (url.starts_with("https://") || url.starts_with("http://")) stems.push_back({"stem: " + name, std::move(url)});
    grid = std::move(r.grid);
    return std::move(r.instruments);
}

/// Fills a row's result columns from <dir>/<name>.json and writes <dir>/<name>.svg.
/// Returns false when there is no result file (the row then says why, for a done track).
bool add_result(const fs::path& dir, report_row& row)
{
    std::string why;
    const auto json = dir / (row.name + ".json");
    std::vector<report_link> stems;
    std::optional<smf::beat_grid> grid;
    auto instruments = read_result(json, row.warning, why, stems, grid);
    if (!instruments)
    {
        if (row.state == "done") row.message = "the result file " + json.filename().string() + " is " + why;
        return false;
    }
    for (const auto& i : *instruments)
    {
        row.instruments.push_back(i.name);
        row.notes += i.notes.size();
        for (const auto& n : i.notes) row.duration_seconds = std::max(row.duration_seconds, n.end);
    }
    smf::piano_roll_options o;
    o.title = row.name;
    o.grid = grid;
    row.svg = smf::write_piano_roll_svg(*instruments, o);
    if (fs::exists(dir / (row.name + ".mid"))) row.links.push_back({"mid", row.name + ".mid"});
    row.links.push_back({"json", row.name + ".json"});
    if (write_whole_file(dir / (row.name + ".svg"), row.svg, why)) row.links.push_back({"svg", row.name + ".svg"});
    else std::cerr << "kiemidi report: " << why << "\n";
    row.links.insert(row.links.end(), stems.begin(), stems.end());
    return true;
}

}  // namespace

bool write_report(const fs::path& dir, const fs::path& journal_path, std::string& why, std::size_t* track_count)
{
    std::vector<report_row> rows;
    std::set<std::string> names;
    std::string source;
    if (!journal_path.empty() && fs::exists(journal_path))
    {
        error_code ec;
        diagnostics diag;
        auto j = journal::open(journal_path, ec, diag);
        if (ec)
        {
            why = "cannot read the journal " + journal_path.string() + ": " + describe(ec, diag);
            return false;
        }
        auto entries = j.entries();
        std::sort(entries.begin(), entries.end(), [](const auto& a, const auto& b) { return a.id < b.id; });
        source = journal_path.string();
        for (const auto& e : entries)
        {
            // The batch runner's file names: a name already used by an earlier track (lower id) gets "-<id>".
            auto base = output_name(e.track);
            auto name = names.count(base) ? base + "-" + std::to_string(e.id) : base;
            names.insert(name);
            report_row row;
            row.name = std::move(name);
            row.task_id = e.track.task_id;
            row.audio_id = e.track.audio_id;
            row.separation_task_id = e.track.separation_task_id;
            if (e.track.separation) row.type = std::string(api::to_string(*e.track.separation));
            row.stem = e.track.stem;
            row.state = std::string(to_string(e.state));
            row.message = e.error;
            if (e.state == track_state::failed || e.state == track_state::outcome_unknown) row.failed_stage = e.failed_stage;
            if (e.state == track_state::done) add_result(dir, row);
            rows.push_back(std::move(row));
        }
    }
    // Results without a journal entry: `kiemidi run` outputs, a shared batch's files.
    std::vector<fs::path> extra;
    std::error_code dec;
    for (const auto& f : fs::directory_iterator(dir, dec))
        if (f.path().extension() == ".json" && !names.count(f.path().stem().string())) extra.push_back(f.path());
    if (dec)
    {
        why = "cannot list " + dir.string() + ": " + dec.message();
        return false;
    }
    std::sort(extra.begin(), extra.end());
    for (const auto& p : extra)
    {
        report_row row;
        row.name = p.stem().string();
        row.state = "done";
        if (add_result(dir, row)) rows.push_back(std::move(row));
    }
    if (source.empty()) source = "the result files in " + dir.string();
    else if (!extra.empty()) source += " and the result files in " + dir.string();

    auto title = fs::absolute(dir).lexically_normal().filename().string();
    if (title.empty()) title = fs::absolute(dir).lexically_normal().parent_path().filename().string();
    const auto html = render_report_html("kiemidi: " + title, source, rows);
    if (track_count) *track_count = rows.size();
    return write_whole_file(dir / "index.html", html, why);
}

int report_command(const report_args& args)
{
    if (!fs::is_directory(args.dir)) throw usage_error("no directory at " + args.dir.string());
    if (!args.journal.empty() && !fs::exists(args.journal)) throw usage_error("no journal at " + args.journal.string());
    const auto journal = args.journal.empty() ? args.dir / "kiemidi-journal.sqlite" : args.journal;
    std::string why;
    std::size_t n = 0;
    if (!write_report(args.dir, journal, why, &n))
    {
        std::cerr << "kiemidi report: " << why << "\n";
        return exit_failed;
    }
    std::cout << (args.dir / "index.html").string() << ": " << n << (n == 1 ? " track\n" : " tracks\n");
    return exit_ok;
}

}  // namespace kiemidi::cli
