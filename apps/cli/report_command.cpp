// `kiemidi report DIR`: reads what a batch (or `kiemidi run`) left in DIR (the journal when there
// is one, the .json result files) and writes <name>.svg next to each result and DIR/index.html.
#include "commands.hpp"
#include "../../src/output/result_files.hpp"
#include "report.hpp"

#include <kiemidi/batch.hpp>
#include <kiemidi/journal.hpp>
#include <kiemidi/smf/piano_roll.hpp>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <iostream>
#include <iterator>
#include <optional>
#include <set>

namespace kiemidi::cli {

namespace fs = std::filesystem;

namespace {

/// Writes a page or an image of the report whole (see detail::write_file_atomically: the
/// temporary name is unique, so the workers of a shared batch can write the same report).
bool write_whole_file(const fs::path& path, const std::string& text, std::string& why)
{
    diagnostics diag;
    if (const error_code ec = detail::write_file_atomically(path, text, diag); !ec) return true;
    why = diag.client_message();
    return false;
}

double number(const boost::json::value& v)
{
    if (v.is_double()) return v.get_double();
    if (v.is_int64()) return double(v.get_int64());
    if (v.is_uint64()) return double(v.get_uint64());
    return 0;
}

/// The instruments (and warning) of a <name>.json written by smf::notes_to_json; nullopt, with
/// the reason, when the file is missing or not such a file.
std::optional<std::vector<api::instrument>> read_result(const fs::path& path, std::string& warning, std::string& why,
                                                        std::vector<report_link>& stems, std::optional<smf::beat_grid>& grid)
{
    std::ifstream in(path, std::ios::binary);
    if (!in)
    {
        why = "missing";
        return std::nullopt;
    }
    const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    boost::system::error_code ec;
    const auto doc = boost::json::parse(text, ec);
    const auto* obj = ec ? nullptr : doc.if_object();
    const auto* list = obj && obj->contains("instruments") ? obj->at("instruments").if_array() : nullptr;
    if (!list)
    {
        why = "not a kiemidi result (no \"instruments\" list)";
        return std::nullopt;
    }
    if (const auto* w = obj->if_contains("warning"); w && w->is_string()) warning = std::string(w->get_string());
    // The tempo map the .mid was written with, so the piano roll draws its bar lines.
    if (const auto* t = obj->if_contains("tempo"); t && t->is_object())
    {
        const auto& to = t->get_object();
        smf::beat_grid g;
        if (const auto* b = to.if_contains("beats"); b && b->is_array())
            for (const auto& bv : b->get_array()) g.beats.push_back(number(bv));
        if (const auto* v = to.if_contains("bpm")) g.bpm = number(*v);
        if (const auto* v = to.if_contains("time_signature"); v && v->is_string() && v->get_string().starts_with("3/")) g.beats_per_bar = 3;
        if (const auto* v = to.if_contains("first_downbeat"))
        {
            const double at = number(*v);
            for (std::size_t i = 0; i < g.beats.size(); ++i)
                if (std::abs(g.beats[i] - at) < std::abs(g.beats[g.first_downbeat] - at)) g.first_downbeat = i;
        }
        if (!g.empty() && std::is_sorted(g.beats.begin(), g.beats.end())) grid = std::move(g);
    }
    // The separation's stems ({"name", "url"}), as a batch or run wrote them; only absolute URLs
    // are linked (the report must not point into the file system from a result file's word).
    if (const auto* sl = obj->if_contains("stems"); sl && sl->is_array())
        for (const auto& sv : sl->get_array())
        {
            const auto* so = sv.if_object();
            const auto* n = so ? so->if_contains("name") : nullptr;
            const auto* u = so ? so->if_contains("url") : nullptr;
            if (!n || !u || !n->is_string() || !u->is_string()) continue;
            const std::string url(u->get_string());
            if (url.starts_with("https://") || url.starts_with("http://"))
                stems.push_back({"stem: " + std::string(n->get_string()), url});
        }
    std::vector<api::instrument> out;
    for (const auto& iv : *list)
    {
        const auto* io = iv.if_object();
        if (!io) continue;
        api::instrument ins;
        if (const auto* n = io->if_contains("name"); n && n->is_string()) ins.name = std::string(n->get_string());
        if (const auto* notes = io->if_contains("notes"); notes && notes->is_array())
            for (const auto& nv : notes->get_array())
            {
                const auto* no = nv.if_object();
                if (!no) continue;
                api::note n;
                if (const auto* p = no->if_contains("pitch")) n.pitch = static_cast<int>(number(*p));
                if (const auto* s = no->if_contains("start")) n.start = number(*s);
                if (const auto* e = no->if_contains("end")) n.end = number(*e);
                if (const auto* v = no->if_contains("velocity")) n.velocity = number(*v);
                ins.notes.push_back(n);
            }
        out.push_back(std::move(ins));
    }
    return out;
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
