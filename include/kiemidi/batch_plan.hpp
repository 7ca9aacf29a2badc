/// @file
/// kiemidi::batch_plan: what a batch will pay before anything is paid.
///
/// KIE charges every separation and every MIDI generation, and charges again for the same track
/// submitted again. A plan reads a track list against the batch's state (the journal's entries,
/// or a shared batch's) and says, without any call to KIE: which tracks are new, which are
/// resumed (and which step each still needs), which are done or left as they are; how many paid
/// submissions of each kind the run will make; what they are estimated to cost (a per-kind cost
/// table, see credit_costs); and how long KIE's rate limit alone makes them take.
///
/// Rows that ask KIE for the same work (duplicate_key) are paid once: the plan counts only the
/// first of them (see batch_duplicates.hpp).
#ifndef KIEMIDI_BATCH_PLAN_HPP
#define KIEMIDI_BATCH_PLAN_HPP

#include <kiemidi/batch.hpp>
#include <kiemidi/config.hpp>
#include <kiemidi/credit_costs.hpp>
#include <kiemidi/journal.hpp>
#include <kiemidi/track.hpp>
#include <kiemidi/transport_options.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace kiemidi {

/// The paid submissions a track in journal state `e` still needs in a run with `opts`: none for
/// a track that is done, waits for its MIDI, or is left as it is (failed / outcome unknown and
/// not retried); the MIDI for one separated (or whose separation was given); both otherwise.
/// A track in an intent state (a POST whose answer an earlier run lost) counts what follows the
/// lost submission: it is found from its callback, not paid again.
KIEMIDI_DECL paid_counts paid_steps_left(const journal_entry& e, const batch_options& opts);

/// One track of a plan.
struct planned_track
{
    /// What the run will do with the track.
    enum class status
    {
        fresh,             ///< Not in the batch's state yet: every step is ahead.
        resume,            ///< In the batch's state, not done: `next_step` says what it still needs.
        done,              ///< Done in an earlier run; nothing to pay.
        left_failed,       ///< Failed in an earlier run and not retried.
        left_unknown,      ///< Its paid submission's outcome is unknown; not resubmitted without consent.
    };
    track_spec track; ///< The track as listed.
    std::string name;            ///< Its output base name.
    status what = status::fresh; ///< What the run will do with it.
    track_state state = track_state::pending;  ///< In the batch's state (pending when fresh).
    std::string next_step;       ///< For fresh / resume: e.g. "separation, then MIDI", "wait for MIDI task X".
    paid_counts paid;            ///< The paid submissions it will make.
};

/// "new", "resume", "done", "failed", "outcome_unknown".
KIEMIDI_DECL std::string_view to_string(planned_track::status s) noexcept;

/// What a batch run will do and pay.
struct batch_plan
{
    std::vector<planned_track> tracks;  ///< The tracks asked for, in list order (duplicates excluded).
    /// @{
    /// How many of `tracks` have each planned_track::status.
    std::size_t fresh = 0, resume = 0, done = 0, left_failed = 0, left_unknown = 0;
    /// @}
    paid_counts paid;                   ///< Paid submissions of the run, by kind.
    credit_costs costs;                 ///< The cost table used.
    std::int64_t estimated_credits = 0; ///< paid.credits(costs).
    /// The least time KIE's rate limit imposes on the paid submissions alone: every window
    /// admits `submissions_per_window` of them, so N take (ceil(N / per window) - 1) windows.
    /// Zero when the limit is off or one window holds them all.
    std::chrono::milliseconds rate_limit_time{0};
    rate_limit_options rate_limit;      ///< The limit it was computed for.

    /// Whether `remaining` credits cover the estimate.
    bool affordable(std::int64_t remaining) const noexcept { return remaining >= estimated_credits; }
};

/// The plan of a run of `tracks` (in list order) with `opts`, against `existing`: the batch's
/// state as it is (journal::entries(), or the entries of a shared batch; empty for a new one).
/// Tracks in `existing` but not in `tracks` are part of the run too (a batch resumes its whole
/// state) and are planned after them. Makes no call to KIE and changes nothing.
KIEMIDI_DECL batch_plan plan_batch(std::span<const track_spec> tracks, std::span<const journal_entry> existing,
                                   const batch_options& opts, const credit_costs& costs,
                                   const rate_limit_options& rate_limit);

/// The least time `submissions` paid POSTs take under `rate_limit` (see batch_plan::rate_limit_time).
KIEMIDI_DECL std::chrono::milliseconds rate_limit_time(std::size_t submissions, const rate_limit_options& rate_limit) noexcept;

/// The entries of the journal at `path` without creating nor changing it: empty when there is
/// no file yet. Blocks (SQLite): not on an io_context thread.
KIEMIDI_DECL error_code read_journal_entries(const std::filesystem::path& path, std::vector<journal_entry>& out,
                                             diagnostics& diag);

/// The output base names the runner gives `entries` (in id order): output_name(), and for a
/// name already taken by an earlier entry, "-<id>" appended. Indexed like `entries`.
KIEMIDI_DECL std::vector<std::string> unique_output_names(std::span<const journal_entry> entries);

}  // namespace kiemidi

#endif
