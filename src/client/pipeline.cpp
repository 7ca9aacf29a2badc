// The separation → MIDI pipeline, and the client's waits (their steps are in task_waits.hpp,
// included here alone so that every Asio composition of the pipeline is instantiated in this one
// translation unit: compile time).
#include <kiemidi/smf/beat_grid.hpp>
#include <kiemidi/callback_reference.hpp>
#include <kiemidi/client.hpp>

#include "../async_bridge.hpp"
#include "finished_separation.hpp"
#include "operations.hpp"
#include "kie_health_gate.hpp"
#include "paid_submission.hpp"
#include "pipeline_steps.hpp"
#include "tracked_spawn.hpp"
#include "task_waits.hpp"
#include "../nothrow_awaitable.hpp"

#include "stage_span.hpp"

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/cancellation_state.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>

#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <atomic>
#include <memory>
#include <random>

namespace asio = boost::asio;

namespace kiemidi {

using namespace asio::experimental::awaitable_operators;
using std::chrono::milliseconds;

namespace {

template <class R>
using result_t = std::tuple<error_code, R>;

using detail::midi_kind;
using detail::separation_kind;
using detail::wait_counters;
using detail::wait_task;


// ---- the pipeline -------------------------------------------------------------------------------

using clock_type = std::chrono::steady_clock;

clock_type::time_point saturating_add(clock_type::time_point t, milliseconds d)
{
    if (d <= milliseconds::zero()) return t;
    if (d >= std::chrono::duration_cast<milliseconds>(clock_type::time_point::max() - t)) return clock_type::time_point::max();
    return t + d;
}

asio::awaitable<result_t<api::task_created>> find_lost_task(client& c, callback_kind kind, std::string ref,
                                                           milliseconds within, diagnostics& diag)
{
    co_await asio::this_coro::reset_cancellation_state(asio::enable_total_cancellation());  // as a wait
    diag.clear();
    diag.set_stage(kind == callback_kind::separation ? "separation" : "midi");
    callback_hub* hub = c.hub();
    if (!hub || ref.empty())
    {
        diag.set_client_message("no callback hub (or no reference) to find a submission's task by");
        co_return result_t<api::task_created>{asio::error::operation_not_supported, api::task_created{}};
    }
    asio::steady_timer timer(co_await asio::this_coro::executor, within);
    auto r = co_await (hub->async_wait_reference(ref, use_nothrow_awaitable) || timer.async_wait(use_nothrow_awaitable));
    if (r.index() == 1)
    {
        auto [tec] = std::get<1>(r);
        if (tec) co_return result_t<api::task_created>{tec, api::task_created{}};
        diag.set_client_message("no callback tagged ref=" + ref + " came within " + std::to_string(within.count()) +
                                " ms; the submission may still have been processed");
        co_return result_t<api::task_created>{client_errc::outcome_unknown, api::task_created{}};
    }
    auto [ec, msg] = std::move(std::get<0>(r));
    if (ec) co_return result_t<api::task_created>{ec, api::task_created{}};
    if (msg.kind != kind || msg.task_id.empty())
    {
        diag.set_client_message("the callback tagged ref=" + ref + " is not a " +
                                (kind == callback_kind::separation ? "separation" : "MIDI") + " callback");
        co_return result_t<api::task_created>{client_errc::invalid_field, api::task_created{}};
    }
    co_return result_t<api::task_created>{error_code{}, api::task_created{msg.task_id}};
}

/// One async_generate_midi: everything the pipeline keeps between its steps, allocated once.
///
/// The pipeline coroutine runs on its own strand with `cancel` as its cancellation slot. One
/// timer bounds it: at the pipeline deadline, or during a wait at the stage timeout when that
/// comes first; when it fires it emits terminal cancellation, so the step in progress ends and
/// the completion reports which limit was exceeded.
///
/// The caller's cancellation (any type) becomes terminal cancellation of the step in progress,
/// except that partial and total cancellation do not cut a paid POST once it is admitted (about
/// to be written, or written): its answer is awaited so that the task it paid for is known, and
/// the pipeline stops right after. A POST cut after admission (terminal cancellation, the
/// deadline, the client closed) ends the pipeline as client_errc::outcome_unknown with the POST's
/// callback reference in the result and diagnostics, never as a plain abort that loses the task.
struct pipeline_op : std::enable_shared_from_this<pipeline_op>
{
    using handler_type = asio::any_completion_handler<void(error_code, midi_result)>;
    enum class limit { none, deadline, stage };

    // The handler is moved in by construction: Boost 1.81's any_completion_handler move
    // assignment wraps the handler in itself instead of moving it.
    pipeline_op(client& cl, midi_params params, diagnostics& d, asio::any_io_executor strand, handler_type h)
        : c(cl), p(std::move(params)), diag(d), ex(std::move(strand)), timer(ex), handler(std::move(h)), span(cl)
    {
    }

    client& c;
    midi_params p;
    diagnostics& diag;
    asio::any_io_executor ex;  // the pipeline's strand
    midi_result out;
    wait_counters counters;
    const char* stage = "separation";  // the step in progress, named in diagnostics
    bool one_stem = false;             // transcribe out.transcribed_stem_id only
    bool record_read = false;          // the separation's record was read (out.stem_list is KIE's whole list)
    asio::steady_timer timer;
    asio::cancellation_signal cancel;
    clock_type::time_point deadline_at{};
    limit armed = limit::none;
    limit fired = limit::none;
    bool finished = false;
    // The paid POST of the step in progress (strand only, but for post_admitted).
    detail::paid_step step;               // its callback reference survives a cut
    callback_kind post_kind = callback_kind::separation;
    bool post_open = false;               // started, and its task is neither known nor refused by KIE
    bool post_in_flight = false;          // the exchange itself has not ended
    std::atomic<bool> post_admitted{false};  // set on the transport's strand, just before the first write
    bool stop_deferred = false;           // partial/total cancellation waiting for the POST's answer
    bool shut_down = false;               // client::async_shutdown stopped it
    handler_type handler;
    detail::client_life::ticket ticket;   // counted in the client's pending operations until destroyed
    detail::stage_span span;  // the whole pipeline, in the client's metrics

    // Sets the timer to the deadline, or to the stage timeout when it comes first. Strand only.
    void arm(bool in_wait)
    {
        auto at = deadline_at;
        limit which = limit::deadline;
        if (in_wait)
        {
            const auto stage_at = saturating_add(clock_type::now(), p.stage_timeout);
            if (stage_at < at)
            {
                at = stage_at;
                which = limit::stage;
            }
        }
        if (armed == which && which == limit::deadline) return;  // already waiting for the deadline
        armed = which;
        timer.expires_at(at);  // cancels the previous wait, whose handler then does nothing
        if (at == clock_type::time_point::max()) return;  // no limit: no pending timer at all
        timer.async_wait([self = shared_from_this(), which](error_code ec) {
            if (ec || self->finished || self->armed != which || self->fired != limit::none) return;
            self->fired = which;
            self->cancel.emit(asio::cancellation_type::terminal);
        });
    }

    // The caller's cancellation, on the strand. Partial and total are held while an admitted POST
    // is in flight (its answer says which task was paid for); everything else stops the step in
    // progress at once. The coroutine sees terminal cancellation only: its steps all honour it.
    void on_cancel(asio::cancellation_type type)
    {
        if (finished) return;
        const bool terminal = (type & asio::cancellation_type::terminal) != asio::cancellation_type::none;
        if (!terminal && post_in_flight && post_admitted.load())
        {
            stop_deferred = true;
            return;
        }
        cancel.emit(asio::cancellation_type::terminal);
    }

    // client::async_shutdown, on the strand: stops whatever step is in progress, a POST in flight too.
    void on_shutdown()
    {
        if (finished) return;
        shut_down = true;
        cancel.emit(asio::cancellation_type::terminal);
    }

    // Once the POST's exchange has ended: a deferred stop stops what follows (a lost answer's
    // recovery wait) when the coroutine next waits; a step that got its task id stops before.
    void post_answered()
    {
        post_in_flight = false;
        if (stop_deferred)
            asio::post(ex, [self = shared_from_this()] {
                if (!self->finished) self->cancel.emit(asio::cancellation_type::terminal);
            });
    }

    // The POST function of a paid step: `exchange` is submit_separation / submit_midi, started
    // with `admitted` wrapped so that the op learns when the POST is admitted.
    detail::admission_step admission(detail::admission_step inner)
    {
        return [this, inner = std::move(inner)]() -> asio::awaitable<error_code> {
            if (inner)
                if (auto ec = co_await inner()) co_return ec;
            post_admitted.store(true);
            co_return error_code{};
        };
    }
    static asio::awaitable<std::tuple<error_code, api::task_created>> in_flight(
        pipeline_op& op, detail::op_result<api::task_created> exchange)
    {
        op.post_in_flight = true;
        auto r = co_await std::move(exchange);
        // KIE refused it unprocessed (or it never reached KIE): nothing was paid, and the step waits
        // for KIE before sending it again, so a stop meanwhile is no unknown outcome.
        if (detail::unsent_because_kie_was_down(std::get<0>(r))) op.post_admitted.store(false);
        op.post_answered();
        co_return r;
    }

    // Before a paid step's POST.
    void open_post(callback_kind kind)
    {
        post_kind = kind;
        post_open = true;
        post_admitted.store(false);
        stop_deferred = false;
    }
    // After submit_paid returned `ec`: the reference is kept once the POST may have been sent; the
    // POST stays open (its task unknown) only when no task id came and KIE did not refuse it.
    void close_post(const error_code& ec)
    {
        keep_reference();
        if (!ec || !detail::outcome_may_be_paid(ec)) post_open = false;
    }
    void keep_reference()
    {
        if (!post_admitted.load()) return;
        (post_kind == callback_kind::separation ? out.separation_reference : out.midi_reference) = step.reference;
    }

    void start()
    {
        auto slot = asio::get_associated_cancellation_slot(handler);
        if (slot.is_connected())
        {
            // The caller emits on its own executor; the pipeline's signal belongs to the strand.
            slot.assign([w = weak_from_this()](asio::cancellation_type type) {
                if (auto self = w.lock()) asio::dispatch(self->ex, [self, type] { self->on_cancel(type); });
            });
        }
        auto self = shared_from_this();
        asio::co_spawn(ex, run(*this),
                       asio::bind_cancellation_slot(cancel.slot(), [self](std::exception_ptr e, error_code ec) {
                           self->complete(e, ec);
                       }));
    }

    // On the strand, after the coroutine ended. Whatever the error, the result is everything
    // learned so far (one contract), and diag names the task and, for a POST whose outcome is
    // unknown, its callback reference.
    void complete(std::exception_ptr e, error_code ec)
    {
        finished = true;
        timer.cancel();
        out.polls = counters.polls;
        out.callbacks = counters.callbacks;
        if (e) ec = detail::exception_code(e);
        if (shut_down && ec == asio::error::operation_aborted) ec = client_errc::shut_down;
        if (ec) diag.set_stage(stage);
        if (fired == limit::deadline)
        {
            diag.set_client_message("pipeline exceeded its deadline of " + std::to_string(p.deadline.count()) + " ms" +
                                    detail::while_kie_is_down(c));
            ec = client_errc::timeout;
        }
        else if (fired == limit::stage)
        {
            diag.set_client_message(detail::stage_timeout_message(stage, p.stage_timeout, counters.unknown_flag));
            ec = client_errc::timeout;
        }
        if (ec && post_open && post_admitted.load() &&
            (ec == client_errc::timeout || ec == client_errc::outcome_unknown || detail::outcome_may_be_paid(ec)))
            ec = unknown_post_outcome(ec);
        if (ec) diag.set_task_id(out.midi_task_id.empty() ? out.separation_task_id : out.midi_task_id);
        span.finish(ec, out.midi_task_id);
        midi_result result = std::move(out);
        // The caller's cancellation slot is not thread-safe: clear it on the handler's executor.
        auto hex = asio::get_associated_executor(handler, c.get_executor());
        asio::dispatch(hex, [h = std::move(handler), ec, r = std::move(result)]() mutable {
            auto slot = asio::get_associated_cancellation_slot(h);
            if (slot.is_connected()) slot.clear();
            std::move(h)(ec, std::move(r));
        });
    }

    // Partial or total cancellation came while the POST was in flight: its task is known now, and
    // the pipeline stops before anything else (no wait, no further POST).
    error_code stopped_after_post()
    {
        diag.set_client_message(std::string("cancelled while the paid ") + stage +
                                " POST was in flight: its answer was awaited, and its task is in the result");
        return asio::error::operation_aborted;
    }

    // A POST that may have been sent ended without a task id (cut by cancellation, the deadline or
    // the client's close; or its answer lost and not recovered): outcome_unknown, with its reference.
    error_code unknown_post_outcome(const error_code& ec)
    {
        keep_reference();
        diag.set_callback_reference(step.reference);
        std::string why = diag.client_message();
        if (ec != client_errc::outcome_unknown)
            why += (why.empty() ? "" : "; ") + std::string("ended (") + ec.message() + ") after the paid " + stage +
                   " POST was sent: it may have been processed and charged";
        why += step.reference.empty()
                   ? "; no callback hub is attached to find its task by: do not resend it blindly"
                   : "; client::async_find_task(" + std::string(stage) + ", ref) finds its task once its callback comes";
        diag.set_client_message(std::move(why));
        return client_errc::outcome_unknown;
    }

    static asio::awaitable<error_code> run(pipeline_op& op);
    // One paid stage: its POST (sent at most once, see submit_paid), then the wait for its task
    // under the pipeline's limits. `task_id` gets the stage's task as soon as KIE names it.
    template <class Kind>
    static asio::awaitable<error_code> paid_stage(pipeline_op& op, const detail::paid_post& post, std::string& task_id,
                                                  typename Kind::record& record);
    static asio::awaitable<error_code> separation_step(pipeline_op& op);
    static asio::awaitable<error_code> finished_separation(pipeline_op& op);
    static asio::awaitable<error_code> choose_stem(pipeline_op& op);
    static asio::awaitable<error_code> midi_step(pipeline_op& op);
};

// Steps are separate coroutines so each one's locals (request, answer, record) exist only
// while that step runs; the op itself holds what must survive between steps.

template <class Kind>
asio::awaitable<error_code> pipeline_op::paid_stage(pipeline_op& op, const detail::paid_post& post, std::string& task_id,
                                                    typename Kind::record& record)
{
    op.open_post(Kind::kind);
    const auto posted = co_await detail::submit_paid(op.c, Kind::kind, post, nullptr, op.p.unknown_outcome_wait, op.diag,
                                                     op.step, op.span.id(), op.p.fail_fast_when_kie_unavailable);
    op.close_post(posted);
    if (posted) co_return posted;
    if (op.step.recovered) ++op.out.recovered;
    task_id = std::move(op.step.task_id);
    if (op.stop_deferred) co_return op.stopped_after_post();
    detail::stage_span span(op.c, metrics::stage::wait, Kind::kind, op.span.id(), task_id);
    op.arm(true);
    auto ec = co_await wait_task<Kind>(op.c, task_id, op.p.wait, op.diag, op.counters, record);
    op.arm(false);
    span.finish(op.fired != limit::none ? error_code(client_errc::timeout) : ec, task_id);
    co_return ec;
}

asio::awaitable<error_code> pipeline_op::separation_step(pipeline_op& op)
{
    // The request is built inside the POST function, so it lives only in the exchange.
    const detail::paid_post post = [&op](std::string callback_url, detail::admission_step admitted) {
        const auto req = detail::separation_request_for(op.p.task_id, op.p.audio_id, op.p.separation, std::move(callback_url));
        return in_flight(op, detail::submit_separation(op.c, req, op.diag, op.admission(std::move(admitted))));
    };
    api::separation_record sep;
    if (auto ec = co_await paid_stage<separation_kind>(op, post, op.out.separation_task_id, sep)) co_return ec;
    op.out.stems = std::move(sep.urls);
    op.out.stem_list = std::move(sep.origin_data);
    op.out.repairs = std::move(sep.repairs);
    co_return error_code{};
}

// A separation finished earlier (midi_params::separation_task_id): its record, read once, must
// say it is finished before anything is paid for; its stems are the result's.
asio::awaitable<error_code> pipeline_op::finished_separation(pipeline_op& op)
{
    op.out.separation_task_id = op.p.separation_task_id;
    ++op.counters.polls;
    api::separation_record rec;
    if (auto ec = co_await detail::read_finished_separation(op.c, op.p.separation_task_id, op.diag, rec)) co_return ec;
    op.record_read = true;
    op.out.stem_list = std::move(rec.origin_data);
    op.out.stems = std::move(rec.urls);
    op.out.repairs = std::move(rec.repairs);
    co_return error_code{};
}

// MIDI from one stem: the callback has no per-stem ids, so that may need one record-info read.
asio::awaitable<error_code> pipeline_op::choose_stem(pipeline_op& op)
{
    if (!op.record_read)
    {
        ++op.counters.polls;
        auto [ec, rec] = co_await detail::get_separation(op.c, op.out.separation_task_id, op.diag);
        if (ec) co_return ec;
        op.record_read = true;
        op.out.stem_list = std::move(rec.origin_data);
        op.out.stems = std::move(rec.urls);
        op.out.repairs = std::move(rec.repairs);  // the same separation, read again: replaces, not adds
    }
    detail::chosen_stem chosen;
    if (auto ec = detail::choose_stem(op.out.stem_list, {op.p.stem, op.p.stem_audio_id}, op.out.separation_task_id, op.diag, chosen))
    {
        op.stage = "midi";
        co_return ec;
    }
    op.out.transcribed_stem_id = std::move(chosen.audio_id);
    op.one_stem = true;
    co_return error_code{};
}

asio::awaitable<error_code> pipeline_op::midi_step(pipeline_op& op)
{
    const detail::paid_post post = [&op](std::string callback_url, detail::admission_step admitted) {
        const auto req = detail::midi_request_for(
            op.out.separation_task_id, op.one_stem ? std::optional(op.out.transcribed_stem_id) : std::nullopt,
            std::move(callback_url));
        return in_flight(op, detail::submit_midi(op.c, req, op.diag, op.admission(std::move(admitted))));
    };
    api::midi_record midi;
    if (auto ec = co_await paid_stage<midi_kind>(op, post, op.out.midi_task_id, midi)) co_return ec;
    op.out.instruments = std::move(midi.midi.instruments);
    api::merge(op.out.repairs, midi.midi.repairs);
    // A few ms of CPU for a long song, on this thread: only when the caller wants the grid.
    if (op.p.tempo) op.out.grid = smf::estimate_beat_grid(op.out.instruments, *op.p.tempo);
    op.out.no_notes = op.out.note_count() == 0;
    op.out.warning = api::result_warning(op.out.repairs, op.out.note_count());
    co_return error_code{};
}

asio::awaitable<error_code> pipeline_op::run(pipeline_op& op)
{
    const auto t0 = clock_type::now();
    op.deadline_at = saturating_add(t0, op.p.deadline);
    op.arm(false);

    // 1. Separation (paid), 2. wait for it; or a separation finished earlier, read once.
    op.stage = "separation";
    if (!op.p.separation_task_id.empty())
    {
        if (auto ec = co_await finished_separation(op)) co_return ec;
    }
    else
    {
        if (auto ec = co_await separation_step(op)) co_return ec;
        op.out.separation_time = std::chrono::duration_cast<milliseconds>(clock_type::now() - t0);
    }

    // 3. MIDI generation (paid), from one stem when asked; 4. wait for the notes.
    if (!op.p.stem.empty() || !op.p.stem_audio_id.empty())
    {
        if (auto ec = co_await choose_stem(op)) co_return ec;
    }
    op.stage = "midi";
    const auto t1 = clock_type::now();
    if (auto ec = co_await midi_step(op)) co_return ec;
    op.out.midi_time = std::chrono::duration_cast<milliseconds>(clock_type::now() - t1);
    op.out.total_time = std::chrono::duration_cast<milliseconds>(clock_type::now() - t0);
    co_return error_code{};
}

}  // namespace

namespace detail {

asio::awaitable<error_code> read_finished_separation(client& c, const std::string& id, diagnostics& diag,
                                                     api::separation_record& out)
{
    auto [ec, rec] = co_await detail::get_separation(c, id, diag);
    if (ec) co_return ec;
    if (!separation_kind::finished(rec))
    {
        diag.set_client_message("separation " + id + " has not finished (successFlag " +
                                (rec.raw_state.empty() ? std::string("PENDING") : rec.raw_state) +
                                "); nothing was paid, try again once it has");
        co_return api_errc::task_not_finished;
    }
    if (auto oec = separation_kind::outcome(rec, diag)) co_return oec;
    out = std::move(rec);
    co_return error_code{};
}

}  // namespace detail

namespace {
template <class Kind>
asio::awaitable<result_t<typename Kind::record>> wait_standalone(client& c, std::string id, wait_options w, diagnostics& diag)
{
    // Every type of cancellation stops a wait: it has no side effect to undo.
    co_await asio::this_coro::reset_cancellation_state(asio::enable_total_cancellation());
    diag.clear();
    wait_counters counters;
    typename Kind::record rec;
    detail::stage_span span(c, metrics::stage::wait, Kind::kind, 0, id);
    auto ec = co_await wait_task<Kind>(c, id, w, diag, counters, rec);
    span.finish(ec, id);
    if (ec) diag.set_stage(Kind::stage);
    co_return result_t<typename Kind::record>{ec, std::move(rec)};
}
}  // namespace

void client::start_wait_separation(wait_args a, diagnostics& diag, handler_t<api::separation_record> h)
{
    detail::spawn_tracked<api::separation_record>(
        *life_, ex_, wait_standalone<separation_kind>(*this, std::move(a.task_id), a.wait, diag), std::move(h));
}

void client::start_wait_midi(wait_args a, diagnostics& diag, handler_t<api::midi_record> h)
{
    detail::spawn_tracked<api::midi_record>(*life_, ex_, wait_standalone<midi_kind>(*this, std::move(a.task_id), a.wait, diag),
                                                 std::move(h));
}

void client::start_generate_midi(midi_params p, diagnostics& diag, handler_t<midi_result> h)
{
    // Each pipeline runs on its own strand (see detail::spawn_with_handler for why).
    auto op = std::make_shared<pipeline_op>(*this, std::move(p), diag, asio::make_strand(ex_), std::move(h));
    op->ticket = life_->enter([w = std::weak_ptr<pipeline_op>(op)] {
        if (auto self = w.lock()) asio::dispatch(self->ex, [self] { self->on_shutdown(); });
    });
    if (!op->ticket)
    {
        diag.clear();
        diag.set_client_message("the client is shutting down");
        detail::refuse_after_shutdown<midi_result>(ex_, std::move(op->handler));
        return;
    }
    op->start();
}

void client::start_find_task(find_args a, diagnostics& diag, handler_t<api::task_created> h)
{
    detail::spawn_tracked<api::task_created>(*life_, ex_, find_lost_task(*this, a.kind, std::move(a.reference), a.within, diag),
                                                  std::move(h));
}

asio::awaitable<midi_result> client::generate_midi(std::string task_id, std::string audio_id)
{
    midi_params p;
    p.task_id = std::move(task_id);
    p.audio_id = std::move(audio_id);
    co_return co_await generate_midi(std::move(p));
}

asio::awaitable<midi_result> client::generate_midi_from_separation(std::string separation_task_id,
                                                                 std::string stem_audio_id)
{
    midi_params p;
    p.separation_task_id = std::move(separation_task_id);
    p.stem_audio_id = std::move(stem_audio_id);
    co_return co_await generate_midi(std::move(p));
}

asio::awaitable<midi_result> client::generate_midi(midi_params p)
{
    diagnostics diag;
    auto [ec, result] = co_await async_generate_midi(std::move(p), diag, use_nothrow_awaitable);
    if (ec) throw pipeline_error(ec, std::move(diag), std::move(result));
    co_return std::move(result);
}

}  // namespace kiemidi
