// The separation → MIDI pipeline and the waits it is made of.
//
// A callback is only a hint that arrives early: a wait takes its result from whichever source
// delivers first (the hub's callback or a record-info poll), exactly once. In the hybrid strategy
// the poller exists only once the callback is overdue; from then on the two sources race inside
// one `||` and the loser is cancelled.
//
// One file, past the usual size, on purpose: the waits and the pipeline's steps share one
// operation state and one cancellation model, and every Asio composition of the client's
// pipeline is instantiated here rather than in several translation units (compile time).
#include <kiemidi/callback_reference.hpp>
#include <kiemidi/client.hpp>

#include "../async_bridge.hpp"
#include "finished_separation.hpp"
#include "operations.hpp"
#include "kie_health_gate.hpp"
#include "paid_submission.hpp"
#include "../nothrow_awaitable.hpp"

#include "../metrics/stage_span.hpp"

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/cancellation_state.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/strand.hpp>

#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <memory>
#include <random>

namespace kiemidi {

namespace asio = boost::asio;
using namespace asio::experimental::awaitable_operators;
using std::chrono::milliseconds;

namespace {


template <class R>
using result_t = std::tuple<error_code, R>;

milliseconds jittered(milliseconds d)
{
    // Spread polls of many pipelines so they do not arrive at KIE in lockstep: ±20 %.
    thread_local std::minstd_rand rng{std::random_device{}()};
    std::uniform_real_distribution<double> f(0.8, 1.2);
    return milliseconds(static_cast<milliseconds::rep>(static_cast<double>(d.count()) * f(rng)));
}

/// Errors after which polling again cannot help.
bool is_permanent(const error_code& ec)
{
    return ec == api_errc::unauthorized || ec == api_errc::unknown_task || ec == api_errc::not_found ||
           ec == api_errc::feature_disabled || ec == client_errc::missing_field ||
           ec == client_errc::invalid_field || ec == client_errc::shut_down || ec == asio::error::operation_aborted;
}

/// A failure callback's error: KIE's code when it is a documented one, else task_failed; KIE's
/// code and message go to diagnostics.
template <class Callback>
error_code callback_failure(const Callback& cb, diagnostics& diag)
{
    diag.set_kie_code(cb.code);
    diag.set_server_message(cb.msg);
    auto e = to_api_errc(cb.code);
    return e == api_errc::unknown_code ? error_code(api_errc::task_failed) : error_code(e);
}

bool has_any_url(const api::stem_urls& u)
{
    for (const auto* url : {&u.origin, &u.instrumental, &u.vocal, &u.backing_vocals, &u.drums, &u.bass, &u.guitar,
                            &u.piano, &u.keyboard, &u.percussion, &u.strings, &u.synth, &u.fx, &u.brass, &u.woodwinds})
        if (*url) return true;
    return false;
}

// ---- per-task-kind knowledge ----------------------------------------------------------------

struct separation_kind
{
    using record = api::separation_record;
    static constexpr callback_kind kind = callback_kind::separation;
    static constexpr const char* stage = "separation";

    static auto get(client& c, const std::string& id, diagnostics& diag)
    {
        return detail::get_separation(c, id, diag);
    }
    static bool finished(const record& r) { return api::is_final(r.state); }
    static bool unknown(const record& r) { return r.state == api::separation_state::unknown; }
    static error_code outcome(const record& r, diagnostics& diag)
    {
        if (r.state == api::separation_state::success) return {};
        // CALLBACK_EXCEPTION means KIE failed to call us back, not that separation failed:
        // the stems exist when `response` carries any of them.
        if (r.state == api::separation_state::callback_exception && (has_any_url(r.urls) || !r.origin_data.empty()))
            return {};
        diag.set_server_message(r.error_message.value_or("separation ended in state " + r.raw_state));
        return api_errc::task_failed;
    }
    static error_code from_callback(const std::string& body, record& out, diagnostics& diag)
    {
        api::separation_callback cb;
        if (auto ec = api::parse_separation_callback(body, cb, diag)) return ec;
        out.task_id = cb.task_id;
        if (cb.code != 200)
        {
            out.state = api::separation_state::generate_audio_failed;
            return callback_failure(cb, diag);
        }
        out.state = api::separation_state::success;
        out.raw_state = "SUCCESS";
        if (cb.urls) out.urls = *cb.urls;
        return {};
    }
};

struct midi_kind
{
    using record = api::midi_record;
    static constexpr callback_kind kind = callback_kind::midi;
    static constexpr const char* stage = "midi";

    static auto get(client& c, const std::string& id, diagnostics& diag)
    {
        return detail::get_midi(c, id, diag);
    }
    // An unknown successFlag is not final: polls go on until KIE says something known.
    static bool finished(const record& r) { return api::is_final(r.state); }
    static bool unknown(const record& r) { return r.state == api::midi_state::unknown; }
    static error_code outcome(const record& r, diagnostics& diag)
    {
        if (r.state == api::midi_state::success) return {};
        diag.set_server_message(r.error_message.value_or(r.state == api::midi_state::create_task_failed
                                                              ? "MIDI task could not be created"
                                                              : "MIDI generation failed"));
        return api_errc::task_failed;
    }
    static error_code from_callback(const std::string& body, record& out, diagnostics& diag)
    {
        api::midi_callback cb;
        if (auto ec = api::parse_midi_callback(body, cb, diag)) return ec;
        out.task_id = cb.task_id;
        if (cb.code != 200)
        {
            out.state = api::midi_state::generation_failed;
            return callback_failure(cb, diag);
        }
        out.state = api::midi_state::success;
        if (cb.midi) out.midi = std::move(*cb.midi);
        return {};
    }
};

// ---- waiting ----------------------------------------------------------------------------------
//
// Memory matters here: thousands of pipelines sit in these coroutines for tens of seconds, and a
// g++ coroutine frame keeps a slot for every local and every temporary of a co_await expression.
// So the waits report through `record& out` and return only an error_code, rare paths (confirm,
// fall back to polling, the hybrid race after the callback is overdue) live in their own
// coroutines whose frames exist only when taken, and timeouts are timers that cancel the waiting
// coroutine instead of `||` races (each `||` spawns two coroutines and a parallel group).

struct wait_counters
{
    unsigned polls = 0;
    unsigned callbacks = 0;
    std::string unknown_flag;  // the first successFlag kiemidi did not know, kept for a timeout's diagnostic
};

/// A record whose successFlag kiemidi does not know is treated as still pending. The flag is
/// noted once (in the counters, named by a timeout) and in diag while the wait goes on.
template <class Kind>
void note_unknown_state(const typename Kind::record& r, diagnostics& diag, wait_counters& counters)
{
    if (!Kind::unknown(r)) return;
    if (counters.unknown_flag.empty())
        counters.unknown_flag = std::string(Kind::stage) + " record kept successFlag \"" + r.raw_state + "\"";
    diag.set_client_message(std::string(Kind::stage) + " record has successFlag \"" + r.raw_state +
                            "\", which kiemidi does not know; treated as pending");
}

/// Polls record-info until the task is finished, first after `first_delay`, then backing off.
template <class Kind>
asio::awaitable<error_code> poll_until_finished(client& c, const std::string& id, const wait_options& w,
                                                milliseconds first_delay, diagnostics& diag, wait_counters& counters,
                                                typename Kind::record& out)
{
    asio::steady_timer timer(co_await asio::this_coro::executor);
    milliseconds delay = first_delay;
    for (;;)
    {
        timer.expires_after(jittered(delay));
        auto [tec] = co_await timer.async_wait(use_nothrow_awaitable);
        if (tec) co_return tec;
        ++counters.polls;
        auto [ec, rec] = co_await Kind::get(c, id, diag);
        if (ec && is_permanent(ec)) co_return ec;
        if (!ec) note_unknown_state<Kind>(rec, diag, counters);
        if (!ec && Kind::finished(rec))
        {
            auto oec = Kind::outcome(rec, diag);
            out = std::move(rec);
            co_return oec;
        }
        // Pending, or a transient failure the transport already retried: keep polling until
        // the stage timeout decides otherwise.
        delay = std::min(milliseconds(delay.count() * 3 / 2), std::max(w.max_poll_interval, milliseconds(1)));
    }
}

/// Confirms a callback with record-info (wait_options::confirm_callbacks): the signature covers
/// the task id, not the body; KIE's own record is the truth.
template <class Kind>
asio::awaitable<error_code> confirm_callback(client& c, const std::string& id, const wait_options& w, diagnostics& diag,
                                             wait_counters& counters, typename Kind::record& out)
{
    ++counters.polls;
    auto [gec, confirmed] = co_await Kind::get(c, id, diag);
    if (!gec && Kind::finished(confirmed))
    {
        auto oec = Kind::outcome(confirmed, diag);
        out = std::move(confirmed);
        co_return oec;
    }
    out = {};
    if (gec && is_permanent(gec)) co_return gec;
    co_return co_await poll_until_finished<Kind>(c, id, w, w.poll_interval, diag, counters, out);
}

/// Takes a callback the hub delivered: parses it into `out`, confirms it when asked.
template <class Kind>
asio::awaitable<error_code> take_callback(client& c, const std::string& id, const wait_options& w, diagnostics& diag,
                                          wait_counters& counters, const callback_message& msg,
                                          typename Kind::record& out)
{
    ++counters.callbacks;
    auto pec = Kind::from_callback(msg.body, out, diag);
    c.metrics().callbacks[static_cast<std::size_t>(Kind::kind)].inc();
    if (auto* obs = c.observer())
        obs->callback_received(metrics::callback_event{.kind = Kind::stage, .task_id = id,
                                                       .code = pec ? diag.kie_code().value_or(0) : 200});
    if (pec || !w.confirm_callbacks) co_return pec;
    co_return co_await confirm_callback<Kind>(c, id, w, diag, counters, out);
}

/// Waits for the task's callback (of this kind only: a MIDI task may carry its separation's id).
/// If the hub fails (closed), falls back to polling.
template <class Kind>
asio::awaitable<error_code> wait_for_callback(client& c, callback_hub& hub, const std::string& id,
                                              const wait_options& w, diagnostics& diag, wait_counters& counters,
                                              typename Kind::record& out)
{
    const callback_kind kind = Kind::kind;
    auto [ec, msg] = co_await hub.async_wait(kind, id, use_nothrow_awaitable);
    if (ec == asio::error::operation_aborted) co_return ec;
    if (ec) co_return co_await poll_until_finished<Kind>(c, id, w, w.poll_interval, diag, counters, out);
    co_return co_await take_callback<Kind>(c, id, w, diag, counters, msg, out);
}

/// A timer that emits terminal cancellation on a signal when it expires, unless disarmed first.
/// Shared with the timer's handler, which may run after the awaiting coroutine has moved on.
struct cancel_timer
{
    explicit cancel_timer(const asio::any_io_executor& ex) : timer(ex) {}
    asio::steady_timer timer;
    asio::cancellation_signal signal;
    bool fired = false;
    bool disarmed = false;

    static void arm(const std::shared_ptr<cancel_timer>& self, milliseconds limit)
    {
        self->timer.expires_after(limit);
        self->timer.async_wait([self](error_code ec) {
            if (ec || self->disarmed) return;
            self->fired = true;
            self->signal.emit(asio::cancellation_type::terminal);
        });
    }
    void disarm()
    {
        disarmed = true;
        timer.cancel();
    }
};

/// hub.async_wait(kind, id) for at most `limit` (the hybrid strategy's first phase). The caller's own
/// cancellation still reaches the wait. `overdue` tells whether the limit ended it; the hub then
/// keeps a callback that arrives later until the next wait for the task.
asio::awaitable<std::tuple<error_code, callback_message>> wait_callback_until(callback_hub& hub, callback_kind kind,
                                                                              const std::string& id, milliseconds limit,
                                                                              bool& overdue)
{
    auto t = std::make_shared<cancel_timer>(co_await asio::this_coro::executor);
    cancel_timer::arm(t, limit);
    asio::cancellation_state cs = co_await asio::this_coro::cancellation_state;
    auto outer = cs.slot();
    if (outer.is_connected()) outer.assign([t](asio::cancellation_type type) { t->signal.emit(type); });
    auto r = co_await hub.async_wait(kind, id, asio::bind_cancellation_slot(t->signal.slot(), use_nothrow_awaitable));
    if (outer.is_connected()) outer.clear();
    overdue = t->fired && std::get<0>(r) == asio::error::operation_aborted;
    t->disarm();
    co_return r;
}

/// Hybrid, once the callback is overdue: whichever source delivers first wins; the other is
/// cancelled, so the result is delivered exactly once. The poller has its own diagnostics.
template <class Kind>
asio::awaitable<error_code> race_callback_and_polls(client& c, callback_hub& hub, const std::string& id,
                                                    const wait_options& w, diagnostics& diag, wait_counters& counters,
                                                    typename Kind::record& out)
{
    diagnostics poll_diag;
    typename Kind::record polled;
    auto r = co_await (wait_for_callback<Kind>(c, hub, id, w, diag, counters, out) ||
                       poll_until_finished<Kind>(c, id, w, milliseconds(0), poll_diag, counters, polled));
    if (r.index() == 0) co_return std::get<0>(r);
    diag = std::move(poll_diag);
    out = std::move(polled);
    co_return std::get<1>(r);
}

/// Hybrid: the callback alone until it is overdue (no poller exists before), then the race.
template <class Kind>
asio::awaitable<error_code> wait_hybrid(client& c, callback_hub& hub, const std::string& id, const wait_options& w,
                                        diagnostics& diag, wait_counters& counters, typename Kind::record& out)
{
    bool overdue = false;
    auto [ec, msg] = co_await wait_callback_until(hub, Kind::kind, id, w.callback_overdue, overdue);
    if (overdue) co_return co_await race_callback_and_polls<Kind>(c, hub, id, w, diag, counters, out);
    if (ec == asio::error::operation_aborted) co_return ec;
    if (ec) co_return co_await poll_until_finished<Kind>(c, id, w, w.poll_interval, diag, counters, out);
    co_return co_await take_callback<Kind>(c, id, w, diag, counters, msg, out);
}

template <class Kind>
asio::awaitable<error_code> read_record_first(client& c, const std::string& id, diagnostics& diag,
                                              wait_counters& counters, typename Kind::record& out, bool& finished)
{
    ++counters.polls;
    auto [ec, rec] = co_await Kind::get(c, id, diag);
    if (!ec && Kind::finished(rec))
    {
        finished = true;
        auto oec = Kind::outcome(rec, diag);
        out = std::move(rec);
        co_return oec;
    }
    finished = ec && is_permanent(ec);
    co_return ec;
}

template <class Kind>
asio::awaitable<error_code> wait_task(client& c, const std::string& id, const wait_options& w, diagnostics& diag,
                                      wait_counters& counters, typename Kind::record& out)
{
    if (w.read_record_first)
    {
        bool finished = false;
        auto ec = co_await read_record_first<Kind>(c, id, diag, counters, out, finished);
        if (finished) co_return ec;
    }
    callback_hub* hub = c.hub();
    if (!hub || w.strategy == wait_strategy::polling)
        co_return co_await poll_until_finished<Kind>(c, id, w, w.poll_interval, diag, counters, out);
    if (w.strategy == wait_strategy::callback)
        co_return co_await wait_for_callback<Kind>(c, *hub, id, w, diag, counters, out);
    co_return co_await wait_hybrid<Kind>(c, *hub, id, w, diag, counters, out);
}

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
    handler_type handler;
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

    void start()
    {
        auto slot = asio::get_associated_cancellation_slot(handler);
        if (slot.is_connected())
        {
            // The caller emits on its own executor; the pipeline's signal belongs to the strand.
            slot.assign([w = weak_from_this()](asio::cancellation_type type) {
                if (auto self = w.lock())
                    asio::dispatch(self->ex, [self, type] {
                        if (!self->finished) self->cancel.emit(type);
                    });
            });
        }
        auto self = shared_from_this();
        asio::co_spawn(ex, run(*this),
                       asio::bind_cancellation_slot(cancel.slot(), [self](std::exception_ptr e, error_code ec) {
                           self->complete(e, ec);
                       }));
    }

    // On the strand, after the coroutine ended.
    void complete(std::exception_ptr e, error_code ec)
    {
        finished = true;
        timer.cancel();
        out.polls = counters.polls;
        out.callbacks = counters.callbacks;
        midi_result result;
        if (fired == limit::deadline)
        {
            diag.set_stage(stage);
            diag.set_client_message("pipeline exceeded its deadline of " + std::to_string(p.deadline.count()) + " ms" +
                                    detail::while_kie_is_down(c));
            ec = client_errc::timeout;
        }
        else if (fired == limit::stage)
        {
            diag.set_stage(stage);
            std::string why = std::string(stage) + " wait exceeded " + std::to_string(p.stage_timeout.count()) + " ms";
            if (!counters.unknown_flag.empty())
                why += " (KIE's " + counters.unknown_flag + ", which kiemidi does not know)";
            diag.set_client_message(std::move(why));
            ec = client_errc::timeout;
            result = std::move(out);
        }
        else if (e)
        {
            diag.set_stage(stage);
            ec = detail::exception_code(e);
        }
        else
        {
            if (ec) diag.set_stage(stage);
            result = std::move(out);
        }
        span.finish(ec, out.midi_task_id.empty() ? result.midi_task_id : out.midi_task_id);
        // The caller's cancellation slot is not thread-safe: clear it on the handler's executor.
        auto hex = asio::get_associated_executor(handler, c.get_executor());
        asio::dispatch(hex, [h = std::move(handler), ec, r = std::move(result)]() mutable {
            auto slot = asio::get_associated_cancellation_slot(h);
            if (slot.is_connected()) slot.clear();
            std::move(h)(ec, std::move(r));
        });
    }

    static asio::awaitable<error_code> run(pipeline_op& op);
    static asio::awaitable<error_code> separation_step(pipeline_op& op);
    static asio::awaitable<error_code> finished_separation(pipeline_op& op);
    static asio::awaitable<error_code> choose_stem(pipeline_op& op);
    static asio::awaitable<error_code> midi_step(pipeline_op& op);
};

// Steps are separate coroutines so each one's locals (request, answer, record) exist only
// while that step runs; the op itself holds what must survive between steps.

asio::awaitable<error_code> pipeline_op::separation_step(pipeline_op& op)
{
    std::string task_id;
    {
        // The request is built inside the POST function, so it lives only in the exchange.
        const detail::paid_post post = [&op](std::string callback_url, detail::admission_step admitted) {
            api::separation_request req{.task_id = op.p.task_id,
                                        .audio_id = op.p.audio_id,
                                        .type = op.p.separation,
                                        .callback_url = std::move(callback_url)};
            return detail::submit_separation(op.c, req, op.diag, std::move(admitted));
        };
        detail::paid_step step;
        auto ec = co_await detail::submit_paid(op.c, callback_kind::separation, post, nullptr, op.p.unknown_outcome_wait,
                                               op.diag, step, op.span.id(), op.p.fail_fast_when_kie_unavailable);
        if (ec) co_return ec;
        if (step.recovered) ++op.out.recovered;
        task_id = std::move(step.task_id);
    }
    op.out.separation_task_id = task_id;
    api::separation_record sep;
    detail::stage_span span(op.c, metrics::stage::wait, callback_kind::separation, op.span.id(), task_id);
    op.arm(true);
    auto ec = co_await wait_task<separation_kind>(op.c, task_id, op.p.wait, op.diag, op.counters, sep);
    op.arm(false);
    span.finish(op.fired != limit::none ? error_code(client_errc::timeout) : ec, task_id);
    if (ec) co_return ec;
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
    const bool by_id = !op.p.stem_audio_id.empty();
    const api::stem* chosen = nullptr;
    if (by_id)
    {
        for (const auto& s : op.out.stem_list)
            if (s.id == op.p.stem_audio_id) chosen = &s;
    }
    else
        chosen = api::find_stem(op.out.stem_list, op.p.stem);
    // A record without originData (an older KIE) cannot contradict an id: KIE itself judges it.
    if (!chosen && !(by_id && op.out.stem_list.empty()))
    {
        op.stage = "midi";
        std::string has = api::stem_names(op.out.stem_list);
        if (by_id)
        {
            has.clear();
            for (const auto& s : op.out.stem_list)
                has += (has.empty() ? "" : ", ") + s.id + " (" + s.stem_type_group_name + ")";
        }
        op.diag.set_client_message("separation " + op.out.separation_task_id + " has no stem " +
                                   (by_id ? "with audio id \"" + op.p.stem_audio_id : "named \"" + op.p.stem) +
                                   "\"; it has: " + has);
        co_return client_errc::unknown_stem;
    }
    op.out.transcribed_stem_id = chosen ? chosen->id : op.p.stem_audio_id;
    op.one_stem = true;
    co_return error_code{};
}

asio::awaitable<error_code> pipeline_op::midi_step(pipeline_op& op)
{
    std::string task_id;
    {
        const detail::paid_post post = [&op](std::string callback_url, detail::admission_step admitted) {
            api::midi_request req{.task_id = op.out.separation_task_id,
                                  .callback_url = std::move(callback_url),
                                  .audio_id = std::nullopt};
            if (op.one_stem) req.audio_id = op.out.transcribed_stem_id;
            return detail::submit_midi(op.c, req, op.diag, std::move(admitted));
        };
        detail::paid_step step;
        auto ec = co_await detail::submit_paid(op.c, callback_kind::midi, post, nullptr, op.p.unknown_outcome_wait, op.diag,
                                               step, op.span.id(), op.p.fail_fast_when_kie_unavailable);
        if (ec) co_return ec;
        if (step.recovered) ++op.out.recovered;
        task_id = std::move(step.task_id);
    }
    op.out.midi_task_id = task_id;
    api::midi_record midi;
    detail::stage_span span(op.c, metrics::stage::wait, callback_kind::midi, op.span.id(), task_id);
    op.arm(true);
    auto ec = co_await wait_task<midi_kind>(op.c, task_id, op.p.wait, op.diag, op.counters, midi);
    op.arm(false);
    span.finish(op.fired != limit::none ? error_code(client_errc::timeout) : ec, task_id);
    if (ec) co_return ec;
    op.out.instruments = std::move(midi.midi.instruments);
    api::merge(op.out.repairs, midi.midi.repairs);
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
    detail::spawn_with_handler<api::separation_record>(
        ex_, wait_standalone<separation_kind>(*this, std::move(a.task_id), a.wait, diag), std::move(h));
}

void client::start_wait_midi(wait_args a, diagnostics& diag, handler_t<api::midi_record> h)
{
    detail::spawn_with_handler<api::midi_record>(ex_, wait_standalone<midi_kind>(*this, std::move(a.task_id), a.wait, diag),
                                                 std::move(h));
}

void client::start_generate_midi(midi_params p, diagnostics& diag, handler_t<midi_result> h)
{
    // Each pipeline runs on its own strand (see detail::spawn_with_handler for why).
    auto op = std::make_shared<pipeline_op>(*this, std::move(p), diag, asio::make_strand(ex_), std::move(h));
    op->start();
}

void client::start_find_task(find_args a, diagnostics& diag, handler_t<api::task_created> h)
{
    detail::spawn_with_handler<api::task_created>(ex_, find_lost_task(*this, a.kind, std::move(a.reference), a.within, diag),
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
    throw_on_error(ec, diag);
    co_return std::move(result);
}

}  // namespace kiemidi
