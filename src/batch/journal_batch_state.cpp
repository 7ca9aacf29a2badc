// A batch's state in the local SQLite journal: the tracks to process are queued when the batch
// opens, and every change is a journal call on the runner's pool (SQLite blocks).
#include "batch_state.hpp"
#include <kiemidi/result_files.hpp>

#include <kiemidi/batch_plan.hpp>

#include <map>
#include <set>

namespace asio = boost::asio;

namespace kiemidi::detail {

// In kiemidi::detail, not file-local: a unity build compiles this file as an included one, where
// g++ (-Wsubobject-linkage) refuses coroutine frames of on_pool() that hold closures of a file-local class.

class journal_batch_state final : public batch_state
{
public:
    journal_batch_state(const batch_options& opts, std::filesystem::path journal_path, pool_executor pool)
        : opts_(opts), journal_path_(std::move(journal_path)), pool_(pool)
    {
    }

    const char* label() const noexcept override { return "journal"; }

    asio::awaitable<error_code> open(std::vector<track_spec>* tracks_ptr, opened_batch* out_ptr, diagnostics* diag_ptr) override
    {
        auto& tracks = *tracks_ptr;
        auto& out = *out_ptr;
        auto& diag = *diag_ptr;
        std::vector<journal_entry> entries;
        auto open_and_read = [&] {
            if (auto ec = make_output_dir(opts_.output_dir, diag)) return ec;
            error_code ec;
            jnl_ = journal::open(journal_path_, ec, diag);
            if (ec) return ec;
            if ((ec = jnl_.add_tracks(tracks, diag))) return ec;
            return jnl_.entries(entries, diag);
        };
        auto close_journal = [this] {
            jnl_ = journal{};
            return error_code{};
        };
        if (auto oec = co_await on_pool(pool_, std::move(open_and_read)))
        {
            co_await on_pool(pool_, close_journal);
            co_return oec;
        }

        out.total = entries.size();
        // Two tracks with the same name must not overwrite each other's files.
        auto unique_names = unique_output_names(entries);
        for (std::size_t i = 0; i < entries.size(); ++i) names_[entries[i].id] = std::move(unique_names[i]);
        // A done track's files may have been deleted or damaged since: KIE keeps the result, so
        // such a track goes back to not_written and is written again from KIE's record (free).
        auto recheck_done_files = [this, &entries, &out, &diag] {
            for (auto& e : entries)
            {
                if (e.state != track_state::done) continue;
                auto why = done_track_files_damaged(opts_, names_[e.id]);
                if (why.empty()) continue;
                if (auto ec = jnl_.mark_not_written(e.id, why, diag)) return ec;
                e.state = track_state::not_written;
                e.error = std::move(why);
                ++out.files_missing;
            }
            return error_code{};
        };
        if (auto cec = co_await on_pool(pool_, std::move(recheck_done_files)))
        {
            co_await on_pool(pool_, close_journal);
            co_return cec;
        }
        for (auto& e : entries)
        {
            const auto& name = names_[e.id];
            switch (e.state)
            {
            case track_state::done: out.skipped.push_back({name, "already done", e.state}); break;
            case track_state::result_lost:
                if (opts_.resubmit_lost) queue_.push_back(std::move(e));
                else out.skipped.push_back({name, e.error + "; rerun with --resubmit to pay for it again", e.state});
                break;
            case track_state::failed:
                if (opts_.retry_failed) queue_.push_back(std::move(e));
                else out.skipped.push_back({name, "failed in an earlier run: " + e.error, e.state});
                break;
            case track_state::outcome_unknown:
                if (opts_.resubmit_unknown) queue_.push_back(std::move(e));
                else out.skipped.push_back({name, "outcome unknown (not resubmitted): " + e.error, e.state});
                break;
            default: queue_.push_back(std::move(e)); break;
            }
        }
        co_return error_code{};
    }

    std::size_t worker_count(std::size_t wanted) const override { return std::min(wanted, queue_.size()); }

    asio::awaitable<error_code> take_next(next_track* out, diagnostics*) override
    {
        if (next_ < queue_.size())
        {
            out->entry = queue_[next_++];
            out->name = names_[out->entry->id];
        }
        else out->finished = true;
        co_return error_code{};
    }

    asio::awaitable<error_code> update(std::int64_t id, const track_update* u, diagnostics* diag) override
    {
        auto apply_to_journal = [this, id, u = *u, diag]() -> error_code {
            switch (u.what)
            {
            case track_update::kind::intent: return jnl_.record_intent(id, u.stage, u.reference, *diag);
            case track_update::kind::task_id: return jnl_.record_task_id(id, u.stage, u.task_id, *diag);
            case track_update::kind::done: return jnl_.mark_done(id, *diag);
            case track_update::kind::failed: return jnl_.mark_failed(id, u.failed_stage, u.error, *diag);
            case track_update::kind::outcome_unknown: return jnl_.mark_outcome_unknown(id, u.error, *diag);
            case track_update::kind::requeue:
            case track_update::kind::release: break;  // requeue() and let_go()
            case track_update::kind::adopt: break;    // shared batches only
            case track_update::kind::not_written:
            case track_update::kind::result_lost:
            case track_update::kind::files_missing: break;  // mark_not_written(), mark_result_lost(), open()
            }
            return error_code{};
        };
        co_return co_await on_pool(pool_, std::move(apply_to_journal));
    }

    asio::awaitable<error_code> mark_not_written(std::int64_t id, const std::string* why, diagnostics* diag) override
    {
        auto record = [this, id, why = *why, diag] { return jnl_.mark_not_written(id, why, *diag); };
        co_return co_await on_pool(pool_, std::move(record));
    }

    asio::awaitable<error_code> mark_result_lost(std::int64_t id, const std::string* why, diagnostics* diag) override
    {
        auto record = [this, id, why = *why, diag] { return jnl_.mark_result_lost(id, why, *diag); };
        co_return co_await on_pool(pool_, std::move(record));
    }

    asio::awaitable<error_code> requeue(journal_entry* e, diagnostics* diag, std::optional<journal_stage> redo) override
    {
        const auto id = e->id;
        track_state ns{};
        auto requeue_in_journal = [this, id, &ns, diag, redo] {
            return redo ? jnl_.requeue(id, *redo, ns, *diag) : jnl_.requeue(id, ns, *diag);
        };
        if (auto ec = co_await on_pool(pool_, std::move(requeue_in_journal))) co_return ec;
        auto reread_entry = [this, id, e, diag] { return jnl_.get(id, *e, *diag); };
        co_return co_await on_pool(pool_, std::move(reread_entry));
    }

    asio::awaitable<void> let_go(std::int64_t, bool) override { co_return; }

    bool claim_gone(const error_code&) const noexcept override { return false; }

    std::optional<std::chrono::milliseconds> lease() const noexcept override { return std::nullopt; }

    asio::awaitable<error_code> renew(std::vector<std::int64_t>*, diagnostics*) override { co_return error_code{}; }

    bool resumed_callbacks_reachable() const noexcept override { return opts_.resumed_callbacks_reachable; }

    std::chrono::milliseconds resumed_intent_wait() const noexcept override { return opts_.resumed_intent_wait; }

    asio::awaitable<error_code> close(const run_tally* tally, batch_summary* summary, diagnostics*) override
    {
        summary->unfinished = queue_.size() - tally->finished;
        auto close_journal = [this] {
            jnl_ = journal{};
            return error_code{};
        };
        co_await on_pool(pool_, std::move(close_journal));
        co_return error_code{};
    }

private:
    const batch_options& opts_;
    std::filesystem::path journal_path_;
    pool_executor pool_;
    journal jnl_;  ///< Touched only on the pool.
    std::vector<journal_entry> queue_;
    std::size_t next_ = 0;
    /// File base name per journal id: output_name(), made unique within the journal.
    std::map<std::int64_t, std::string> names_;
};

std::string done_track_files_damaged(const batch_options& opts, const std::string& name)
{
    const auto why = damaged_result_files(opts.output_dir, name, opts.write_json);
    if (why.empty()) return why;
    return "the files of this done track are gone or damaged (" + why + "); they are written again from KIE's record";
}

std::unique_ptr<batch_state> make_journal_batch_state(const batch_options& opts, std::filesystem::path journal_path,
                                                      pool_executor pool)
{
    return std::make_unique<journal_batch_state>(opts, std::move(journal_path), pool);
}

}  // namespace kiemidi::detail
