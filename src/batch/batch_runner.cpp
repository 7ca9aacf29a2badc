// batch_runner: opens the batch's state (the local journal, or the claims of a batch shared by
// several workers), starts the workers (and, for leased tracks, the lease renewal), waits for
// them, and sums the run up.
//
// Workers, the renewal and the counters they share live on one strand of the client's
// executor; the state's blocking calls and the file writes run on the runner's single-thread
// pool (batch_worker.hpp).
#include <kiemidi/batch.hpp>
#include <kiemidi/batch_claims.hpp>
#include <kiemidi/metrics/model.hpp>

#include "batch_state.hpp"
#include "batch_worker.hpp"
#include "../client/kie_health_gate.hpp"
#include "../client/operations.hpp"
#include "../client/tracked_spawn.hpp"
#include "../nothrow_awaitable.hpp"

#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>

#include <algorithm>
#include <memory>

namespace asio = boost::asio;

namespace kiemidi {

using std::chrono::milliseconds;

std::string sanitize_file_name(std::string_view name)
{
    std::string out;
    out.reserve(name.size());
    for (char ch : name)
    {
        const auto u = static_cast<unsigned char>(ch);
        out += (ch == '/' || ch == '\\' || u < 0x20 || u == 0x7f) ? '_' : ch;
    }
    for (std::size_t p; (p = out.find("..")) != std::string::npos;) out.replace(p, 2, "__");
    if (out.size() > 200) out.resize(200);
    if (out.empty() || out.front() == '.') out.insert(out.begin(), '_');
    return out;
}

std::string output_name(const track_spec& track)
{
    if (!track.name.empty()) return sanitize_file_name(track.name);
    // A track's own stem is in its name, so the stems of one song do not share a base name.
    const std::string stem = track.stem.empty() ? std::string() : "_" + track.stem;
    if (!track.separation_task_id.empty()) return sanitize_file_name(track.separation_task_id + stem);
    return sanitize_file_name(track.task_id + "_" + track.audio_id + stem);
}

namespace {

using detail::clock_type;
using detail::run_state;
using detail::strand_type;

/// Fills the counts of the batch as opened and reports the tracks this run leaves as they are.
void take_opened(run_state& st, const detail::opened_batch& opened)
{
    st.total = opened.total;
    st.done_before = opened.done;
    st.failed = opened.failed;
    st.unknown = opened.unknown;
    for (const auto& t : opened.skipped)
    {
        if (t.state == track_state::done) ++st.done_before;
        else if (t.state == track_state::failed) ++st.failed;
        else if (t.state == track_state::outcome_unknown) ++st.unknown;
        else if (t.state == track_state::result_lost) ++st.result_lost;
        ++st.skipped;
        st.emit(batch_event::kind::track_skipped, t.name, t.message, t.state);
    }
}

/// While KIE is down the workers' paid steps wait (the client's circuit breaker); the batch
/// waits at most `budget` for one outage to end, then `stop` ends the run, every track resumable.
/// Pointer arguments: see the note on coroutine helpers in batch_support.hpp.
asio::awaitable<void> watch_outage(client* cli, std::chrono::milliseconds budget, std::string* exceeded,
                                   std::function<void()>* stop)
{
    asio::steady_timer tick(co_await asio::this_coro::executor);
    for (;;)
    {
        tick.expires_after(std::chrono::milliseconds(100));
        auto [ec] = co_await tick.async_wait(use_nothrow_awaitable);
        if (ec) co_return;
        const auto kie = cli->metrics().kie();
        if (kie.down && kie.down_for > budget)
        {
            *exceeded = detail::while_kie_is_down(*cli).substr(2);
            (*stop)();
            co_return;
        }
    }
}

asio::awaitable<std::tuple<error_code, batch_summary>> run_batch(client& cli, const batch_options& opts, batch_claims* claims,
                                                                 std::filesystem::path journal_path,
                                                                 asio::thread_pool::executor_type pool_ex, strand_type strand,
                                                                 std::vector<track_spec> tracks,
                                                                 std::function<void(const batch_event&)> on_event,
                                                                 diagnostics& diag)
{
    co_await asio::this_coro::reset_cancellation_state(asio::enable_total_cancellation());
    co_await asio::this_coro::throw_if_cancelled(false);
    const auto t0 = clock_type::now();
    diag.clear();
    auto state = claims ? detail::make_shared_batch_state(*claims, opts, pool_ex)
                        : detail::make_journal_batch_state(opts, std::move(journal_path), pool_ex);
    run_state st(cli, opts, pool_ex, strand, std::move(on_event), *state);
    batch_summary summary;

    detail::opened_batch opened;
    if (auto oec = co_await state->open(&tracks, &opened, &diag))
        co_return std::tuple<error_code, batch_summary>{oec, summary};
    take_opened(st, opened);
    st.maybe_progress(true);

    // Workers (and for leased tracks the lease renewal); each can be cancelled through its own signal.
    const std::size_t n = state->worker_count(std::max(1u, opts.concurrency));
    const bool renew = state->lease().has_value() && n > 0;
    std::vector<std::unique_ptr<asio::cancellation_signal>> signals;
    asio::cancellation_signal renewal_signal;
    asio::steady_timer all_done(strand, clock_type::time_point::max());
    std::size_t running = 0, workers_running = 0;
    bool cancelled = false;
    auto stop_all = [&] {
        if (st.stopping) return;
        st.stopping = true;
        for (auto& s : signals) s->emit(asio::cancellation_type::terminal);
    };
    st.request_stop = stop_all;
    // Workers reference the state, which outlives them (we wait for all below).
    asio::cancellation_signal outage_signal;
    std::function<void()> stop_for_outage = stop_all;
    std::string outage_exceeded;
    auto on_worker_end = [&](std::exception_ptr) {
        // The renewal lives as long as some worker may hold a claim.
        if (--workers_running == 0 && renew) renewal_signal.emit(asio::cancellation_type::terminal);
        if (workers_running == 0) outage_signal.emit(asio::cancellation_type::terminal);
        if (--running == 0) all_done.cancel();
    };
    for (std::size_t i = 0; i < n; ++i)
    {
        signals.push_back(std::make_unique<asio::cancellation_signal>());
        ++running;
        ++workers_running;
        asio::co_spawn(strand, detail::worker(&st), asio::bind_cancellation_slot(signals.back()->slot(), on_worker_end));
    }
    if (renew)
    {
        ++running;
        auto on_renewal_end = [&](std::exception_ptr) {
            if (--running == 0) all_done.cancel();
        };
        asio::co_spawn(strand, detail::renew_leases(&st), asio::bind_cancellation_slot(renewal_signal.slot(), on_renewal_end));
    }
    if (n > 0)
    {
        ++running;
        auto on_watch_end = [&](std::exception_ptr) {
            if (--running == 0) all_done.cancel();
        };
        asio::co_spawn(strand, watch_outage(&cli, opts.outage_wait, &outage_exceeded, &stop_for_outage),
                       asio::bind_cancellation_slot(outage_signal.slot(), on_watch_end));
    }
    auto cs = co_await asio::this_coro::cancellation_state;
    if (cs.cancelled() != asio::cancellation_type::none)
    {
        cancelled = true;
        stop_all();
    }
    while (running > 0)
    {
        co_await all_done.async_wait(use_nothrow_awaitable);
        if (running > 0 && !st.stopping && (co_await asio::this_coro::cancellation_state).cancelled() != asio::cancellation_type::none)
        {
            cancelled = true;
            stop_all();
        }
    }
    st.request_stop = nullptr;
    st.maybe_progress(true);

    summary.total = st.total;
    summary.done = st.done_now;
    summary.failed = st.failed;
    summary.skipped_already_done = st.done_before;
    summary.resumed = st.resumed;
    summary.outcome_unknown = st.unknown;
    summary.recovered = st.recovered;
    summary.notes = st.notes;
    summary.taken_over = st.taken_over;
    summary.not_written = st.not_written;
    summary.not_written_reason = st.not_written_reason;
    summary.rewritten = st.rewritten;
    summary.result_lost = st.result_lost;
    summary.files_missing = opened.files_missing;
    summary.elapsed = std::chrono::duration_cast<milliseconds>(clock_type::now() - t0);
    detail::run_tally tally;
    tally.done_before = st.done_before;
    tally.done_now = st.done_now;
    tally.finished = st.finished_from_queue;
    diagnostics close_diag;
    if (auto cec = co_await state->close(&tally, &summary, &close_diag); cec && !st.fatal)
    {
        st.fatal = cec;
        st.fatal_diag = close_diag;
    }
    error_code ec;
    if (st.fatal)
    {
        ec = st.fatal;
        diag = st.fatal_diag;
    }
    if (st.out_of_credits)
    {
        // Every track not finished now was left pending (or put back) for lack of credits.
        summary.stopped_for_credits = true;
        summary.not_started_no_credits = summary.unfinished;
    }
    summary.budget_used = st.budget_used;
    if (st.out_of_budget && !st.out_of_credits)
    {
        // Every track not finished now was left pending because the budget could not cover it.
        summary.stopped_for_budget = true;
        summary.not_started_budget = summary.unfinished;
    }
    if (!outage_exceeded.empty())
    {
        summary.stopped_for_outage = true;
        summary.kie_unavailable = std::move(outage_exceeded);
    }
    if (cancelled) ec = asio::error::operation_aborted;
    co_return std::tuple<error_code, batch_summary>{ec, summary};
}

}  // namespace

batch_runner::batch_runner(client& c, batch_options opts)
    : client_(c), opts_(std::move(opts)), pool_(std::make_unique<asio::thread_pool>(1))
{
}

batch_runner::batch_runner(client& c, batch_options opts, batch_claims& shared)
    : client_(c), opts_(std::move(opts)), claims_(&shared), pool_(std::make_unique<asio::thread_pool>(1))
{
}

batch_runner::~batch_runner()
{
    pool_->join();
}

asio::awaitable<batch_summary> batch_runner::run(std::vector<track_spec> tracks, std::function<void(const batch_event&)> on_event)
{
    auto [ec, summary] = co_await async_run(std::move(tracks), std::move(on_event), use_nothrow_awaitable);
    throw_on_error(ec, diag_);
    co_return summary;
}

std::filesystem::path batch_runner::journal_path() const
{
    return opts_.journal_path.empty() ? opts_.output_dir / "kiemidi-journal.sqlite" : opts_.journal_path;
}

void batch_runner::start_run(std::vector<track_spec> tracks, std::function<void(const batch_event&)> on_event,
                             diagnostics& diag, asio::any_completion_handler<void(error_code, batch_summary)> handler)
{
    auto strand = asio::make_strand(client_.get_executor());
    // Counted among the client's operations: client::async_shutdown stops the run (as a
    // cancellation, then client_errc::shut_down) and completes only once it has ended.
    detail::spawn_tracked_on<batch_summary>(
        detail::client_access::life(client_), client_.get_executor(), strand,
        run_batch(client_, opts_, claims_, journal_path(), pool_->get_executor(), strand, std::move(tracks), std::move(on_event), diag),
        std::move(handler));
}

}  // namespace kiemidi
