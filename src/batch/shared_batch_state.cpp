// A batch's state shared by several workers through batch_claims: a worker claims one track at
// a time under a lease, every change carries the claim's token, and the leases of the claimed
// tracks are renewed while the worker holds them. Changes are shielded: a claim or a change the
// store made must be known here.
//
// The task ids KIE gives and the tracks finished here are also kept in the output directory
// (local_track_record), and a claimed track is checked against that record and its result files
// before anything is paid: a batch whose state in Redis was lost and re-seeded does not pay again
// for what this worker has. When the state is found lost, the worker claims nothing more and
// finishes the tracks it holds on its own: their paid steps are carried to their result files and
// recorded locally; no separation (a track's first paid step) is started any more.
//
// As with the journal, a result KIE finished whose files could not be written is not_written
// (claimable again when a worker next opens the batch, and then only read from KIE, for free),
// and opening the batch checks the files of its done tracks in this worker's output directory:
// missing or damaged ones go back to not_written and are written again from KIE's record.
#include "batch_state.hpp"
#include "local_track_record.hpp"
#include <kiemidi/result_files.hpp>
#include "../nothrow_awaitable.hpp"

#include <algorithm>
#include <map>
#include <tuple>

namespace asio = boost::asio;

namespace kiemidi::detail {

// In kiemidi::detail, not file-local: a unity build compiles this file as an included one, where
// g++ (-Wsubobject-linkage) refuses coroutine frames of on_pool() that hold closures of a file-local class.

using std::chrono::milliseconds;

class shared_batch_state final : public batch_state
{
public:
    shared_batch_state(batch_claims& claims, const batch_options& opts, pool_executor pool)
        : claims_(claims), opts_(opts), pool_(pool), record_(opts.output_dir)
    {
    }

    const char* label() const noexcept override { return "shared state"; }

    asio::awaitable<error_code> open(std::vector<track_spec>* tracks, opened_batch* out, diagnostics* diag_ptr) override
    {
        auto& diag = *diag_ptr;
        auto make_dir = [this, &diag] { return make_output_dir(opts_.output_dir, diag); };
        if (auto ec = co_await on_pool(pool_, std::move(make_dir))) co_return ec;
        auto load_record = [this] {
            record_.load();
            return error_code{};
        };
        co_await on_pool(pool_, std::move(load_record));
        claims_open_options oo;
        oo.retry_failed = opts_.retry_failed;
        oo.resubmit_unknown = opts_.resubmit_unknown;
        oo.resubmit_lost = opts_.resubmit_lost;
        auto [ec, counts] = co_await claims_.async_open(std::move(*tracks), oo, diag, shielded());
        if (ec) co_return ec;
        // Failed and unknown tracks were made claimable again by the open when asked for.
        out->total = counts.total;
        out->failed = counts[track_state::failed];
        out->unknown = counts[track_state::outcome_unknown];
        if (auto rec = co_await recheck_done_files(out, diag_ptr)) co_return rec;
        out->done = counts[track_state::done] - std::min(counts[track_state::done], out->files_missing);
        co_return error_code{};
    }

    // Runs until no track is claimable and none is leased by another worker.
    std::size_t worker_count(std::size_t wanted) const override { return wanted; }

    asio::awaitable<error_code> take_next(next_track* out, diagnostics* diag) override
    {
        if (lost_)
        {
            *diag = lost_diag_;
            co_return claim_errc::state_lost;
        }
        // Shielded: a claim the store made must be known here, or it would wait for its lease.
        auto [ec, r] = co_await claims_.async_claim(*diag, shielded());
        if (ec == claim_errc::state_lost) note_lost(*diag);
        if (ec) co_return ec;
        if (r.claim)
        {
            auto& c = *r.claim;
            tokens_[c.entry.id] = c.token;
            held_[c.entry.id] = held_track{c.entry.track, c.output_name};
            out->name = c.output_name;
            out->taken_over = !c.previous_owner.empty();
            out->entry = std::move(c.entry);
            if (auto aec = co_await adopt_local(out, diag)) co_return aec;
        }
        else if (r.finished)
            out->finished = true;
        else
        {
            // Other workers hold leases that may expire: ask again at the next expiry, at most a lease later.
            const milliseconds longest_idle = std::max(milliseconds(20), claims_.lease());
            out->retry_after = std::clamp(r.retry_after, milliseconds(20), longest_idle);
        }
        co_return error_code{};
    }

    asio::awaitable<error_code> update(std::int64_t id, const track_update* u, diagnostics* diag) override
    {
        const track_update change = *u;
        if (!lost_)
        {
            track_state ignored{};
            auto ec = co_await apply(id, &change, diag, &ignored);
            if (ec != claim_errc::state_lost)
            {
                // The local record follows the shared state; it is the second source of truth,
                // so its own failure does not fail a change Redis made.
                if (!ec)
                {
                    diagnostics ignored_diag;
                    co_await note_locally(id, &change, &ignored_diag);
                }
                co_return ec;
            }
            note_lost(*diag);
        }
        // The state is lost: the track's paid work goes on without it, recorded here only.
        if (change.what == track_update::kind::intent && change.stage == journal_stage::separation)
        {
            // A new track's first paid step: nothing is paid for it yet, so nothing is started.
            *diag = lost_diag_;
            co_return claim_errc::state_lost;
        }
        diag->clear();
        co_return co_await note_locally(id, &change, diag);
    }

    asio::awaitable<error_code> mark_not_written(std::int64_t id, const std::string* why, diagnostics* diag) override
    {
        track_update u;
        u.what = track_update::kind::not_written;
        u.error = *why;
        co_return co_await update(id, &u, diag);
    }

    asio::awaitable<error_code> mark_result_lost(std::int64_t id, const std::string* why, diagnostics* diag) override
    {
        track_update u;
        u.what = track_update::kind::result_lost;
        u.error = *why;
        co_return co_await update(id, &u, diag);
    }

    asio::awaitable<error_code> requeue(journal_entry* e, diagnostics* diag, std::optional<journal_stage>) override
    {
        if (lost_)
        {
            *diag = lost_diag_;
            co_return claim_errc::state_lost;
        }
        track_update u;
        u.what = track_update::kind::requeue;
        track_state ns{};
        auto ec = co_await apply(e->id, &u, diag, &ns);
        if (!ec)
        {
            if (e->state == track_state::result_lost)
            {
                // KIE no longer has the result: the paid steps start again (a given separation kept).
                e->midi_task_id.clear();
                e->separation_task_id = e->track.separation_task_id;
            }
            e->state = ns;
            e->error.clear();
            e->failed_stage.clear();
        }
        if (ec == claim_errc::state_lost) note_lost(*diag);
        co_return ec;
    }

    asio::awaitable<void> let_go(std::int64_t id, bool put_back) override
    {
        held_.erase(id);
        if (!tokens_.count(id)) co_return;
        if (put_back && !lost_)
        {
            // Errors are ignored: the lease then expires.
            track_update u;
            u.what = track_update::kind::release;
            diagnostics ignored;
            track_state ns{};
            co_await apply(id, &u, &ignored, &ns);
        }
        tokens_.erase(id);
    }

    bool claim_gone(const error_code& ec) const noexcept override
    {
        return ec == claim_errc::claim_lost || ec == claim_errc::invalid_transition;
    }

    std::optional<milliseconds> lease() const noexcept override { return claims_.lease(); }

    asio::awaitable<error_code> renew(std::vector<std::int64_t>* lost, diagnostics* diag) override
    {
        if (lost_) co_return claim_errc::state_lost;  // nothing left to renew: the tracks are this worker's alone
        if (tokens_.empty()) co_return error_code{};
        std::vector<std::pair<std::int64_t, std::string>> held(tokens_.begin(), tokens_.end());
        auto [ec, ids] = co_await claims_.async_renew(std::move(held), *diag, use_nothrow_awaitable);
        if (!ec) *lost = std::move(ids);
        if (ec == claim_errc::state_lost) note_lost(*diag);
        co_return ec;
    }

    // The callback of a task went to the listener of the worker that sent its POST.
    bool resumed_callbacks_reachable() const noexcept override { return false; }
    milliseconds resumed_intent_wait() const noexcept override { return milliseconds(0); }

    asio::awaitable<error_code> close(const run_tally* tally, batch_summary* summary, diagnostics* diag) override
    {
        const auto done_here = tally->done_before + tally->done_now;
        // The batch's end state, whoever did the work: the other workers' tracks count too.
        error_code ec;
        journal_counts counts;
        if (!lost_)
        {
            std::tie(ec, counts) = co_await claims_.async_counts(*diag, shielded());
            if (ec == claim_errc::state_lost) note_lost(*diag);
        }
        if (lost_)
        {
            // Only this worker's counts are known: every track it did not see end is unfinished.
            const auto ended = done_here + summary->failed + summary->outcome_unknown;
            summary->done_by_other_workers = 0;
            summary->unfinished = summary->total - std::min(summary->total, ended);
            *diag = lost_diag_;
            co_return claim_errc::state_lost;
        }
        if (ec) co_return ec;
        summary->total = counts.total;
        summary->failed = counts[track_state::failed];
        summary->outcome_unknown = counts[track_state::outcome_unknown];
        // Results not written, or lost, by any worker of the batch: the exit code tells the whole batch.
        const auto not_written = counts[track_state::not_written];
        if (not_written > summary->not_written)
        {
            if (summary->not_written_reason.empty())
                summary->not_written_reason = "other workers of the batch could not write them (`kiemidi status --redis` lists them)";
            summary->not_written = not_written;
        }
        summary->result_lost = std::max(summary->result_lost, counts[track_state::result_lost]);
        const auto done_all = counts[track_state::done];
        summary->done_by_other_workers = done_all - std::min(done_all, done_here);
        const auto ended = done_all + summary->failed + summary->outcome_unknown + not_written + summary->result_lost;
        summary->unfinished = counts.total - std::min(counts.total, ended);
        co_return error_code{};
    }

private:
    struct held_track
    {
        track_spec track;
        std::string output_name;
    };

    /// The batch's state was found lost (diag says how): no more claims, no more Redis.
    void note_lost(const diagnostics& diag)
    {
        if (lost_) return;
        lost_ = true;
        lost_diag_ = diag;
    }

    /// Keeps the facts of `u` that spare paying again (task ids, written results) in the local
    /// record, and forgets them there when KIE no longer keeps the result.
    asio::awaitable<error_code> note_locally(std::int64_t id, const track_update* u, diagnostics* diag)
    {
        auto it = held_.find(id);
        if (it == held_.end()) co_return error_code{};
        std::string kind, value;
        if (u->what == track_update::kind::task_id)
        {
            kind = std::string(to_string(u->stage));
            value = u->task_id;
        }
        else if (u->what == track_update::kind::done)
        {
            kind = "done";
            value = "written";
        }
        else if (u->what == track_update::kind::result_lost)
        {
            // KIE no longer keeps its tasks: a resubmission (--resubmit) must not resume from them.
            kind = "lost";
            value = "result";
        }
        else co_return error_code{};
        auto note = [this, t = it->second.track, name = it->second.output_name, kind, value, diag] {
            return record_.note(t, name, kind, value, *diag);
        };
        co_return co_await on_pool(pool_, std::move(note));
    }

    /// The done tracks whose files in this worker's output directory are missing or damaged go
    /// back to not_written (claimable at once): their results are read again from KIE, for free.
    /// Counted in `out->files_missing`. A track another worker changed meanwhile is left to it.
    asio::awaitable<error_code> recheck_done_files(opened_batch* out, diagnostics* diag)
    {
        auto [ec, shared] = co_await claims_.async_entries(*diag, shielded());
        if (ec) co_return ec;
        std::vector<std::pair<std::int64_t, std::string>> damaged;
        auto check_files = [this, &shared, &damaged] {
            for (const auto& t : shared)
                if (t.entry.state == track_state::done)
                    if (auto why = done_track_files_damaged(opts_, t.output_name); !why.empty()) damaged.emplace_back(t.entry.id, std::move(why));
            return error_code{};
        };
        co_await on_pool(pool_, std::move(check_files));
        for (auto& [id, why] : damaged)
        {
            track_update u;
            u.what = track_update::kind::files_missing;
            u.error = std::move(why);
            auto [uec, ns] = co_await claims_.async_update(id, std::string(), std::move(u), *diag, shielded());
            if (uec == claim_errc::invalid_transition) continue;  // no longer done: another worker has it
            if (uec) co_return uec;
            ++out->files_missing;
        }
        diag->clear();
        co_return error_code{};
    }

    /// What this worker's files say of the track just claimed (`out`), before anything is paid
    /// for it: written results make it done, known task ids resume it. Errors are the store's.
    /// A not_written track is only read from KIE (free): its files are what is missing.
    asio::awaitable<error_code> adopt_local(next_track* out, diagnostics* diag)
    {
        auto& e = *out->entry;
        if (e.state == track_state::done || e.state == track_state::not_written) co_return error_code{};
        local_evidence ev;
        auto look = [this, &ev, t = e.track, name = out->name] {
            ev = record_.find(t, name);
            return error_code{};
        };
        co_await on_pool(pool_, std::move(look));
        const bool adds = ev.written || (!ev.separation_task_id.empty() && e.separation_task_id.empty()) ||
                          (!ev.midi_task_id.empty() && e.midi_task_id.empty());
        if (!adds) co_return error_code{};
        track_update u;
        u.what = track_update::kind::adopt;
        u.task_id = ev.separation_task_id;
        u.error = ev.midi_task_id;
        u.failed_stage = ev.written ? "done" : "";
        track_state ns{};
        diagnostics adopt_diag;
        auto ec = co_await apply(e.id, &u, &adopt_diag, &ns);
        if (ec == claim_errc::state_lost)
        {
            *diag = adopt_diag;
            note_lost(*diag);
            co_return ec;
        }
        // Refused (the shared state names other tasks): the shared state wins.
        if (ec) co_return error_code{};
        if (!ev.separation_task_id.empty()) e.separation_task_id = ev.separation_task_id;
        if (!ev.midi_task_id.empty()) e.midi_task_id = ev.midi_task_id;
        e.state = ns;
        e.error.clear();
        e.failed_stage.clear();
        if (ns == track_state::done)
        {
            out->already_written = true;
            out->note = "results already written (" + ev.source + "); nothing paid again";
        }
        co_return error_code{};
    }

    /// One change of track `id` under its claim token; `out` gets the new state.
    asio::awaitable<error_code> apply(std::int64_t id, const track_update* u, diagnostics* diag, track_state* out)
    {
        std::string token = tokens_[id];
        track_update copy = *u;
        auto [ec, ns] = co_await claims_.async_update(id, std::move(token), std::move(copy), *diag, shielded());
        if (!ec) *out = ns;
        co_return ec;
    }

    batch_claims& claims_;
    const batch_options& opts_;
    pool_executor pool_;
    /// Claim token per claimed track id.
    std::map<std::int64_t, std::string> tokens_;
    /// What the local record needs of each claimed track.
    std::map<std::int64_t, held_track> held_;
    /// Touched only on the pool.
    local_track_record record_;
    bool lost_ = false;
    diagnostics lost_diag_;
};

std::unique_ptr<batch_state> make_shared_batch_state(batch_claims& claims, const batch_options& opts, pool_executor pool)
{
    return std::make_unique<shared_batch_state>(claims, opts, pool);
}

}  // namespace kiemidi::detail
