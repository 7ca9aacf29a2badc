// The separation → MIDI pipeline and the waits it is made of.
//
// A callback is only a hint that arrives early: a wait takes its result from whichever source
// delivers first (the hub's callback or a record-info poll), exactly once, because the two
// sources race inside one `||` and the loser is cancelled.
#include <kiemidi/callback_reference.hpp>
#include <kiemidi/client.hpp>
#include <kiemidi/detail/async_bridge.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <random>

namespace kiemidi {

namespace asio = boost::asio;
using namespace asio::experimental::awaitable_operators;
using std::chrono::milliseconds;

namespace {

constexpr auto tuple_awaitable = asio::as_tuple(asio::use_awaitable);

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

// ---- per-task-kind knowledge ----------------------------------------------------------------

struct separation_kind
{
    using record = api::separation_record;
    static constexpr callback_kind kind = callback_kind::separation;
    static constexpr const char* stage = "separation";

    static auto get(client& c, const std::string& id, diagnostics& diag)
    {
        return c.async_get_separation(id, diag, tuple_awaitable);
    }
    static bool finished(const record& r) { return api::is_final(r.state); }
    static error_code outcome(const record& r, diagnostics& diag)
    {
        if (r.state == api::separation_state::success) return {};
        // CALLBACK_EXCEPTION means KIE failed to call us back, not that separation failed:
        // the stems exist when `response` carries them.
        if (r.state == api::separation_state::callback_exception && (r.urls.vocal || r.urls.instrumental || !r.origin_data.empty()))
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
        return c.async_get_midi(id, diag, tuple_awaitable);
    }
    static bool finished(const record& r) { return r.state != api::midi_state::pending; }
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

struct wait_counters
{
    unsigned polls = 0;
    unsigned callbacks = 0;
};

/// Polls record-info until the task is finished, first after `first_delay`, then backing off.
template <class Kind>
asio::awaitable<result_t<typename Kind::record>> poll_until_finished(client& c, std::string id, wait_options w,
                                                                     milliseconds first_delay, diagnostics& diag,
                                                                     wait_counters& counters)
{
    using record = typename Kind::record;
    asio::steady_timer timer(co_await asio::this_coro::executor);
    milliseconds delay = first_delay;
    error_code last_transient;
    for (;;)
    {
        timer.expires_after(jittered(delay));
        auto [tec] = co_await timer.async_wait(tuple_awaitable);
        if (tec) co_return result_t<record>{tec, record{}};
        ++counters.polls;
        auto [ec, rec] = co_await Kind::get(c, id, diag);
        if (ec && is_permanent(ec)) co_return result_t<record>{ec, record{}};
        if (!ec && Kind::finished(rec))
        {
            auto oec = Kind::outcome(rec, diag);
            co_return result_t<record>{oec, std::move(rec)};
        }
        // Pending, or a transient failure the transport already retried: keep polling until
        // the stage timeout decides otherwise.
        delay = std::min(milliseconds(delay.count() * 3 / 2), std::max(w.max_poll_interval, milliseconds(1)));
    }
}

/// Waits for the task's callback; in hybrid mode this races a poller that starts when the
/// callback is overdue. If the hub fails (closed), falls back to polling.
template <class Kind>
asio::awaitable<result_t<typename Kind::record>> wait_for_callback(client& c, callback_hub& hub, std::string id,
                                                                   wait_options w, diagnostics& diag,
                                                                   wait_counters& counters)
{
    using record = typename Kind::record;
    auto [ec, msg] = co_await hub.async_wait(id, tuple_awaitable);
    if (ec == asio::error::operation_aborted) co_return result_t<record>{ec, record{}};
    if (ec)
        co_return co_await poll_until_finished<Kind>(c, std::move(id), w, w.poll_interval, diag, counters);
    ++counters.callbacks;
    record rec;
    auto pec = Kind::from_callback(msg.body, rec, diag);
    if (pec || !w.confirm_callbacks) co_return result_t<record>{pec, std::move(rec)};
    // Confirm: the signature covers the task id, not the body; KIE's own record is the truth.
    ++counters.polls;
    auto [gec, confirmed] = co_await Kind::get(c, id, diag);
    if (!gec && Kind::finished(confirmed))
    {
        auto oec = Kind::outcome(confirmed, diag);
        co_return result_t<record>{oec, std::move(confirmed)};
    }
    if (gec && is_permanent(gec)) co_return result_t<record>{gec, record{}};
    co_return co_await poll_until_finished<Kind>(c, std::move(id), w, w.poll_interval, diag, counters);
}

template <class Kind>
asio::awaitable<result_t<typename Kind::record>> wait_task(client& c, std::string id, wait_options w,
                                                           diagnostics& diag, wait_counters& counters)
{
    using record = typename Kind::record;
    if (w.read_record_first)
    {
        ++counters.polls;
        auto [ec, rec] = co_await Kind::get(c, id, diag);
        if (!ec && Kind::finished(rec))
        {
            auto oec = Kind::outcome(rec, diag);
            co_return result_t<record>{oec, std::move(rec)};
        }
        if (ec && is_permanent(ec)) co_return result_t<record>{ec, record{}};
    }
    callback_hub* hub = c.hub();
    if (!hub || w.strategy == wait_strategy::polling)
        co_return co_await poll_until_finished<Kind>(c, std::move(id), w, w.poll_interval, diag, counters);
    if (w.strategy == wait_strategy::callback)
        co_return co_await wait_for_callback<Kind>(c, *hub, std::move(id), w, diag, counters);
    // Hybrid: whichever source delivers first wins; the other is cancelled, so the result is
    // delivered exactly once. The poller reuses the same diagnostics only after the overdue point.
    diagnostics poll_diag;
    auto r = co_await (wait_for_callback<Kind>(c, *hub, id, w, diag, counters) ||
                       poll_until_finished<Kind>(c, id, w, w.callback_overdue, poll_diag, counters));
    if (r.index() == 0) co_return std::move(std::get<0>(r));
    diag = std::move(poll_diag);
    co_return std::move(std::get<1>(r));
}

/// wait_task bounded by `timeout`; a timeout is client_errc::timeout naming the stage.
template <class Kind>
asio::awaitable<result_t<typename Kind::record>> wait_task_bounded(client& c, std::string id, wait_options w,
                                                                   milliseconds timeout, diagnostics& diag,
                                                                   wait_counters& counters)
{
    using record = typename Kind::record;
    asio::steady_timer timer(co_await asio::this_coro::executor, timeout);
    auto r = co_await (wait_task<Kind>(c, std::move(id), w, diag, counters) || timer.async_wait(tuple_awaitable));
    if (r.index() == 0) co_return std::move(std::get<0>(r));
    diag.set_client_message(std::string(Kind::stage) + " wait exceeded " + std::to_string(timeout.count()) + " ms");
    co_return result_t<record>{client_errc::timeout, record{}};
}

// ---- the pipeline -------------------------------------------------------------------------------

asio::awaitable<result_t<midi_result>> run_pipeline(client& c, midi_params p, diagnostics& diag)
{
    using clock = std::chrono::steady_clock;
    midi_result out;
    wait_counters counters;
    const auto t0 = clock::now();
    auto fail = [&](error_code ec, const char* stage) {
        diag.set_stage(stage);
        out.polls = counters.polls;
        out.callbacks = counters.callbacks;
        return result_t<midi_result>{ec, std::move(out)};
    };

    // 1. Separation (paid).
    // Requests are named locals, never braced temporaries inside co_await: g++ 12 destroys such
    // temporaries twice (a compiler bug), which corrupts their strings.
    // Each paid POST's callback URL carries a fresh reference, so a lost answer can be recovered
    // from the callback (find_lost_task) instead of being reported as unknown.
    const std::string sep_ref = c.hub() ? make_callback_reference() : std::string();
    api::separation_request sep_req{.task_id = p.task_id, .audio_id = p.audio_id, .type = p.separation,
                                    .callback_url = c.callback_url(callback_kind::separation, sep_ref)};
    auto [sec, sep_task] = co_await c.async_separate(std::move(sep_req), diag, tuple_awaitable);
    if (sec == client_errc::outcome_unknown && !sep_ref.empty() && p.unknown_outcome_wait.count() > 0)
    {
        diagnostics find_diag;
        auto [fec, found] = co_await c.async_find_task(callback_kind::separation, sep_ref, p.unknown_outcome_wait,
                                                       find_diag, tuple_awaitable);
        if (!fec)
        {
            sec = {};
            sep_task = std::move(found);
            ++out.recovered;
            diag.clear();
        }
        else if (!find_diag.client_message().empty())
            diag.set_client_message(diag.client_message() + "; " + find_diag.client_message());
    }
    if (sec) co_return fail(sec, "separation");
    out.separation_task_id = sep_task.task_id;

    // 2. Wait for it.
    auto [wec, sep] = co_await wait_task_bounded<separation_kind>(c, sep_task.task_id, p.wait, p.stage_timeout, diag, counters);
    if (wec) co_return fail(wec, "separation");
    out.separation_time = std::chrono::duration_cast<milliseconds>(clock::now() - t0);
    out.stems = sep.urls;
    out.stem_list = sep.origin_data;

    // 3. MIDI generation (paid), from one stem when asked: the callback has no per-stem ids, so
    // that needs one record-info read.
    std::optional<std::string> stem_id;
    if (!p.stem.empty())
    {
        if (out.stem_list.empty())
        {
            ++counters.polls;
            auto [rec_ec, rec] = co_await c.async_get_separation(sep_task.task_id, diag, tuple_awaitable);
            if (rec_ec) co_return fail(rec_ec, "separation");
            out.stem_list = rec.origin_data;
            out.stems = rec.urls;
        }
        for (const auto& s : out.stem_list)
            if (s.stem_type_group_name == p.stem) stem_id = s.id;
        if (!stem_id)
        {
            diag.set_client_message("the separation has no stem named \"" + p.stem + "\"");
            co_return fail(client_errc::invalid_field, "midi");
        }
        out.transcribed_stem_id = *stem_id;
    }
    const auto t1 = clock::now();
    const std::string midi_ref = c.hub() ? make_callback_reference() : std::string();
    api::midi_request midi_req{.task_id = sep_task.task_id, .callback_url = c.callback_url(callback_kind::midi, midi_ref),
                               .audio_id = stem_id};
    auto [mec, midi_task] = co_await c.async_transcribe(std::move(midi_req), diag, tuple_awaitable);
    if (mec == client_errc::outcome_unknown && !midi_ref.empty() && p.unknown_outcome_wait.count() > 0)
    {
        diagnostics find_diag;
        auto [fec, found] = co_await c.async_find_task(callback_kind::midi, midi_ref, p.unknown_outcome_wait, find_diag,
                                                       tuple_awaitable);
        if (!fec)
        {
            mec = {};
            midi_task = std::move(found);
            ++out.recovered;
            diag.clear();
        }
        else if (!find_diag.client_message().empty())
            diag.set_client_message(diag.client_message() + "; " + find_diag.client_message());
    }
    if (mec) co_return fail(mec, "midi");
    out.midi_task_id = midi_task.task_id;

    // 4. Wait for the notes.
    auto [mwec, midi] = co_await wait_task_bounded<midi_kind>(c, midi_task.task_id, p.wait, p.stage_timeout, diag, counters);
    if (mwec) co_return fail(mwec, "midi");
    out.instruments = std::move(midi.midi.instruments);
    out.midi_time = std::chrono::duration_cast<milliseconds>(clock::now() - t1);
    out.total_time = std::chrono::duration_cast<milliseconds>(clock::now() - t0);
    out.polls = counters.polls;
    out.callbacks = counters.callbacks;
    co_return result_t<midi_result>{error_code{}, std::move(out)};
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
    auto r = co_await (hub->async_wait_reference(ref, tuple_awaitable) || timer.async_wait(tuple_awaitable));
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

asio::awaitable<result_t<midi_result>> run_pipeline_with_deadline(client& c, midi_params p, diagnostics& diag)
{
    asio::steady_timer deadline(co_await asio::this_coro::executor, p.deadline);
    const auto limit = p.deadline;
    auto r = co_await (run_pipeline(c, std::move(p), diag) || deadline.async_wait(tuple_awaitable));
    if (r.index() == 0) co_return std::move(std::get<0>(r));
    diag.set_client_message("pipeline exceeded its deadline of " + std::to_string(limit.count()) + " ms");
    co_return result_t<midi_result>{client_errc::timeout, midi_result{}};
}

}  // namespace

void client::start_separate(api::separation_request req, diagnostics& diag, handler_t<api::task_created> h)
{
    if (req.callback_url.empty()) req.callback_url = callback_url(callback_kind::separation);
    start_submit_separation(std::move(req), diag, std::move(h));
}

void client::start_transcribe(api::midi_request req, diagnostics& diag, handler_t<api::task_created> h)
{
    if (req.callback_url.empty()) req.callback_url = callback_url(callback_kind::midi);
    start_submit_midi(std::move(req), diag, std::move(h));
}

namespace {
template <class Kind>
asio::awaitable<result_t<typename Kind::record>> wait_standalone(client& c, std::string id, wait_options w, diagnostics& diag)
{
    diag.clear();
    wait_counters counters;
    auto r = co_await wait_task<Kind>(c, std::move(id), w, diag, counters);
    if (std::get<0>(r)) diag.set_stage(Kind::stage);
    co_return r;
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
    detail::spawn_with_handler<midi_result>(ex_, run_pipeline_with_deadline(*this, std::move(p), diag), std::move(h));
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

asio::awaitable<midi_result> client::generate_midi(midi_params p)
{
    diagnostics diag;
    auto [ec, result] = co_await async_generate_midi(std::move(p), diag, tuple_awaitable);
    throw_on_error(ec, diag);
    co_return std::move(result);
}

}  // namespace kiemidi
