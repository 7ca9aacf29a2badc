// What `kiemidi batch` says before it pays, and the copies of duplicates after; see
// batch_plan_output.hpp.
#include "batch_plan_output.hpp"

#include <kiemidi/batch_duplicates.hpp>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/string.hpp>

#include <charconv>
#include <iostream>
#include <sstream>

namespace kiemidi::cli {

namespace json = boost::json;

track_spec track_of(const track_row& r)
{
    return track_spec{.task_id = r.task_id,
                      .audio_id = r.audio_id,
                      .name = r.name,
                      .separation = r.type,
                      .stem = r.stem,
                      .separation_task_id = r.separation_task_id};
}

batch_options batch_options_of(const batch_args& args, const batch_rows& rows)
{
    batch_options bo;
    bo.output_dir = args.output_dir;
    bo.journal_path = args.journal.empty() ? args.output_dir / "kiemidi-journal.sqlite" : args.journal;
    bo.concurrency = args.concurrency;
    bo.outage_wait = args.outage_wait;
    bo.resubmit_unknown = args.resubmit_unknown;
    bo.retry_failed = args.retry_failed;
    bo.resubmit_lost = args.resubmit_lost;
    bo.pipeline.separation = args.type;
    bo.pipeline.stem = args.stem;
    bo.files = args.files;
    // A row's own tempo and quantize win over --tempo / --quantize.
    for (const auto& r : rows.run)
        if (r.tempo || r.quantize)
        {
            auto c = args.files;
            if (r.tempo) c.tempo = *r.tempo;
            if (r.quantize) c.quantize = *r.quantize;
            bo.files_by_track[output_name(track_of(r))] = c;
        }
    bo.max_credits = args.max_credits;
    bo.costs = args.costs;
    return bo;
}

batch_rows split_duplicates(const std::vector<track_row>& rows, const midi_params& defaults, bool allow)
{
    batch_rows out;
    if (allow)
    {
        out.run = rows;
        return out;
    }
    std::vector<track_spec> specs;
    specs.reserve(rows.size());
    for (const auto& r : rows) specs.push_back(track_of(r));
    const auto first = first_of_same_work(specs, defaults);
    for (std::size_t i = 0; i < rows.size(); ++i)
    {
        if (first[i] == i) out.run.push_back(rows[i]);
        else out.duplicates.push_back({rows[i], rows[first[i]]});
    }
    return out;
}

namespace {

std::string name_of(const track_row& r)
{
    return output_name(track_of(r));
}

}  // namespace

void print_duplicates(std::ostream& os, const std::string& file, const std::vector<duplicate_row>& duplicates)
{
    for (const auto& d : duplicates)
        os << "duplicate: " << file << ":" << d.row.line << " (" << name_of(d.row) << ") asks for the same work as line "
           << d.first.line << " (" << name_of(d.first) << "): paid once, its files are a copy (--allow-duplicates pays again)\n";
}

std::string bad_rows_summary(const track_list& list, const std::string& file, bool skip_bad_rows)
{
    if (list.errors.empty()) return {};
    std::string lines;
    for (const auto& e : list.errors) lines += (lines.empty() ? "" : ", ") + std::to_string(e.line);
    std::string s = std::to_string(list.errors.size()) + " bad row(s) in " + file + " (line " + lines + ") were not run";
    if (skip_bad_rows) return "warning: " + s + " (--skip-bad-rows)";
    return s + "; fix them and run the same command again (done tracks are not paid again), or pass --skip-bad-rows";
}

int check_track_list(const batch_args& args, const track_list& list, const batch_rows& rows)
{
    const auto file = args.track_list.string();
    for (const auto& e : list.errors) std::cout << "bad row: " << e.to_string() << "\n";
    print_duplicates(std::cout, file, rows.duplicates);
    std::cout << file << ": " << list.rows.size() + list.errors.size() << " rows: " << rows.run.size() << " to run, "
              << rows.duplicates.size() << " duplicate(s), " << list.errors.size() << " bad\n";
    if (list.errors.empty()) return exit_ok;
    std::cerr << "kiemidi batch: " << bad_rows_summary(list, file, args.skip_bad_rows) << "\n";
    return args.skip_bad_rows ? exit_ok : exit_bad_rows;
}

namespace {

std::string seconds(std::chrono::milliseconds ms)
{
    std::ostringstream s;
    s << std::chrono::duration<double>(ms).count() << " s";
    return s.str();
}

std::string paid_text(const paid_counts& p)
{
    return std::to_string(p.total()) + " paid submissions (" + std::to_string(p.separate_vocal) + " separate_vocal, " +
           std::to_string(p.split_stem) + " split_stem, " + std::to_string(p.midi) + " midi)";
}

json::object paid_json(const paid_counts& p)
{
    return {{"separate_vocal", p.separate_vocal}, {"split_stem", p.split_stem}, {"midi", p.midi}, {"total", p.total()}};
}

/// The line of the first row asking for track `t`; 0 when none does (a track of the batch's
/// state that is not in the list).
std::size_t line_of(const track_spec& t, const batch_rows& rows)
{
    for (const auto& r : rows.run)
        if (same_track(track_of(r), t)) return r.line;
    return 0;
}

void print_plan_json(std::ostream& os, const batch_plan& plan, const plan_context& ctx, const batch_rows& rows)
{
    json::object o;
    o["list"] = ctx.list_file;
    o["state"] = ctx.state;
    o["tracks"] = json::object{{"new", plan.fresh},
                               {"resume", plan.resume},
                               {"done", plan.done},
                               {"failed", plan.left_failed},
                               {"outcome_unknown", plan.left_unknown},
                               {"bad_rows", ctx.bad_rows},
                               {"duplicates", ctx.duplicates}};
    o["paid_submissions"] = paid_json(plan.paid);
    o["credit_costs"] = json::object{{"separate_vocal", plan.costs.separate_vocal},
                                     {"split_stem", plan.costs.split_stem},
                                     {"midi", plan.costs.midi}};
    o["estimated_credits"] = plan.estimated_credits;
    o["remaining_credits"] = ctx.remaining ? json::value(*ctx.remaining) : json::value(nullptr);
    o["credits_suffice"] = ctx.remaining ? json::value(plan.affordable(*ctx.remaining)) : json::value(nullptr);
    o["max_credits"] = ctx.max_credits ? json::value(*ctx.max_credits) : json::value(nullptr);
    o["rate_limit_ms"] = plan.rate_limit_time.count();
    o["rate_limit"] = json::object{{"enabled", plan.rate_limit.enabled},
                                   {"submissions_per_window", plan.rate_limit.submissions_per_window},
                                   {"window_ms", plan.rate_limit.window.count()}};
    json::array tracks;
    for (const auto& t : plan.tracks)
    {
        json::object j{{"name", t.name},
                       {"status", to_string(t.what)},
                       {"state", to_string(t.state)},
                       {"next_step", t.next_step},
                       {"paid", paid_json(t.paid)}};
        if (auto line = line_of(t.track, rows)) j["line"] = line;
        tracks.push_back(std::move(j));
    }
    o["plan"] = std::move(tracks);
    json::array dups;
    for (const auto& d : rows.duplicates)
        dups.push_back(json::object{{"line", d.row.line}, {"name", name_of(d.row)}, {"same_as_line", d.first.line},
                                    {"same_as", name_of(d.first)}});
    o["duplicates"] = std::move(dups);
    json::array bad;
    for (const auto& e : ctx.bad_row_errors) bad.push_back(json::string(e));
    o["bad_rows"] = std::move(bad);
    os << json::serialize(o) << "\n";
}

}  // namespace

void print_plan(std::ostream& os, const batch_plan& plan, const plan_context& ctx, const batch_rows& rows, bool as_json)
{
    if (as_json) return print_plan_json(os, plan, ctx, rows);
    os << "plan for " << ctx.list_file << " (" << ctx.state << "), nothing paid:\n"
       << "  tracks: " << plan.tracks.size() << ": " << plan.fresh << " new, " << plan.resume << " to resume, " << plan.done
       << " done, " << plan.left_failed << " failed, " << plan.left_unknown << " outcome unknown; " << ctx.bad_rows
       << " bad rows, " << ctx.duplicates << " duplicates\n";
    for (const auto& t : plan.tracks)
    {
        if (t.what == planned_track::status::fresh || t.what == planned_track::status::done) continue;
        os << "    " << to_string(t.what) << " " << t.name;
        if (!t.next_step.empty()) os << ": " << t.next_step;
        os << "\n";
    }
    os << "  " << paid_text(plan.paid) << "\n"
       << "  estimated credits: " << plan.estimated_credits << " (each: separate_vocal " << plan.costs.separate_vocal
       << ", split_stem " << plan.costs.split_stem << ", midi " << plan.costs.midi << "; --credit-cost KIND=N)\n";
    if (ctx.remaining)
        os << "  account credits: " << *ctx.remaining << " remaining: "
           << (plan.affordable(*ctx.remaining) ? "enough" : "NOT enough (" + std::to_string(plan.estimated_credits - *ctx.remaining) + " short)")
           << "\n";
    else os << "  account credits: unknown (KIE could not be asked)\n";
    if (ctx.max_credits)
        os << "  budget (--max-credits): " << *ctx.max_credits
           << (*ctx.max_credits >= plan.estimated_credits ? ": covers the plan" : ": the run stops where the next track would exceed it")
           << "\n";
    os << "  rate limit: ";
    if (!plan.rate_limit.enabled) os << "off (no wait)\n";
    else
        os << "at least " << seconds(plan.rate_limit_time) << " for the paid submissions alone ("
           << plan.rate_limit.submissions_per_window << " per " << seconds(plan.rate_limit.window) << ")\n";
}

std::string plan_line(const batch_plan& plan, const plan_context& ctx)
{
    std::string s = "plan: " + std::to_string(plan.tracks.size()) + " tracks (" + std::to_string(plan.fresh) + " new, " +
                    std::to_string(plan.resume) + " to resume, " + std::to_string(plan.done) + " done, " +
                    std::to_string(plan.left_failed + plan.left_unknown) + " left failed/unknown; " +
                    std::to_string(ctx.bad_rows) + " bad rows, " + std::to_string(ctx.duplicates) + " duplicates), " +
                    paid_text(plan.paid) + ", ~" + std::to_string(plan.estimated_credits) + " credits";
    if (ctx.remaining)
        s += " of " + std::to_string(*ctx.remaining) + " remaining" + (plan.affordable(*ctx.remaining) ? "" : " (NOT enough)");
    if (ctx.max_credits) s += ", budget " + std::to_string(*ctx.max_credits);
    if (plan.rate_limit.enabled) s += ", rate limit >= " + seconds(plan.rate_limit_time);
    return s;
}

int dry_run_exit(const batch_plan& plan, const plan_context& ctx, bool skip_bad_rows)
{
    if (ctx.remaining && !plan.affordable(*ctx.remaining)) return exit_no_credits;
    if (ctx.bad_rows > 0 && !skip_bad_rows) return exit_bad_rows;
    return exit_ok;
}

std::size_t copy_duplicate_results(const std::filesystem::path& dir, const std::vector<duplicate_row>& duplicates,
                                   const std::vector<finished_track>& tracks)
{
    std::size_t missing = 0;
    for (const auto& d : duplicates)
    {
        const auto first = track_of(d.first);
        const finished_track* source = nullptr;
        for (const auto& t : tracks)
            if (same_track(t.track, first)) source = &t;
        const auto to = name_of(d.row);
        if (!source || source->state != track_state::done)
        {
            ++missing;
            std::cerr << "kiemidi batch: duplicate " << to << " (line " << d.row.line << "): no copy, line " << d.first.line
                      << " is " << (source ? std::string(to_string(source->state)) : std::string("not in the batch")) << "\n";
            continue;
        }
        if (to == source->name) continue;  // the same file already
        diagnostics diag;
        if (auto ec = copy_result_files(dir, source->name, to, diag))
        {
            ++missing;
            std::cerr << "kiemidi batch: duplicate " << to << ": cannot copy " << source->name << ": " << describe(ec, diag) << "\n";
            continue;
        }
        std::cout << "copy " << to << " (line " << d.row.line << "): the result of " << source->name << " (line " << d.first.line
                  << "), paid once\n";
    }
    return missing;
}

void set_credit_cost(credit_costs& costs, const std::string& text)
{
    const auto eq = text.find('=');
    const auto kind = paid_kind_from_string(std::string_view(text).substr(0, eq));
    std::int64_t n = -1;
    if (eq != std::string::npos)
    {
        const char* b = text.data() + eq + 1;
        const char* e = text.data() + text.size();
        auto [p, ec] = std::from_chars(b, e, n);
        if (ec != std::errc() || p != e || b == e) n = -1;
    }
    if (!kind || n < 0)
        throw usage_error("--credit-cost takes KIND=N with KIND separate_vocal, split_stem or midi and N >= 0, not '" + text + "'");
    costs.of(*kind) = n;
}

}  // namespace kiemidi::cli
