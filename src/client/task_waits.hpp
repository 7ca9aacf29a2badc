// The waits of a KIE task (separation or MIDI) until it is finished: the callback, record-info
// polls, or both (wait_options::strategy), as the pipeline and client::async_wait_* take them.
//
// A callback is only a hint that arrives early: a wait takes its result from whichever source
// delivers first (the hub's callback or a record-info poll), exactly once. In the hybrid strategy
// the poller exists only once the callback is overdue; from then on the two sources race inside
// one `||` and the loser is cancelled. Internal, and included by src/client/pipeline.cpp alone, so
// that every Asio composition of the waits is instantiated in one translation unit.
#ifndef KIEMIDI_SRC_CLIENT_TASK_WAITS_HPP
#define KIEMIDI_SRC_CLIENT_TASK_WAITS_HPP

#include <kiemidi/callback_hub.hpp>
#include <kiemidi/client.hpp>
#include <kiemidi/metrics/model.hpp>

#include "operations.hpp"
#include "../nothrow_awaitable.hpp"

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/cancellation_state.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <memory>
#include <random>
#include <string>

namespace kiemidi::detail {

using namespace boost::asio::experimental::awaitable_operators;
using std::chrono::milliseconds;

inline milliseconds jittered(milliseconds d)
{
    // Spread polls of many pipelines so they do not arrive at KIE in lockstep: ±20 %.
    thread_local std::minstd_rand rng{std::random_device{}()};
    std::uniform_real_distribution<double> f(0.8, 1.2);
    return milliseconds(static_cast<milliseconds::rep>(static_cast<double>(d.count()) * f(rng)));
}

/// Errors after which polling again cannot help.
inline bool is_permanent(const error_code& ec)
{
    return ec == api_errc::unauthorized || ec == api_errc::unknown_task || ec == api_errc::not_found ||
           ec == api_errc::feature_disabled || ec == client_errc::missing_field ||
           ec == client_errc::invalid_field || ec == client_errc::shut_down || ec == boost::asio::error::operation_aborted;
}

/// A failure callback's error: api_errc::task_failed, as when the same failure is read by polling
/// (one condition, one code, however it was learned); KIE's code and message go to diagnostics.
template <class Callback>
error_code callback_failure(const Callback& cb, diagnostics& diag)
{
    diag.set_kie_code(cb.code);
    diag.set_server_message(cb.msg);
    return api_errc::task_failed;
}

inline bool has_any_url(const api::stem_urls& u)
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
boost::asio::awaitable<error_code> poll_until_finished(client& c, const std::string& id, const wait_options& w,
                                                milliseconds first_delay, diagnostics& diag, wait_counters& counters,
                                                typename Kind::record& out)
{
    boost::asio::steady_timer timer(co_await boost::asio::this_coro::executor);
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
boost::asio::awaitable<error_code> confirm_callback(client& c, const std::string& id, const wait_options& w, diagnostics& diag,
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
boost::asio::awaitable<error_code> take_callback(client& c, const std::string& id, const wait_options& w, diagnostics& diag,
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
boost::asio::awaitable<error_code> wait_for_callback(client& c, callback_hub& hub, const std::string& id,
                                              const wait_options& w, diagnostics& diag, wait_counters& counters,
                                              typename Kind::record& out)
{
    const callback_kind kind = Kind::kind;
    auto [ec, msg] = co_await hub.async_wait(kind, id, use_nothrow_awaitable);
    if (ec == boost::asio::error::operation_aborted) co_return ec;
    if (ec) co_return co_await poll_until_finished<Kind>(c, id, w, w.poll_interval, diag, counters, out);
    co_return co_await take_callback<Kind>(c, id, w, diag, counters, msg, out);
}

/// A timer that emits terminal cancellation on a signal when it expires, unless disarmed first.
/// Shared with the timer's handler, which may run after the awaiting coroutine has moved on.
struct cancel_timer
{
    explicit cancel_timer(const boost::asio::any_io_executor& ex) : timer(ex) {}
    boost::asio::steady_timer timer;
    boost::asio::cancellation_signal signal;
    bool fired = false;
    bool disarmed = false;

    static void arm(const std::shared_ptr<cancel_timer>& self, milliseconds limit)
    {
        self->timer.expires_after(limit);
        self->timer.async_wait([self](error_code ec) {
            if (ec || self->disarmed) return;
            self->fired = true;
            self->signal.emit(boost::asio::cancellation_type::terminal);
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
inline boost::asio::awaitable<std::tuple<error_code, callback_message>> wait_callback_until(callback_hub& hub, callback_kind kind,
                                                                              const std::string& id, milliseconds limit,
                                                                              bool& overdue)
{
    auto t = std::make_shared<cancel_timer>(co_await boost::asio::this_coro::executor);
    cancel_timer::arm(t, limit);
    boost::asio::cancellation_state cs = co_await boost::asio::this_coro::cancellation_state;
    auto outer = cs.slot();
    if (outer.is_connected()) outer.assign([t](boost::asio::cancellation_type type) { t->signal.emit(type); });
    auto r = co_await hub.async_wait(kind, id, boost::asio::bind_cancellation_slot(t->signal.slot(), use_nothrow_awaitable));
    if (outer.is_connected()) outer.clear();
    overdue = t->fired && std::get<0>(r) == boost::asio::error::operation_aborted;
    t->disarm();
    co_return r;
}

/// Hybrid, once the callback is overdue: whichever source delivers first wins; the other is
/// cancelled, so the result is delivered exactly once. The poller has its own diagnostics.
template <class Kind>
boost::asio::awaitable<error_code> race_callback_and_polls(client& c, callback_hub& hub, const std::string& id,
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
boost::asio::awaitable<error_code> wait_hybrid(client& c, callback_hub& hub, const std::string& id, const wait_options& w,
                                        diagnostics& diag, wait_counters& counters, typename Kind::record& out)
{
    bool overdue = false;
    auto [ec, msg] = co_await wait_callback_until(hub, Kind::kind, id, w.callback_overdue, overdue);
    if (overdue) co_return co_await race_callback_and_polls<Kind>(c, hub, id, w, diag, counters, out);
    if (ec == boost::asio::error::operation_aborted) co_return ec;
    if (ec) co_return co_await poll_until_finished<Kind>(c, id, w, w.poll_interval, diag, counters, out);
    co_return co_await take_callback<Kind>(c, id, w, diag, counters, msg, out);
}

template <class Kind>
boost::asio::awaitable<error_code> read_record_first(client& c, const std::string& id, diagnostics& diag,
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
boost::asio::awaitable<error_code> wait_task(client& c, const std::string& id, const wait_options& w, diagnostics& diag,
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

}  // namespace kiemidi::detail

#endif
