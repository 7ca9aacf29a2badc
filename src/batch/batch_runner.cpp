// batch_runner: N worker coroutines pull tracks from a queue and take each one through
// journal intent → paid POST → journal task id → wait, twice, then write the files and mark done.
//
// Workers and the counters they share live on one strand of the client's executor. Journal calls
// and file writes are blocking, so they run on the runner's single-thread pool and the worker
// resumes on the strand afterwards. Paid POSTs are shielded from cancellation: once the intent is
// recorded, the submission runs until KIE answers, so its task id is journaled rather than lost.
//
// A shared batch (batch_claims) replaces the journal and the queue: each worker claims a track,
// records the same facts in the shared state under its claim, and a renewer keeps the leases of
// the claimed tracks alive; the state changes below go to one or the other through run_state.
#include <kiemidi/batch.hpp>
#include <kiemidi/batch_claims.hpp>
#include <kiemidi/callback_reference.hpp>
#include <kiemidi/detail/async_bridge.hpp>
#include <kiemidi/smf.hpp>

#include "../client/paid_submission.hpp"
#include "track_output.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/cancellation_state.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>


#include <atomic>
#include <map>
#include <optional>
#include <set>

namespace kiemidi {

namespace asio = boost::asio;
using namespace asio::experimental::awaitable_operators;
using std::chrono::milliseconds;
using clock_type = std::chrono::steady_clock;

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
    return sanitize_file_name(track.task_id + "_" + track.audio_id);
}

namespace {

using batch_detail::make_output_dir;
using batch_detail::write_track_files;

constexpr auto tok = asio::as_tuple(asio::use_awaitable);

/// A completion token whose operation ignores cancellation (paid POSTs, journal writes).
auto shielded() { return asio::bind_cancellation_slot(asio::cancellation_slot(), tok); }

using strand_type = asio::strand<asio::any_io_executor>;

/// `lost`: a shared track whose claim passed to another worker (its lease expired meanwhile).
/// `no_credits`: KIE said the account is out of credits; the track was left (or put back) where
/// a later run resumes it, nothing charged.
enum class track_outcome { done, failed, unknown, stopped, lost, no_credits };

/// "what: diagnostics" for the journal and events; KIE's message is in the diagnostics.
std::string describe(const error_code& ec, const diagnostics& diag)
{
    std::string m = ec.message();
    auto d = diag.to_string();
    if (!d.empty()) m += ": " + d;
    return m;
}

/// State of one async_run, shared by its workers; touched only on `strand` (journal: pool only).
struct run_state
{
    client& cli;
    const batch_options& opts;
    asio::thread_pool::executor_type pool_ex;
    strand_type strand;
    std::function<void(const batch_event&)> on_event;
    journal jnl;
    /// Set for a shared batch: the claims replace `jnl` and `queue`.
    batch_claims* claims = nullptr;
    /// Claim token per claimed track id (shared batches).
    std::map<std::int64_t, std::string> tokens;
    /// Tracks the renewer found taken over by another worker.
    std::set<std::int64_t> lost;
    /// The stage timer of each track waiting for KIE. The renewer cancels it when the track's
    /// claim is lost, which ends the wait: the new owner waits for that task now, and this
    /// worker's slot is free for another track.
    std::map<std::int64_t, asio::steady_timer*> wait_timers;
    /// Why a shared batch could not go on (its store failed); ends the run.
    error_code fatal;
    diagnostics fatal_diag;
    std::function<void()> request_stop;

    std::vector<journal_entry> queue;
    std::size_t next = 0;
    /// File base name per journal id: output_name(), made unique within the journal.
    std::map<std::int64_t, std::string> names;

    const std::string& name_of(const journal_entry& e) { return names[e.id]; }
    bool stopping = false;
    /// KIE answered a paid POST "insufficient credits": no further track is started.
    bool out_of_credits = false;

    std::size_t total = 0, done_before = 0, done_now = 0, failed = 0, unknown = 0, in_flight = 0, skipped = 0,
                resumed = 0, notes = 0, finished_from_queue = 0, taken_over = 0, recovered = 0;
    clock_type::time_point last_progress{};

    run_state(client& c, const batch_options& o, asio::thread_pool::executor_type p, strand_type s,
              std::function<void(const batch_event&)> ev)
        : cli(c), opts(o), pool_ex(p), strand(std::move(s)), on_event(std::move(ev))
    {
    }

    void emit(batch_event::kind k, std::string name, std::string message, track_state state)
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

    void maybe_progress(bool force = false)
    {
        if (force || clock_type::now() - last_progress >= opts.progress_interval)
            emit(batch_event::kind::progress, {}, {}, track_state::pending);
    }

    /// Runs `f` (returning error_code) on the pool thread; resumes on the strand. Not cancellable:
    /// a journal write, once started, completes.
    template <class F>
    asio::awaitable<error_code> blocking(F f)
    {
        // Named, not a temporary inside co_await: g++ 12 would destroy the closure twice.
        auto body = [fn = std::move(f)]() mutable -> asio::awaitable<error_code> { co_return fn(); };
        auto [ep, ec] = co_await asio::co_spawn(pool_ex, std::move(body), shielded());
        if (ep) co_return detail::exception_code(ep);
        co_return ec;
    }

    // ---- state changes: the journal (on the pool) or the shared claims (shielded) ----

    asio::awaitable<error_code> shared_update(std::int64_t id, const track_update& u, diagnostics& diag,
                                              track_state* out = nullptr)
    {
        std::string token = tokens[id];
        track_update copy = u;
        auto [ec, ns] = co_await claims->async_update(id, std::move(token), std::move(copy), diag, shielded());
        if (!ec && out) *out = ns;
        co_return ec;
    }

    /// One state change of a track: `u` to the shared claims, or `journal_step` (the same change
    /// as a journal call) on the pool. Callers pass a named closure: g++ 12 would destroy a
    /// temporary one inside the co_await twice (see blocking()).
    template <class JournalStep>
    asio::awaitable<error_code> change(std::int64_t id, const track_update& u, JournalStep journal_step, diagnostics& diag)
    {
        if (claims) co_return co_await shared_update(id, u, diag);
        co_return co_await blocking(std::move(journal_step));
    }

    asio::awaitable<error_code> record_intent(std::int64_t id, journal_stage stage, const std::string& ref, diagnostics& diag)
    {
        track_update u;
        u.what = track_update::kind::intent;
        u.stage = stage;
        u.reference = ref;
        auto step = [this, id, stage, ref, &diag] { return jnl.record_intent(id, stage, ref, diag); };
        co_return co_await change(id, u, std::move(step), diag);
    }

    asio::awaitable<error_code> record_task_id(std::int64_t id, journal_stage stage, const std::string& tid, diagnostics& diag)
    {
        track_update u;
        u.what = track_update::kind::task_id;
        u.stage = stage;
        u.task_id = tid;
        auto step = [this, id, stage, tid, &diag] { return jnl.record_task_id(id, stage, tid, diag); };
        co_return co_await change(id, u, std::move(step), diag);
    }

    asio::awaitable<error_code> mark_done(std::int64_t id, diagnostics& diag)
    {
        track_update u;
        u.what = track_update::kind::done;
        auto step = [this, id, &diag] { return jnl.mark_done(id, diag); };
        co_return co_await change(id, u, std::move(step), diag);
    }

    asio::awaitable<error_code> mark_failed(std::int64_t id, const std::string& stage, const std::string& msg, diagnostics& diag)
    {
        track_update u;
        u.what = track_update::kind::failed;
        u.failed_stage = stage;
        u.error = msg;
        auto step = [this, id, stage, msg, &diag] { return jnl.mark_failed(id, stage, msg, diag); };
        co_return co_await change(id, u, std::move(step), diag);
    }

    asio::awaitable<error_code> mark_outcome_unknown(std::int64_t id, const std::string& msg, diagnostics& diag)
    {
        track_update u;
        u.what = track_update::kind::outcome_unknown;
        u.error = msg;
        auto step = [this, id, msg, &diag] { return jnl.mark_outcome_unknown(id, msg, diag); };
        co_return co_await change(id, u, std::move(step), diag);
    }

    /// failed / outcome_unknown → the latest state the task ids allow; `e` is updated.
    asio::awaitable<error_code> requeue(journal_entry& e, diagnostics& diag)
    {
        const auto id = e.id;
        track_state ns{};
        if (claims)
        {
            track_update u;
            u.what = track_update::kind::requeue;
            auto ec = co_await shared_update(id, u, diag, &ns);
            if (!ec)
            {
                e.state = ns;
                e.error.clear();
                e.failed_stage.clear();
            }
            co_return ec;
        }
        auto step0 = [this, id, &ns, &diag] { return jnl.requeue(id, ns, diag); };
        if (auto ec = co_await blocking(std::move(step0))) co_return ec;
        auto step1 = [this, id, &e, &diag] { return jnl.get(id, e, diag); };
        co_return co_await blocking(std::move(step1));
    }

    /// Gives a shared claim up (stopping, or lost); errors are ignored: the lease then expires.
    asio::awaitable<void> release(std::int64_t id)
    {
        track_update u;
        u.what = track_update::kind::release;
        diagnostics ignored;
        co_await shared_update(id, u, ignored);
        tokens.erase(id);
    }

    /// A change the shared state refused because the track is no longer (or not as expected) ours.
    bool claim_gone(const error_code& ec) const
    {
        return claims && (ec == claim_errc::claim_lost || ec == claim_errc::invalid_transition);
    }
};

/// Runs the paid exchange `start(admission)` in its own coroutine on the run's strand, where
/// `admission` raises a flag and then runs `admitted`. The worker's cancellation reaches the
/// exchange only until the transport admits the POST (while it waits for the rate limiter,
/// nothing has been sent); from then on it is shielded: a paid POST runs until KIE answers, so
/// its task id is journaled rather than lost.
template <class Start>
asio::awaitable<std::tuple<error_code, api::task_created>> exchange_until_admitted(strand_type strand,
                                                                                   detail::admission_step admitted,
                                                                                   Start start)
{
    // Set on the transport's strand, read on the run's.
    auto flag = std::make_shared<std::atomic<bool>>(false);
    detail::admission_step admission = [flag, admitted = std::move(admitted)]() -> asio::awaitable<error_code> {
        flag->store(true);
        if (!admitted) co_return error_code{};
        co_return co_await admitted();
    };
    asio::cancellation_signal until_admitted;
    asio::cancellation_state cs = co_await asio::this_coro::cancellation_state;
    auto outer = cs.slot();
    if (outer.is_connected())
        outer.assign([&until_admitted, flag](asio::cancellation_type type) {
            if (!flag->load()) until_admitted.emit(type);
        });
    auto exchange = start(std::move(admission));
    auto [ep, r] = co_await asio::co_spawn(strand, std::move(exchange),
                                           asio::bind_cancellation_slot(until_admitted.slot(), tok));
    if (outer.is_connected()) outer.clear();
    if (ep) co_return std::tuple<error_code, api::task_created>{detail::exception_code(ep), api::task_created{}};
    co_return std::move(r);
}

/// Wait bounded by the stage timeout; a cancelled wait gives operation_aborted, a timeout client_errc::timeout.
/// The wait of track `id` also ends (operation_aborted) when the renewer finds its claim lost.
template <class Record, class Start>
asio::awaitable<std::tuple<error_code, Record>> bounded_wait(run_state& st, std::int64_t id, Start start, const char* stage,
                                                             diagnostics& diag)
{
    asio::steady_timer timer(co_await asio::this_coro::executor, st.opts.pipeline.stage_timeout);
    struct registration
    {
        run_state& st;
        std::int64_t id;
        ~registration() { st.wait_timers.erase(id); }
    } reg{st, id};
    st.wait_timers[id] = &timer;
    auto r = co_await (start() || timer.async_wait(tok));
    if (r.index() == 0) co_return std::move(std::get<0>(r));
    auto [tec] = std::get<1>(r);
    if (tec) co_return std::tuple<error_code, Record>{asio::error::operation_aborted, Record{}};
    diag.set_stage(stage);
    diag.set_client_message(std::string(stage) + " wait exceeded " + std::to_string(st.opts.pipeline.stage_timeout.count()) + " ms");
    co_return std::tuple<error_code, Record>{client_errc::timeout, Record{}};
}

/// The journal's part of a paid step (detail::submit_paid): the intent with its callback
/// reference before the POST, the task id after it.
class journal_hooks final : public detail::paid_hooks
{
public:
    journal_hooks(run_state& st, std::int64_t id, journal_stage stage, diagnostics& diag)
        : st_(st), id_(id), stage_(stage), diag_(diag)
    {
    }
    asio::awaitable<error_code> intent(const std::string& reference) override
    {
        // The transport calls this on its own strand; the run's state belongs to the run's strand.
        auto record = [this, &reference]() -> asio::awaitable<error_code> {
            co_return co_await st_.record_intent(id_, stage_, reference, diag_);
        };
        auto on_strand = record();  // named: g++ 12 mishandles temporaries inside co_await
        auto [ep, ec] = co_await asio::co_spawn(st_.strand, std::move(on_strand), shielded());
        if (ep) co_return detail::exception_code(ep);
        co_return ec;
    }
    asio::awaitable<error_code> task_id(const std::string& task_id) override
    {
        co_return co_await st_.record_task_id(id_, stage_, task_id, diag_);
    }

private:
    run_state& st_;
    std::int64_t id_;
    journal_stage stage_;
    diagnostics& diag_;
};

/// One track, from whatever state the journal has it in, to done / failed / unknown, or stopped.
asio::awaitable<track_outcome> process_track(run_state& st, journal_entry e, std::string& message)
{
    const std::string name = st.name_of(e);
    const auto id = e.id;
    diagnostics diag;
    auto& cli = st.cli;
    const auto& p = st.opts.pipeline;

    auto journal_failed = [&](const error_code& ec) {
        if (st.claim_gone(ec))
        {
            message = "taken over by another worker: " + describe(ec, diag);
            return track_outcome::lost;
        }
        message = (st.claims ? "shared state: " : "journal: ") + describe(ec, diag);
        return track_outcome::failed;
    };
    // Coroutine helpers take only trivially destructible arguments (see the note in blocking()).
    auto fail = [&](error_code ec, const char* stage_name) -> asio::awaitable<track_outcome> {
        std::string stage = stage_name;
        diag.set_stage(stage);
        message = describe(ec, diag);
        diagnostics jd;
        std::string msg = message;
        auto jec = co_await st.mark_failed(id, stage, msg, jd);
        if (st.claim_gone(jec)) co_return track_outcome::lost;
        if (jec) message += " (and the journal could not record it: " + describe(jec, jd) + ")";
        co_return track_outcome::failed;
    };
    // `why` is the message; it is read before the first suspension.
    auto unknown = [&](const std::string* why) -> asio::awaitable<track_outcome> {
        message = *why;
        diagnostics jd;
        std::string msg = message;
        auto jec = co_await st.mark_outcome_unknown(id, msg, jd);
        if (st.claim_gone(jec)) co_return track_outcome::lost;
        if (jec) message += " (and the journal could not record it: " + describe(jec, jd) + ")";
        co_return track_outcome::unknown;
    };
    // Out of credits: KIE refused the POST of `stage`, so nothing was charged. The intent goes
    // back to the latest state the recorded task ids allow (pending, or separating for MIDI) by
    // way of failed and requeue, the journal's one way out of an intent without a task id.
    auto no_credits = [&](journal_stage stage) -> asio::awaitable<track_outcome> {
        std::string stage_name(to_string(stage));
        std::string msg = message;
        diagnostics jd;
        auto jec = co_await st.mark_failed(id, stage_name, msg, jd);
        if (!jec) jec = co_await st.requeue(e, jd);
        if (st.claim_gone(jec)) co_return track_outcome::lost;
        if (jec)
        {
            message += " (and the journal could not put the track back: " + describe(jec, jd) + ")";
            co_return track_outcome::failed;
        }
        co_return track_outcome::no_credits;
    };

    // Stop before the next step when the run stops, or when the renewer found the claim taken over.
    auto halted = [&]() -> std::optional<track_outcome> {
        if (st.stopping) return track_outcome::stopped;
        if (st.lost.count(id))
        {
            message = "taken over by another worker (the lease expired)";
            return track_outcome::lost;
        }
        return std::nullopt;
    };

    // The task id of `stage` is recorded: the track moves on to waiting for that task.
    auto advance = [&](journal_stage stage, const std::string& tid) {
        if (stage == journal_stage::separation)
        {
            e.separation_task_id = tid;
            e.state = track_state::separating;
        }
        else
        {
            e.midi_task_id = tid;
            e.state = track_state::transcribing;
        }
    };

    // Finds the task of a paid POST whose answer was never recorded (an earlier run stopped
    // between the POST and the journal) through its tagged callback, and records it as if the
    // answer had come: the track goes on without paying again.
    // Returns true when found and recorded; `why` gets the reason otherwise.
    // Arguments are pointers, read before the first suspension (see the note on `fail`).
    auto recover = [&](journal_stage stage, const std::string* reference, std::chrono::milliseconds within,
                       std::string* why) -> asio::awaitable<bool> {
        const std::string ref = *reference;
        const auto kind = stage == journal_stage::separation ? callback_kind::separation : callback_kind::midi;
        diagnostics fd;
        std::string tid;
        if (co_await detail::recover_lost_answer(cli, kind, ref, within, fd, tid))
        {
            *why += fd.client_message();
            co_return false;
        }
        if (auto jec = co_await st.record_task_id(id, stage, tid, diag))
        {
            *why += "; found task " + tid + " but the journal could not record it: " + describe(jec, diag);
            co_return false;
        }
        advance(stage, tid);
        ++st.recovered;
        co_return true;
    };

    // One paid submission of `stage` through the step the pipeline takes too: the intent with
    // its callback reference goes into the journal first, so that the task can be found from its
    // callback if the answer is lost (here or by a crash); then the POST, shielded from
    // cancellation; then the task id. An answer that may hide a paid task is recovered from the
    // tagged callback, or the track ends as outcome_unknown: never a second POST.
    // Returns nullopt when the task id is recorded and the track goes on.
    // Arguments are pointers, read before the first suspension (see the note on `fail`).
    auto submit_paid = [&](journal_stage stage, const detail::paid_post* post) -> asio::awaitable<std::optional<track_outcome>> {
        const bool separation = stage == journal_stage::separation;
        journal_hooks hooks(st, id, stage, diag);
        detail::paid_step step;
        const auto kind = separation ? callback_kind::separation : callback_kind::midi;
        auto ec = co_await detail::submit_paid(cli, kind, *post, &hooks, p.unknown_outcome_wait, diag, step);
        if (step.hook_failed) co_return journal_failed(ec);
        if (ec == api_errc::insufficient_credits)
        {
            // KIE's word: not charged. The track goes back to where it was, to be resumed by a
            // run after a top-up, and this run starts no further track.
            st.out_of_credits = true;
            message = describe(ec, diag);
            co_return co_await no_credits(stage);
        }
        // Ended before the transport admitted the POST (stopped or closed while it waited for the
        // rate limiter): nothing was sent and no intent recorded; the track resumes as it was.
        if (!step.admitted && (ec == asio::error::operation_aborted || ec == client_errc::shut_down))
            co_return track_outcome::stopped;
        if (ec == asio::error::operation_aborted && st.stopping)
            co_return track_outcome::stopped;  // the intent stays: the next run looks for its callback
        if (ec && detail::outcome_may_be_paid(ec))
        {
            std::string why = describe(ec, diag);
            co_return co_await unknown(&why);
        }
        if (ec) co_return co_await fail(ec, separation ? "separation" : "midi");
        advance(stage, step.task_id);
        if (step.recovered) ++st.recovered;
        co_return std::nullopt;
    };

    // ---- states left by an earlier run ----
    bool recovered_at_start = false;
    if (e.state == track_state::separation_intent || e.state == track_state::midi_intent)
    {
        // A POST may have been sent without its answer being recorded. KIE cannot look it up,
        // but its callback names the task: wait for the callback tagged with the intent's reference.
        const auto stage = e.state == track_state::separation_intent ? journal_stage::separation : journal_stage::midi;
        std::string why = std::string("the ") + (stage == journal_stage::separation ? "separation" : "MIDI") +
                          " submission of an earlier run (or of a worker that died) was sent but its answer was not recorded; it may have been "
                          "processed (and paid)";
        if (auto h = halted()) co_return *h;
        // In a shared batch the callback went to the listener of the worker that sent the POST.
        const auto within = st.claims ? std::chrono::milliseconds(0) : st.opts.resumed_intent_wait;
        recovered_at_start = co_await recover(stage, &e.intent_ref, within, &why);
        if (!recovered_at_start)
        {
            if (auto h = halted()) co_return *h;
            auto o = co_await unknown(&why);
            if (o == track_outcome::lost || !st.opts.resubmit_unknown) co_return o;
            e.state = track_state::outcome_unknown;
        }
    }
    if (e.state == track_state::outcome_unknown || e.state == track_state::failed)
    {
        auto jec = co_await st.requeue(e, diag);
        if (jec) co_return journal_failed(jec);
    }
    // A shared track resumed here was submitted by another worker, so its callback goes to that
    // worker's listener; a local one resumed by a run listening on another URL (a new port) has
    // its callback sent where nobody listens. Either way, poll rather than wait for a callback
    // that may never come.
    auto poll_if_callbacks_unreachable = [&](wait_options& w) {
        if (st.claims || !st.opts.resumed_callbacks_reachable) w.strategy = wait_strategy::polling;
    };
    const bool resumed_separation = e.state == track_state::separating;
    const bool resumed_midi = e.state == track_state::transcribing;
    if (resumed_separation || resumed_midi || recovered_at_start) ++st.resumed;

    // ---- separation ----
    api::separation_record sep;
    if (e.state == track_state::pending)
    {
        if (auto h = halted()) co_return *h;
        if (st.out_of_credits)
        {
            message = "not started: KIE said the account is out of credits";
            co_return track_outcome::no_credits;
        }
        const detail::paid_post post = [&](std::string callback_url,
                                           detail::admission_step admitted) -> detail::op_result<api::task_created> {
            api::separation_request req;
            req.task_id = e.track.task_id;
            req.audio_id = e.track.audio_id;
            req.type = p.separation;
            req.callback_url = std::move(callback_url);
            auto start = [&](detail::admission_step a) { return detail::submit_separation(cli, req, diag, std::move(a)); };
            co_return co_await exchange_until_admitted(st.strand, std::move(admitted), start);
        };
        if (auto o = co_await submit_paid(journal_stage::separation, &post)) co_return *o;
    }
    if (e.state == track_state::separating)
    {
        if (auto h = halted()) co_return *h;
        std::string sid = e.separation_task_id;
        wait_options w = p.wait;
        // The callback of a task that finished while we were away is gone: ask KIE at once.
        w.read_record_first = resumed_separation || recovered_at_start;
        if (resumed_separation) poll_if_callbacks_unreachable(w);
        auto start = [&] { return cli.async_wait_separation(sid, w, diag, tok); };
        auto [wec, rec] = co_await bounded_wait<api::separation_record>(st, id, start, "separation", diag);
        // Stopped, or the claim passed to another worker (the renewer ended the wait).
        if (wec == asio::error::operation_aborted)
            if (auto h = halted()) co_return *h;
        if (wec) co_return co_await fail(wec, "separation");
        sep = std::move(rec);
        // ---- MIDI submission ----
        std::optional<std::string> stem_id;
        if (!p.stem.empty())
        {
            if (sep.origin_data.empty())
            {
                auto [rec_ec, rec] = co_await cli.async_get_separation(e.separation_task_id, diag, tok);
                if (rec_ec == asio::error::operation_aborted && st.stopping) co_return track_outcome::stopped;
                if (rec_ec) co_return co_await fail(rec_ec, "separation");
                sep = std::move(rec);
            }
            for (const auto& s : sep.origin_data)
                if (s.stem_type_group_name == p.stem) stem_id = s.id;
            if (!stem_id)
            {
                diag.set_client_message("the separation has no stem named \"" + p.stem + "\"");
                co_return co_await fail(error_code(client_errc::invalid_field), "midi");
            }
        }
        if (auto h = halted()) co_return *h;
        const detail::paid_post post = [&](std::string callback_url,
                                           detail::admission_step admitted) -> detail::op_result<api::task_created> {
            api::midi_request req;
            req.task_id = e.separation_task_id;
            req.audio_id = stem_id;
            req.callback_url = std::move(callback_url);
            auto start = [&](detail::admission_step a) { return detail::submit_midi(cli, req, diag, std::move(a)); };
            co_return co_await exchange_until_admitted(st.strand, std::move(admitted), start);
        };
        if (auto o = co_await submit_paid(journal_stage::midi, &post)) co_return *o;
    }

    // ---- MIDI result ----
    if (e.state != track_state::transcribing)
    {
        message = "unexpected journal state " + std::string(to_string(e.state));
        co_return track_outcome::failed;
    }
    if (auto h = halted()) co_return *h;
    api::midi_record midi;
    {
        std::string mid = e.midi_task_id;
        wait_options w = p.wait;
        w.read_record_first = resumed_midi || (recovered_at_start && e.state == track_state::transcribing);
        if (resumed_midi) poll_if_callbacks_unreachable(w);
        auto start = [&] { return cli.async_wait_midi(mid, w, diag, tok); };
        auto [wec, rec] = co_await bounded_wait<api::midi_record>(st, id, start, "midi", diag);
        // Stopped, or the claim passed to another worker (the renewer ended the wait).
        if (wec == asio::error::operation_aborted)
            if (auto h = halted()) co_return *h;
        if (wec) co_return co_await fail(wec, "midi");
        midi = std::move(rec);
    }

    // ---- files, then done ----
    std::size_t notes = 0;
    for (const auto& i : midi.midi.instruments) notes += i.notes.size();
    const auto dir = st.opts.output_dir;
    const bool json = st.opts.write_json;
    diagnostics out_diag;
    auto write_files = [&, dir, json] { return write_track_files(dir, name, json, midi.midi, out_diag); };
    auto wec = co_await st.blocking(std::move(write_files));
    if (wec)
    {
        diag = out_diag;
        co_return co_await fail(wec, "output");
    }
    auto dec = co_await st.mark_done(id, diag);
    if (dec) co_return journal_failed(dec);
    st.notes += notes;
    message = std::to_string(notes) + " notes";
    if (auto w = api::result_warning(midi.midi.repairs, notes); !w.empty()) message += "; warning: " + w;
    co_return track_outcome::done;
}

/// One track through process_track, with its events and counts.
asio::awaitable<void> handle_track(run_state& st, journal_entry e)
{
    const std::string name = st.name_of(e);
    const auto id = e.id;
    const bool resuming = e.state == track_state::separating || e.state == track_state::transcribing;
    ++st.in_flight;
    st.emit(batch_event::kind::track_started, name,
            resuming ? "resumed from " + std::string(to_string(e.state)) : std::string(), e.state);
    std::string message;
    auto outcome = co_await process_track(st, std::move(e), message);
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
    if (st.claims && st.tokens.count(id))
    {
        if (outcome == track_outcome::stopped || outcome == track_outcome::lost || outcome == track_outcome::no_credits)
            co_await st.release(id);
        st.tokens.erase(id);
        st.lost.erase(id);
    }
    st.maybe_progress();
}

asio::awaitable<void> worker(run_state& st)
{
    co_await asio::this_coro::throw_if_cancelled(false);
    while (!st.stopping && !st.out_of_credits && st.next < st.queue.size())
    {
        journal_entry e = st.queue[st.next++];
        co_await handle_track(st, std::move(e));
    }
}

/// A worker of a shared batch: claims tracks until the batch is finished (nothing claimable and
/// nothing leased), waiting while other workers still hold leases that may expire.
asio::awaitable<void> shared_worker(run_state& st)
{
    co_await asio::this_coro::throw_if_cancelled(false);
    asio::steady_timer idle(co_await asio::this_coro::executor);
    const milliseconds longest_idle = std::max(milliseconds(20), st.claims->lease());
    while (!st.stopping && !st.out_of_credits)
    {
        diagnostics diag;
        // Shielded: a claim the store made must be known here, or it would wait for its lease.
        auto [ec, r] = co_await st.claims->async_claim(diag, shielded());
        if (ec)
        {
            if (!st.fatal)
            {
                st.fatal = ec;
                st.fatal_diag = diag;
            }
            if (st.request_stop) st.request_stop();
            co_return;
        }
        if (r.claim)
        {
            auto& c = *r.claim;
            st.tokens[c.entry.id] = c.token;
            st.names[c.entry.id] = c.output_name;
            if (st.stopping || st.out_of_credits)
            {
                co_await st.release(c.entry.id);
                co_return;
            }
            if (!c.previous_owner.empty()) ++st.taken_over;
            co_await handle_track(st, std::move(c.entry));
            continue;
        }
        if (r.finished) co_return;
        idle.expires_after(std::clamp(r.retry_after, milliseconds(20), longest_idle));
        co_await idle.async_wait(tok);
    }
}

/// Keeps the leases of this worker's claimed tracks alive (every third of the lease).
asio::awaitable<void> renewer(run_state& st)
{
    co_await asio::this_coro::throw_if_cancelled(false);
    asio::steady_timer timer(co_await asio::this_coro::executor);
    const auto period = std::max(milliseconds(10), st.claims->lease() / 3);
    for (;;)
    {
        timer.expires_after(period);
        auto [tec] = co_await timer.async_wait(tok);
        if (tec) co_return;
        if (st.tokens.empty()) continue;
        std::vector<std::pair<std::int64_t, std::string>> held(st.tokens.begin(), st.tokens.end());
        diagnostics diag;
        auto [ec, lost] = co_await st.claims->async_renew(std::move(held), diag, tok);
        if (ec == asio::error::operation_aborted) co_return;
        if (ec) continue;  // the next period tries again; a lease outlives two failed renewals
        for (auto id : lost)
        {
            st.lost.insert(id);
            if (auto it = st.wait_timers.find(id); it != st.wait_timers.end()) it->second->cancel();
        }
    }
}

/// Opens the journal (local) or the shared state, and fills the counts and the queue (local).
asio::awaitable<error_code> open_batch(run_state& st, const std::filesystem::path& journal_path, std::vector<track_spec>& tracks,
                                       diagnostics& diag)
{
    const auto& opts = st.opts;
    auto make_dir = [&] { return make_output_dir(opts.output_dir, diag); };
    if (st.claims)
    {
        if (auto ec = co_await st.blocking(make_dir)) co_return ec;
        claims_open_options oo;
        oo.retry_failed = opts.retry_failed;
        oo.resubmit_unknown = opts.resubmit_unknown;
        auto [ec, counts] = co_await st.claims->async_open(std::move(tracks), oo, diag, shielded());
        if (ec) co_return ec;
        // Failed and unknown tracks were made claimable again by the open when asked for.
        st.total = counts.total;
        st.done_before = counts[track_state::done];
        st.failed = counts[track_state::failed];
        st.unknown = counts[track_state::outcome_unknown];
        co_return error_code{};
    }

    std::vector<journal_entry> entries;
    auto step7 = [&] {
        if (auto ec = make_dir()) return ec;
        error_code ec;
        st.jnl = journal::open(journal_path, ec, diag);
        if (ec) return ec;
        if ((ec = st.jnl.add_tracks(tracks, diag))) return ec;
        return st.jnl.entries(entries, diag);
    };
    auto oec = co_await st.blocking(std::move(step7));
    if (oec)
    {
        auto step8 = [&] { st.jnl = journal{}; return error_code{}; };
        co_await st.blocking(std::move(step8));
        co_return oec;
    }

    st.total = entries.size();
    // Two tracks with the same name must not overwrite each other's files: the first (by id)
    // keeps the name, later ones get "-<id>". Ids never change, so names are stable across runs.
    {
        std::set<std::string> taken;
        for (const auto& e : entries)
        {
            auto base = output_name(e.track);
            auto name = taken.count(base) ? base + "-" + std::to_string(e.id) : base;
            taken.insert(name);
            st.names[e.id] = std::move(name);
        }
    }
    for (auto& e : entries)
    {
        const auto name = st.name_of(e);
        switch (e.state)
        {
        case track_state::done:
            ++st.done_before;
            ++st.skipped;
            st.emit(batch_event::kind::track_skipped, name, "already done", e.state);
            break;
        case track_state::failed:
            if (opts.retry_failed) st.queue.push_back(std::move(e));
            else
            {
                ++st.failed;
                ++st.skipped;
                st.emit(batch_event::kind::track_skipped, name, "failed in an earlier run: " + e.error, e.state);
            }
            break;
        case track_state::outcome_unknown:
            if (opts.resubmit_unknown) st.queue.push_back(std::move(e));
            else
            {
                ++st.unknown;
                ++st.skipped;
                st.emit(batch_event::kind::track_skipped, name, "outcome unknown (not resubmitted): " + e.error, e.state);
            }
            break;
        default: st.queue.push_back(std::move(e)); break;
        }
    }
    co_return error_code{};
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
    run_state st(cli, opts, pool_ex, strand, std::move(on_event));
    st.claims = claims;
    batch_summary summary;

    if (auto oec = co_await open_batch(st, journal_path, tracks, diag))
        co_return std::tuple<error_code, batch_summary>{oec, summary};
    st.maybe_progress(true);

    // Workers (and for a shared batch the lease renewer); each can be cancelled through its own signal.
    const std::size_t n = claims ? std::max(1u, opts.concurrency)
                                 : std::min<std::size_t>(std::max(1u, opts.concurrency), st.queue.size());
    std::vector<std::unique_ptr<asio::cancellation_signal>> signals;
    asio::cancellation_signal renewer_signal;
    asio::steady_timer all_done(strand, clock_type::time_point::max());
    std::size_t running = 0, workers_running = 0;
    bool cancelled = false;
    auto stop_all = [&] {
        if (st.stopping) return;
        st.stopping = true;
        for (auto& s : signals) s->emit(asio::cancellation_type::terminal);
    };
    st.request_stop = stop_all;
    auto& cs_ref = st;  // workers reference the state, which outlives them (we wait for all below)
    for (std::size_t i = 0; i < n; ++i)
    {
        signals.push_back(std::make_unique<asio::cancellation_signal>());
        ++running;
        ++workers_running;
        auto body = claims ? shared_worker(cs_ref) : worker(cs_ref);
        asio::co_spawn(strand, std::move(body),
                       asio::bind_cancellation_slot(signals.back()->slot(), [&](std::exception_ptr) {
                           // The renewer lives as long as some worker may hold a claim.
                           if (--workers_running == 0 && claims) renewer_signal.emit(asio::cancellation_type::terminal);
                           if (--running == 0) all_done.cancel();
                       }));
    }
    if (claims && n > 0)
    {
        ++running;
        asio::co_spawn(strand, renewer(cs_ref), asio::bind_cancellation_slot(renewer_signal.slot(), [&](std::exception_ptr) {
                           if (--running == 0) all_done.cancel();
                       }));
    }
    auto cs = co_await asio::this_coro::cancellation_state;
    if (cs.cancelled() != asio::cancellation_type::none)
    {
        cancelled = true;
        stop_all();
    }
    while (running > 0)
    {
        co_await all_done.async_wait(tok);
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
    summary.elapsed = std::chrono::duration_cast<milliseconds>(clock_type::now() - t0);
    error_code ec;
    if (claims)
    {
        summary.taken_over = st.taken_over;
        // The batch's end state, whoever did the work: the other workers' tracks count too.
        diagnostics cdiag;
        auto [cec, counts] = co_await claims->async_counts(cdiag, shielded());
        if (!cec)
        {
            summary.total = counts.total;
            summary.failed = counts[track_state::failed];
            summary.outcome_unknown = counts[track_state::outcome_unknown];
            const auto done_all = counts[track_state::done];
            summary.done_by_other_workers = done_all - std::min(done_all, st.done_before + st.done_now);
            summary.unfinished = counts.total - std::min(counts.total, done_all + summary.failed + summary.outcome_unknown);
        }
        else if (!st.fatal)
        {
            st.fatal = cec;
            st.fatal_diag = cdiag;
        }
        if (st.fatal)
        {
            ec = st.fatal;
            diag = st.fatal_diag;
        }
    }
    else
    {
        auto step9 = [&] { st.jnl = journal{}; return error_code{}; };
        co_await st.blocking(std::move(step9));
        summary.unfinished = st.queue.size() - st.finished_from_queue;
    }
    if (st.out_of_credits)
    {
        // Every track not finished now was left pending (or put back) for lack of credits.
        summary.stopped_for_credits = true;
        summary.not_started_no_credits = summary.unfinished;
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
    auto [ec, summary] = co_await async_run(std::move(tracks), std::move(on_event), tok);
    throw_on_error(ec, diag_);
    co_return summary;
}

std::filesystem::path batch_runner::journal_path() const
{
    return opts_.journal_path.empty() ? opts_.output_dir / "kiemidi-journal.sqlite" : opts_.journal_path;
}

void batch_runner::start_run(std::vector<track_spec> tracks, std::function<void(const batch_event&)> on_event,
                             asio::any_completion_handler<void(error_code, batch_summary)> handler)
{
    auto strand = asio::make_strand(client_.get_executor());
    detail::spawn_with_handler<batch_summary>(
        strand,
        run_batch(client_, opts_, claims_, journal_path(), pool_->get_executor(), strand, std::move(tracks), std::move(on_event), diag_),
        std::move(handler));
}

}  // namespace kiemidi
