// The batch worker: one loop over the batch's state (journal or shared claims), each track
// through process_track with its events and counts.
#include "batch_worker.hpp"
#include "../nothrow_awaitable.hpp"

#include <kiemidi/batch_plan.hpp>

#include <boost/asio/this_coro.hpp>

namespace asio = boost::asio;

namespace kiemidi::detail {

void run_state::emit(batch_event::kind k, std::string name, std::string message, track_state state)
{
    if (!on_event) return;
    batch_event e;
    e.what = k;
    e.track_name = std::move(name);
    e.message = std::move(message);
    e.total = total;
    e.done = done_before + done_now;
    e.failed = failed + unknown;
    e.in_flight = in_flight;
    e.skipped = skipped;
    e.state = state;
    e.outcome_unknown = unknown;
    try { on_event(e); }
    catch (...) {}  // an event sink must not break the batch
    if (k == batch_event::kind::progress) last_progress = clock_type::now();
}

asio::awaitable<error_code> run_state::record_intent(std::int64_t id, journal_stage stage, const std::string& ref,
                                                     diagnostics& diag)
{
    track_update u;
    u.what = track_update::kind::intent;
    u.stage = stage;
    u.reference = ref;
    co_return co_await state.update(id, &u, &diag);
}

asio::awaitable<error_code> run_state::record_task_id(std::int64_t id, journal_stage stage, const std::string& tid,
                                                      diagnostics& diag)
{
    track_update u;
    u.what = track_update::kind::task_id;
    u.stage = stage;
    u.task_id = tid;
    co_return co_await state.update(id, &u, &diag);
}

asio::awaitable<error_code> run_state::mark_done(std::int64_t id, diagnostics& diag)
{
    track_update u;
    u.what = track_update::kind::done;
    co_return co_await state.update(id, &u, &diag);
}

asio::awaitable<error_code> run_state::mark_failed(std::int64_t id, const std::string& stage, const std::string& msg,
                                                   diagnostics& diag)
{
    track_update u;
    u.what = track_update::kind::failed;
    u.failed_stage = stage;
    u.error = msg;
    co_return co_await state.update(id, &u, &diag);
}

asio::awaitable<error_code> run_state::mark_outcome_unknown(std::int64_t id, const std::string& msg, diagnostics& diag)
{
    track_update u;
    u.what = track_update::kind::outcome_unknown;
    u.error = msg;
    co_return co_await state.update(id, &u, &diag);
}

bool run_state::within_budget(const journal_entry& e)
{
    if (!opts.max_credits) return true;
    // The whole of what the track still needs is counted when it starts, so no paid submission
    // of a started track can take the run past the budget.
    const auto cost = paid_steps_left(e, opts).credits(opts.costs);
    if (cost > 0 && budget_used + cost > *opts.max_credits) return false;
    budget_used += cost;
    return true;
}

namespace {

/// One track through process_track, with its events and counts. `entry` is read before the
/// first suspension.
asio::awaitable<void> handle_track(run_state* st_ptr, journal_entry* entry)
{
    auto& st = *st_ptr;
    const std::string name = st.name_of(*entry);
    const auto id = entry->id;
    const bool resuming = entry->state == track_state::separating || entry->state == track_state::transcribing;
    const bool rewriting = entry->state == track_state::not_written;
    ++st.in_flight;
    st.emit(batch_event::kind::track_started, name,
            resuming    ? "resumed from " + std::string(to_string(entry->state))
            : rewriting ? std::string("fetching KIE's finished result again (its files are not written)")
                        : std::string(),
            entry->state);
    std::string message;
    auto outcome = co_await process_track(&st, entry, &message);
    --st.in_flight;
    switch (outcome)
    {
    case track_outcome::done:
        ++st.done_now;
        ++st.finished_from_queue;
        st.emit(batch_event::kind::track_done, name, message, track_state::done);
        break;
    case track_outcome::failed:
        ++st.failed;
        ++st.finished_from_queue;
        st.emit(batch_event::kind::track_failed, name, message, track_state::failed);
        break;
    case track_outcome::unknown:
        ++st.unknown;
        ++st.finished_from_queue;
        st.emit(batch_event::kind::track_failed, name, message, track_state::outcome_unknown);
        break;
    case track_outcome::not_written:
        ++st.not_written;
        if (st.not_written_reason.empty()) st.not_written_reason = message;
        ++st.finished_from_queue;
        st.emit(batch_event::kind::track_failed, name, message, track_state::not_written);
        break;
    case track_outcome::result_lost:
        ++st.result_lost;
        ++st.finished_from_queue;
        st.emit(batch_event::kind::track_failed, name, message, track_state::result_lost);
        break;
    case track_outcome::lost:
        ++st.skipped;
        st.emit(batch_event::kind::track_skipped, name, message, track_state::pending);
        break;
    case track_outcome::no_credits:
        st.emit(batch_event::kind::track_skipped, name, message, track_state::pending);
        break;
    case track_outcome::stopped: break;
    }
    // A shared track not finished here (stopped, lost, or its store failed) goes back at once,
    // rather than after its lease, so another worker can take it.
    const bool put_back =
        outcome == track_outcome::stopped || outcome == track_outcome::lost || outcome == track_outcome::no_credits;
    co_await st.state.let_go(id, put_back);
    st.lost.erase(id);
    st.maybe_progress();
}

}  // namespace

asio::awaitable<void> worker(run_state* st_ptr)
{
    auto& st = *st_ptr;
    co_await asio::this_coro::throw_if_cancelled(false);
    asio::steady_timer idle(co_await asio::this_coro::executor);
    while (!st.stopping && !st.out_of_credits && !st.out_of_budget)
    {
        diagnostics diag;
        next_track next;
        if (auto ec = co_await st.state.take_next(&next, &diag))
        {
            if (!st.fatal)
            {
                st.fatal = ec;
                st.fatal_diag = diag;
            }
            // A lost shared state ends the claiming only: the tracks in flight carry their paid
            // work to their result files (the state records them locally).
            if (ec != claim_errc::state_lost && st.request_stop) st.request_stop();
            co_return;
        }
        if (next.entry)
        {
            const auto id = next.entry->id;
            st.names[id] = next.name;
            // The run stopped while the track was being taken: it goes back at once.
            if (st.stopping || st.out_of_credits || st.out_of_budget)
            {
                co_await st.state.let_go(id, true);
                co_return;
            }
            if (next.already_written)
            {
                // Done by an earlier run whose shared state was lost: known from this worker's files.
                ++st.done_before;
                ++st.skipped;
                st.emit(batch_event::kind::track_skipped, next.name, next.note, track_state::done);
                co_await st.state.let_go(id, false);
                continue;
            }
            if (!st.within_budget(*next.entry))
            {
                // Left pending for a run with a higher budget; nothing was paid for it.
                st.out_of_budget = true;
                st.emit(batch_event::kind::track_skipped, next.name,
                        "not started: it would take the run past the credit budget (--max-credits)", next.entry->state);
                co_await st.state.let_go(id, true);
                co_return;
            }
            if (next.taken_over) ++st.taken_over;
            co_await handle_track(&st, &*next.entry);
            continue;
        }
        if (next.finished) co_return;
        // Nothing to take now, but other workers hold leases that may expire.
        idle.expires_after(next.retry_after);
        co_await idle.async_wait(use_nothrow_awaitable);
    }
}

}  // namespace kiemidi::detail
