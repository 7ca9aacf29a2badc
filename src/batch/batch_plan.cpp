// The batch plan: tracks against the batch's state, the paid submissions they still need, their
// estimated cost and the time KIE's rate limit imposes on them. See batch_plan.hpp.
#include <kiemidi/batch_plan.hpp>

#include <algorithm>
#include <map>
#include <set>
#include <tuple>

namespace kiemidi {

std::string_view to_string(paid_kind k) noexcept
{
    switch (k)
    {
    case paid_kind::separate_vocal: return "separate_vocal";
    case paid_kind::split_stem: return "split_stem";
    case paid_kind::midi: return "midi";
    }
    return "?";
}

std::optional<paid_kind> paid_kind_from_string(std::string_view s) noexcept
{
    for (auto k : {paid_kind::separate_vocal, paid_kind::split_stem, paid_kind::midi})
        if (s == to_string(k)) return k;
    return std::nullopt;
}

std::string_view to_string(planned_track::status s) noexcept
{
    switch (s)
    {
    case planned_track::status::fresh: return "new";
    case planned_track::status::resume: return "resume";
    case planned_track::status::done: return "done";
    case planned_track::status::left_failed: return "failed";
    case planned_track::status::left_unknown: return "outcome_unknown";
    }
    return "?";
}

namespace {

/// The state a failed / outcome_unknown track goes back to when the run retries it: the latest
/// its recorded task ids allow (journal::requeue).
track_state requeued_state(const journal_entry& e)
{
    if (!e.midi_task_id.empty()) return track_state::transcribing;
    if (!e.separation_task_id.empty() || !e.track.separation_task_id.empty()) return track_state::separating;
    return track_state::pending;
}

/// The state the run takes the track on from, or nullopt when it leaves it as it is.
std::optional<track_state> state_for_run(const journal_entry& e, const batch_options& opts)
{
    switch (e.state)
    {
    case track_state::done: return std::nullopt;
    case track_state::failed: return opts.retry_failed ? std::optional(requeued_state(e)) : std::nullopt;
    case track_state::outcome_unknown: return opts.resubmit_unknown ? std::optional(requeued_state(e)) : std::nullopt;
    // KIE no longer keeps the result: only --resubmit pays for it again, from the given separation
    // if the row names one, else from the start.
    case track_state::result_lost:
        if (!opts.resubmit_lost) return std::nullopt;
        return e.track.separation_task_id.empty() ? track_state::pending : track_state::separating;
    default: return e.state;
    }
}

paid_counts separation_of(const track_spec& t, const batch_options& opts)
{
    paid_counts p;
    if (t.separation.value_or(opts.pipeline.separation) == api::separation_type::split_stem) p.split_stem = 1;
    else p.separate_vocal = 1;
    return p;
}

paid_counts steps_from(track_state s, const journal_entry& e, const batch_options& opts)
{
    paid_counts p;
    switch (s)
    {
    case track_state::pending:
        p = separation_of(e.track, opts);
        p.midi = 1;
        break;
    case track_state::separation_intent:  // the separation is found from its callback; the MIDI is ahead
    case track_state::separating: p.midi = 1; break;
    default: break;  // midi_intent (found from its callback), transcribing, not_written: nothing more to pay
    }
    return p;
}

std::string step_text(track_state s, const journal_entry& e)
{
    switch (s)
    {
    case track_state::pending: return "separation, then MIDI";
    case track_state::separation_intent:
        return "find the separation an earlier run submitted (its answer was lost), then MIDI";
    case track_state::separating:
        return e.separation_task_id.empty() && !e.track.separation_task_id.empty()
                   ? "MIDI of separation " + e.track.separation_task_id
                   : "wait for separation " + e.separation_task_id + ", then MIDI";
    case track_state::midi_intent: return "find the MIDI task an earlier run submitted (its answer was lost)";
    case track_state::transcribing: return "wait for MIDI task " + e.midi_task_id;
    case track_state::not_written: return "fetch MIDI task " + e.midi_task_id + " from KIE (free) and write its files";
    default: return {};
    }
}

/// A track's identity in the journal (its UNIQUE key): ids, name and choices.
auto identity(const track_spec& t)
{
    return std::tuple(t.task_id, t.audio_id, t.name, t.separation ? static_cast<int>(*t.separation) : -1, t.stem,
                      t.separation_task_id);
}

}  // namespace

paid_counts paid_steps_left(const journal_entry& e, const batch_options& opts)
{
    auto s = state_for_run(e, opts);
    return s ? steps_from(*s, e, opts) : paid_counts{};
}

std::chrono::milliseconds rate_limit_time(std::size_t submissions, const rate_limit_options& rl) noexcept
{
    if (!rl.enabled || submissions == 0 || rl.submissions_per_window == 0) return std::chrono::milliseconds(0);
    const std::size_t windows = (submissions + rl.submissions_per_window - 1) / rl.submissions_per_window;
    return rl.window * static_cast<std::int64_t>(windows - 1);
}

std::vector<std::string> unique_output_names(std::span<const journal_entry> entries)
{
    // The first (by id) keeps the name, later ones get "-<id>". Ids never change, so names are
    // stable across runs.
    std::vector<std::string> names;
    names.reserve(entries.size());
    std::set<std::string> taken;
    for (const auto& e : entries)
    {
        auto base = output_name(e.track);
        auto name = taken.count(base) ? base + "-" + std::to_string(e.id) : base;
        taken.insert(name);
        names.push_back(std::move(name));
    }
    return names;
}

batch_plan plan_batch(std::span<const track_spec> tracks, std::span<const journal_entry> existing, const batch_options& opts,
                      const credit_costs& costs, const rate_limit_options& rate_limit)
{
    batch_plan plan;
    plan.costs = costs;
    plan.rate_limit = rate_limit;
    std::map<decltype(identity(track_spec{})), std::size_t> known;  // identity → index in existing
    for (std::size_t i = 0; i < existing.size(); ++i) known.emplace(identity(existing[i].track), i);
    const auto names = unique_output_names(existing);
    std::vector<bool> listed(existing.size(), false);

    auto add_existing = [&](std::size_t i) {
        const auto& e = existing[i];
        planned_track p;
        p.track = e.track;
        p.name = names[i];
        p.state = e.state;
        if (auto s = state_for_run(e, opts))
        {
            p.what = *s == track_state::pending && e.attempts == 0 ? planned_track::status::fresh : planned_track::status::resume;
            p.next_step = step_text(*s, e);
            p.paid = steps_from(*s, e, opts);
        }
        else if (e.state == track_state::done) p.what = planned_track::status::done;
        else if (e.state == track_state::failed || e.state == track_state::result_lost) p.what = planned_track::status::left_failed;
        else p.what = planned_track::status::left_unknown;
        plan.tracks.push_back(std::move(p));
    };
    std::set<decltype(identity(track_spec{}))> added;
    for (const auto& t : tracks)
    {
        const auto id = identity(t);
        if (auto it = known.find(id); it != known.end())
        {
            if (!listed[it->second]) add_existing(it->second);
            listed[it->second] = true;
            continue;
        }
        if (!added.insert(id).second) continue;  // the same row twice: one track in the journal
        journal_entry e;
        e.track = t;
        // A row naming a separation enters the batch at separating, with nothing separated to pay.
        e.state = t.separation_task_id.empty() ? track_state::pending : track_state::separating;
        planned_track p;
        p.track = t;
        p.name = output_name(t);  // a name taken already gets "-<journal id>" when the track is added
        p.what = planned_track::status::fresh;
        p.next_step = step_text(e.state, e);
        p.paid = steps_from(e.state, e, opts);
        plan.tracks.push_back(std::move(p));
    }
    for (std::size_t i = 0; i < existing.size(); ++i)
        if (!listed[i]) add_existing(i);

    for (const auto& p : plan.tracks)
    {
        switch (p.what)
        {
        case planned_track::status::fresh: ++plan.fresh; break;
        case planned_track::status::resume: ++plan.resume; break;
        case planned_track::status::done: ++plan.done; break;
        case planned_track::status::left_failed: ++plan.left_failed; break;
        case planned_track::status::left_unknown: ++plan.left_unknown; break;
        }
        plan.paid += p.paid;
    }
    plan.estimated_credits = plan.paid.credits(costs);
    plan.rate_limit_time = rate_limit_time(plan.paid.total(), rate_limit);
    return plan;
}

error_code read_journal_entries(const std::filesystem::path& path, std::vector<journal_entry>& out, diagnostics& diag)
{
    out.clear();
    std::error_code fec;
    if (!std::filesystem::exists(path, fec)) return {};
    error_code ec;
    auto j = journal::open(path, ec, diag);
    if (ec) return ec;
    return j.entries(out, diag);
}

}  // namespace kiemidi
