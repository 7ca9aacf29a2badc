// A batch's state shared by several workers through batch_claims: a worker claims one track at
// a time under a lease, every change carries the claim's token, and the leases of the claimed
// tracks are renewed while the worker holds them. Changes are shielded: a claim or a change the
// store made must be known here.
#include "batch_state.hpp"
#include "../output/result_files.hpp"
#include "../nothrow_awaitable.hpp"

#include <algorithm>
#include <map>

namespace kiemidi::batch_detail {

namespace {

using std::chrono::milliseconds;

class shared_batch_state final : public batch_state
{
public:
    shared_batch_state(batch_claims& claims, const batch_options& opts, pool_executor pool)
        : claims_(claims), opts_(opts), pool_(pool)
    {
    }

    const char* label() const noexcept override { return "shared state"; }

    asio::awaitable<error_code> open(std::vector<track_spec>* tracks, opened_batch* out, diagnostics* diag_ptr) override
    {
        auto& diag = *diag_ptr;
        auto make_dir = [this, &diag] { return detail::make_output_dir(opts_.output_dir, diag); };
        if (auto ec = co_await on_pool(pool_, std::move(make_dir))) co_return ec;
        claims_open_options oo;
        oo.retry_failed = opts_.retry_failed;
        oo.resubmit_unknown = opts_.resubmit_unknown;
        auto [ec, counts] = co_await claims_.async_open(std::move(*tracks), oo, diag, shielded());
        if (ec) co_return ec;
        // Failed and unknown tracks were made claimable again by the open when asked for.
        out->total = counts.total;
        out->done = counts[track_state::done];
        out->failed = counts[track_state::failed];
        out->unknown = counts[track_state::outcome_unknown];
        co_return error_code{};
    }

    // Runs until no track is claimable and none is leased by another worker.
    std::size_t worker_count(std::size_t wanted) const override { return wanted; }

    asio::awaitable<error_code> take_next(next_track* out, diagnostics* diag) override
    {
        // Shielded: a claim the store made must be known here, or it would wait for its lease.
        auto [ec, r] = co_await claims_.async_claim(*diag, shielded());
        if (ec) co_return ec;
        if (r.claim)
        {
            auto& c = *r.claim;
            tokens_[c.entry.id] = c.token;
            out->name = c.output_name;
            out->taken_over = !c.previous_owner.empty();
            out->entry = std::move(c.entry);
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
        track_state ignored{};
        co_return co_await apply(id, u, diag, &ignored);
    }

    // The shared store has no not_written state: such a track is failed at "output" with its
    // task ids, and --retry-failed fetches it again without paying.
    asio::awaitable<error_code> mark_not_written(std::int64_t id, const std::string* why, diagnostics* diag) override
    {
        track_update u;
        u.what = track_update::kind::failed;
        u.failed_stage = "output";
        u.error = *why;
        co_return co_await update(id, &u, diag);
    }

    asio::awaitable<error_code> mark_result_lost(std::int64_t id, const std::string* why, diagnostics* diag) override
    {
        co_return co_await mark_not_written(id, why, diag);
    }

    asio::awaitable<error_code> requeue(journal_entry* e, diagnostics* diag, std::optional<journal_stage>) override
    {
        track_update u;
        u.what = track_update::kind::requeue;
        track_state ns{};
        auto ec = co_await apply(e->id, &u, diag, &ns);
        if (!ec)
        {
            e->state = ns;
            e->error.clear();
            e->failed_stage.clear();
        }
        co_return ec;
    }

    asio::awaitable<void> let_go(std::int64_t id, bool put_back) override
    {
        if (!tokens_.count(id)) co_return;
        if (put_back)
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
        if (tokens_.empty()) co_return error_code{};
        std::vector<std::pair<std::int64_t, std::string>> held(tokens_.begin(), tokens_.end());
        auto [ec, ids] = co_await claims_.async_renew(std::move(held), *diag, use_nothrow_awaitable);
        if (!ec) *lost = std::move(ids);
        co_return ec;
    }

    // The callback of a task went to the listener of the worker that sent its POST.
    bool resumed_callbacks_reachable() const noexcept override { return false; }
    milliseconds resumed_intent_wait() const noexcept override { return milliseconds(0); }

    asio::awaitable<error_code> close(const run_tally* tally, batch_summary* summary, diagnostics* diag) override
    {
        const auto done_here = tally->done_before + tally->done_now;
        // The batch's end state, whoever did the work: the other workers' tracks count too.
        auto [ec, counts] = co_await claims_.async_counts(*diag, shielded());
        if (ec) co_return ec;
        summary->total = counts.total;
        summary->failed = counts[track_state::failed];
        summary->outcome_unknown = counts[track_state::outcome_unknown];
        const auto done_all = counts[track_state::done];
        summary->done_by_other_workers = done_all - std::min(done_all, done_here);
        summary->unfinished = counts.total - std::min(counts.total, done_all + summary->failed + summary->outcome_unknown);
        co_return error_code{};
    }

private:
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
};

}  // namespace

std::unique_ptr<batch_state> make_shared_batch_state(batch_claims& claims, const batch_options& opts, pool_executor pool)
{
    return std::make_unique<shared_batch_state>(claims, opts, pool);
}

}  // namespace kiemidi::batch_detail
