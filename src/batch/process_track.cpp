// One track of a batch, from whatever state the batch has it in to done / failed / unknown, or
// stopped: intent → paid POST → task id → wait, twice, then the files and done.
//
// Paid POSTs are shielded from cancellation once the transport admits them: the intent is
// recorded at admission, and the submission runs until KIE answers, so its task id is recorded
// rather than lost.
#include "batch_worker.hpp"
#include "../output/result_files.hpp"

#include "../client/finished_separation.hpp"
#include "../client/paid_submission.hpp"
#include "../nothrow_awaitable.hpp"

#include <kiemidi/callback_reference.hpp>

#include <boost/asio/cancellation_state.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/this_coro.hpp>

#include <atomic>
#include <optional>

namespace kiemidi::batch_detail {

using namespace asio::experimental::awaitable_operators;

namespace {

/// Runs the paid exchange `start(admission)` in its own coroutine on the run's strand, where
/// `admission` wins the gate and then runs `admitted`. The worker's cancellation reaches the
/// exchange only until the transport admits the POST (while it waits for the rate limiter,
/// nothing has been sent); from then on it is shielded: a paid POST runs until KIE answers, so
/// its task id is journaled rather than lost.
template <class Start>
asio::awaitable<std::tuple<error_code, api::task_created>> exchange_until_admitted(strand_type strand,
                                                                                   detail::admission_step admitted,
                                                                                   Start start)
{
    // Admission and cancellation race: the transport admits on its strand while a stop arrives on
    // the run's. Exactly one of them wins the flag. If the stop wins, the admission step refuses
    // (the transport gives the token back and writes nothing), so no intent is recorded for a
    // POST that is never sent; if the admission wins, the stop is not passed on and the POST
    // runs to KIE's answer. A plain "admitted" flag read by the stop left a window in which the
    // intent was recorded and the POST then cancelled, and the rerun reported the track unknown.
    enum : int { waiting, admitted_first, stopped_first };
    auto gate = std::make_shared<std::atomic<int>>(waiting);
    detail::admission_step admission = [gate, admitted = std::move(admitted)]() -> asio::awaitable<error_code> {
        int expected = waiting;
        if (!gate->compare_exchange_strong(expected, admitted_first)) co_return asio::error::operation_aborted;
        if (!admitted) co_return error_code{};
        co_return co_await admitted();
    };
    asio::cancellation_signal until_admitted;
    asio::cancellation_state cs = co_await asio::this_coro::cancellation_state;
    auto outer = cs.slot();
    if (outer.is_connected())
        outer.assign([&until_admitted, gate](asio::cancellation_type type) {
            int expected = waiting;
            if (gate->compare_exchange_strong(expected, stopped_first)) until_admitted.emit(type);
        });
    auto exchange = start(std::move(admission));
    auto [ep, r] = co_await asio::co_spawn(strand, std::move(exchange),
                                           asio::bind_cancellation_slot(until_admitted.slot(), use_nothrow_awaitable));
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
    auto r = co_await (start() || timer.async_wait(use_nothrow_awaitable));
    if (r.index() == 0) co_return std::move(std::get<0>(r));
    auto [tec] = std::get<1>(r);
    if (tec) co_return std::tuple<error_code, Record>{asio::error::operation_aborted, Record{}};
    diag.set_stage(stage);
    diag.set_client_message(std::string(stage) + " wait exceeded " + std::to_string(st.opts.pipeline.stage_timeout.count()) + " ms");
    co_return std::tuple<error_code, Record>{client_errc::timeout, Record{}};
}

/// The batch state's part of a paid step (detail::submit_paid): the intent with its callback
/// reference before the POST, the task id after it.
class state_hooks final : public detail::paid_hooks
{
public:
    state_hooks(run_state& st, std::int64_t id, journal_stage stage, diagnostics& diag)
        : st_(st), id_(id), stage_(stage), diag_(diag)
    {
    }
    asio::awaitable<error_code> intent(const std::string& reference) override
    {
        // The transport calls this on its own strand; the run's state belongs to the run's strand.
        auto record_intent = [this, &reference]() -> asio::awaitable<error_code> {
            co_return co_await st_.record_intent(id_, stage_, reference, diag_);
        };
        auto on_strand = record_intent();  // named: g++ 12 mishandles temporaries inside co_await
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

/// KIE's own word, in a task's record, that the task failed (not a timeout, not unreachable).
bool kie_failed(const api::midi_record& r)
{
    return r.state == api::midi_state::create_task_failed || r.state == api::midi_state::generation_failed;
}
bool kie_failed(const api::separation_record& r)
{
    return r.state == api::separation_state::create_task_failed || r.state == api::separation_state::generate_audio_failed;
}

}  // namespace

/// One track, from whatever state the batch has it in, to done / failed / unknown, or stopped.
asio::awaitable<track_outcome> process_track(run_state* st_ptr, journal_entry* entry, std::string* message_ptr)
{
    auto& st = *st_ptr;
    auto& message = *message_ptr;
    journal_entry e = std::move(*entry);
    const std::string name = st.name_of(e);
    const auto id = e.id;
    diagnostics diag;
    auto& cli = st.cli;
    const auto& p = st.opts.pipeline;
    // The track's own choices win over the batch's defaults.
    const auto separation_type = e.track.separation.value_or(p.separation);
    const std::string stem_name = e.track.stem.empty() ? p.stem : e.track.stem;
    // A track naming a separation finished earlier: nothing to separate, and its callback went
    // to whoever submitted it, so its record is read rather than waited for.
    const bool given_separation = !e.track.separation_task_id.empty();

    auto state_change_failed = [&](const error_code& ec) {
        // The shared state was lost before anything was paid for this step: left for the rerun.
        if (ec == claim_errc::state_lost) return track_outcome::stopped;
        if (st.claim_gone(ec))
        {
            message = "taken over by another worker: " + describe(ec, diag);
            return track_outcome::lost;
        }
        message = std::string(st.state.label()) + ": " + describe(ec, diag);
        return track_outcome::failed;
    };
    // Coroutine helpers take only trivially destructible arguments: g++ 12 destroys a coroutine
    // lambda's by-value class arguments twice (see on_pool() in batch_support.hpp).
    auto record_failure = [&](error_code ec, const char* stage_name) -> asio::awaitable<track_outcome> {
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
    auto record_outcome_unknown = [&](const std::string* why) -> asio::awaitable<track_outcome> {
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
    // Also for a POST KIE refused unprocessed while it was down, when the run stopped before KIE
    // came back: `outcome` says which.
    auto put_back = [&](journal_stage stage, track_outcome outcome) -> asio::awaitable<track_outcome> {
        std::string stage_name(to_string(stage));
        std::string msg = message;
        diagnostics jd;
        auto jec = co_await st.mark_failed(id, stage_name, msg, jd);
        if (!jec) jec = co_await st.state.requeue(&e, &jd);
        if (st.claim_gone(jec)) co_return track_outcome::lost;
        if (jec)
        {
            message += " (and the journal could not put the track back: " + describe(jec, jd) + ")";
            co_return track_outcome::failed;
        }
        co_return outcome;
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
    auto advance_to_wait = [&](journal_stage stage, const std::string& tid) {
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
    // Arguments are pointers, read before the first suspension (see the note on `record_failure`).
    auto recover_from_callback = [&](journal_stage stage, const std::string* reference, std::chrono::milliseconds within,
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
        advance_to_wait(stage, tid);
        ++st.recovered;
        co_return true;
    };

    // One paid submission of `stage` through the step the pipeline takes too: the intent with
    // its callback reference goes into the journal first, so that the task can be found from its
    // callback if the answer is lost (here or by a crash); then the POST, shielded from
    // cancellation; then the task id. An answer that may hide a paid task is recovered from the
    // tagged callback, or the track ends as outcome_unknown: never a second POST.
    // Returns nullopt when the task id is recorded and the track goes on.
    // Arguments are pointers, read before the first suspension (see the note on `record_failure`).
    auto submit_paid = [&](journal_stage stage, const detail::paid_post* post) -> asio::awaitable<std::optional<track_outcome>> {
        const bool separation = stage == journal_stage::separation;
        state_hooks hooks(st, id, stage, diag);
        detail::paid_step step;
        const auto kind = separation ? callback_kind::separation : callback_kind::midi;
        auto ec = co_await detail::submit_paid(cli, kind, *post, &hooks, p.unknown_outcome_wait, diag, step);
        if (step.hook_failed) co_return state_change_failed(ec);
        if (ec == api_errc::insufficient_credits)
        {
            // KIE's word: not charged. The track goes back to where it was, to be resumed by a
            // run after a top-up, and this run starts no further track.
            st.out_of_credits = true;
            message = describe(ec, diag);
            co_return co_await put_back(stage, track_outcome::no_credits);
        }
        // Ended before the transport admitted the POST (stopped or closed while it waited for the
        // rate limiter): nothing was sent and no intent recorded; the track resumes as it was.
        if (!step.admitted && (ec == asio::error::operation_aborted || ec == client_errc::shut_down))
            co_return track_outcome::stopped;
        // Its POST was refused unprocessed while KIE was down and the run stopped before KIE came
        // back: nothing was paid, so the track goes back to where it was, not to a callback hunt.
        if (step.unsent && st.stopping) co_return co_await put_back(stage, track_outcome::stopped);
        if (ec == asio::error::operation_aborted && st.stopping)
            co_return track_outcome::stopped;  // the intent stays: the next run looks for its callback
        if (ec && detail::outcome_may_be_paid(ec))
        {
            std::string why = describe(ec, diag);
            co_return co_await record_outcome_unknown(&why);
        }
        if (ec) co_return co_await record_failure(ec, separation ? "separation" : "midi");
        advance_to_wait(stage, step.task_id);
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
        const auto within = st.state.resumed_intent_wait();
        recovered_at_start = co_await recover_from_callback(stage, &e.intent_ref, within, &why);
        if (!recovered_at_start)
        {
            if (auto h = halted()) co_return *h;
            auto o = co_await record_outcome_unknown(&why);
            if (o == track_outcome::lost || !st.opts.resubmit_unknown) co_return o;
            e.state = track_state::outcome_unknown;
        }
    }
    if (e.state == track_state::outcome_unknown || e.state == track_state::failed || e.state == track_state::result_lost)
    {
        // A failed track is retried from the last step not paid yet: a task KIE finished is
        // only read, a task KIE failed is submitted again (reading its record is free).
        std::optional<journal_stage> redo;
        if (e.state == track_state::failed)
        {
            diagnostics rd;
            if (!e.midi_task_id.empty())
            {
                auto [rec_ec, rec] = co_await cli.async_get_midi(e.midi_task_id, rd, use_nothrow_awaitable);
                if (!rec_ec && kie_failed(rec)) redo = journal_stage::midi;
            }
            if (!redo && !e.separation_task_id.empty() && !given_separation)
            {
                auto [rec_ec, rec] = co_await cli.async_get_separation(e.separation_task_id, rd, use_nothrow_awaitable);
                if (!rec_ec && kie_failed(rec)) redo = journal_stage::separation;
            }
        }
        auto jec = co_await st.state.requeue(&e, &diag, redo);
        if (jec) co_return state_change_failed(jec);
    }
    // A shared track resumed here was submitted by another worker, so its callback goes to that
    // worker's listener; a local one resumed by a run listening on another URL (a new port) has
    // its callback sent where nobody listens. Either way, poll rather than wait for a callback
    // that may never come.
    auto poll_if_callbacks_unreachable = [&](wait_options& w) {
        if (!st.state.resumed_callbacks_reachable()) w.strategy = wait_strategy::polling;
    };
    // A track naming a separation starts at separating: that is where it begins, not a resumption.
    const bool resumed_separation = e.state == track_state::separating && (!given_separation || e.attempts > 0);
    const bool resumed_midi = e.state == track_state::transcribing;
    if (resumed_separation || resumed_midi || recovered_at_start) ++st.resumed;

    // ---- separation ----
    api::separation_record sep;
    std::string transcribed_stem;  // KIE's name of the one stem transcribed; empty: all stems
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
            req.type = separation_type;
            req.callback_url = std::move(callback_url);
            auto post_separation = [&](detail::admission_step a) { return detail::submit_separation(cli, req, diag, std::move(a)); };
            co_return co_await exchange_until_admitted(st.strand, std::move(admitted), post_separation);
        };
        if (auto o = co_await submit_paid(journal_stage::separation, &post)) co_return *o;
    }
    if (e.state == track_state::separating)
    {
        if (auto h = halted()) co_return *h;
        std::string sid = e.separation_task_id;
        if (given_separation)
        {
            // Read once, as the pipeline does for midi_params::separation_task_id: one not
            // finished, unknown or failed ends the track with KIE's word, nothing paid.
            api::separation_record rec;
            auto rec_ec = co_await detail::read_finished_separation(cli, sid, diag, rec);
            if (rec_ec == asio::error::operation_aborted)
                if (auto h = halted()) co_return *h;
            if (rec_ec) co_return co_await record_failure(rec_ec, "separation");
            sep = std::move(rec);
        }
        else
        {
            wait_options w = p.wait;
            // The callback of a task that finished while we were away is gone: ask KIE at once.
            w.read_record_first = resumed_separation || recovered_at_start;
            if (resumed_separation) poll_if_callbacks_unreachable(w);
            auto wait_for_separation = [&] { return cli.async_wait_separation(sid, w, diag, use_nothrow_awaitable); };
            auto [wec, rec] = co_await bounded_wait<api::separation_record>(st, id, wait_for_separation, "separation", diag);
            // Stopped, or the claim passed to another worker (the renewer ended the wait).
            if (wec == asio::error::operation_aborted)
                if (auto h = halted()) co_return *h;
            if (wec) co_return co_await record_failure(wec, "separation");
            sep = std::move(rec);
        }
        // ---- MIDI submission ----
        std::optional<std::string> stem_id;
        if (!stem_name.empty())
        {
            if (sep.origin_data.empty())
            {
                auto [rec_ec, rec] = co_await cli.async_get_separation(e.separation_task_id, diag, use_nothrow_awaitable);
                if (rec_ec == asio::error::operation_aborted && st.stopping) co_return track_outcome::stopped;
                if (rec_ec) co_return co_await record_failure(rec_ec, "separation");
                sep = std::move(rec);
            }
            // KIE's names, case-insensitively, as for a single pipeline.
            if (const api::stem* chosen = api::find_stem(sep.origin_data, stem_name))
            {
                stem_id = chosen->id;
                transcribed_stem = chosen->stem_type_group_name.empty() ? chosen->id : chosen->stem_type_group_name;
            }
            else
            {
                diag.set_client_message("the separation has no stem named \"" + stem_name +
                                        "\"; it has: " + api::stem_names(sep.origin_data));
                co_return co_await record_failure(error_code(client_errc::unknown_stem), "midi");
            }
        }
        if (auto h = halted()) co_return *h;
        const detail::paid_post post = [&](std::string callback_url,
                                           detail::admission_step admitted) -> detail::op_result<api::task_created> {
            api::midi_request req;
            req.task_id = e.separation_task_id;
            req.audio_id = stem_id;
            req.callback_url = std::move(callback_url);
            auto post_midi = [&](detail::admission_step a) { return detail::submit_midi(cli, req, diag, std::move(a)); };
            co_return co_await exchange_until_admitted(st.strand, std::move(admitted), post_midi);
        };
        if (auto o = co_await submit_paid(journal_stage::midi, &post)) co_return *o;
    }

    // ---- MIDI result ----
    // A track KIE finished whose files were not written (or are gone) is only read: record-info
    // is free, and its task ids say where the result is.
    const bool rewriting = e.state == track_state::not_written;
    if (e.state != track_state::transcribing && !rewriting)
    {
        message = "unexpected journal state " + std::string(to_string(e.state));
        co_return track_outcome::failed;
    }
    if (auto h = halted()) co_return *h;
    api::midi_record midi;
    if (rewriting)
    {
        auto [rec_ec, rec] = co_await cli.async_get_midi(e.midi_task_id, diag, use_nothrow_awaitable);
        if (rec_ec == asio::error::operation_aborted)
            if (auto h = halted()) co_return *h;
        if (rec_ec == api_errc::unknown_task || e.midi_task_id.empty())
        {
            message = "the files are not written and KIE no longer has the result of MIDI task " + e.midi_task_id +
                      "; only a new paid submission (--resubmit) brings it back";
            diagnostics jd;
            auto jec = co_await st.state.mark_result_lost(id, &message, &jd);
            if (st.claim_gone(jec)) co_return track_outcome::lost;
            if (jec) message += " (and the journal could not record it: " + describe(jec, jd) + ")";
            co_return track_outcome::result_lost;
        }
        if (!rec_ec && rec.state != api::midi_state::success)
        {
            diag.set_client_message("its record says " + std::string(api::to_string(rec.state)));
            rec_ec = api_errc::task_not_finished;
        }
        if (rec_ec)
        {
            // Left not_written as it is: the next run reads the record again.
            message = "KIE finished, files not written: reading MIDI task " + e.midi_task_id +
                      " failed: " + describe(rec_ec, diag) + "; a rerun tries again, nothing paid";
            co_return track_outcome::not_written;
        }
        midi = std::move(rec);
        // The separation's stems and the stem's name for the .json: a free read too; without it
        // the files are written all the same.
        if (!e.separation_task_id.empty())
        {
            diagnostics sd;
            auto [sep_ec, sep_rec] = co_await cli.async_get_separation(e.separation_task_id, sd, use_nothrow_awaitable);
            if (!sep_ec) sep = std::move(sep_rec);
            if (const api::stem* chosen = stem_name.empty() ? nullptr : api::find_stem(sep.origin_data, stem_name))
                transcribed_stem = chosen->stem_type_group_name.empty() ? chosen->id : chosen->stem_type_group_name;
        }
    }
    else
    {
        std::string mid = e.midi_task_id;
        wait_options w = p.wait;
        w.read_record_first = resumed_midi || (recovered_at_start && e.state == track_state::transcribing);
        if (resumed_midi) poll_if_callbacks_unreachable(w);
        auto wait_for_midi = [&] { return cli.async_wait_midi(mid, w, diag, use_nothrow_awaitable); };
        auto [wec, rec] = co_await bounded_wait<api::midi_record>(st, id, wait_for_midi, "midi", diag);
        // Stopped, or the claim passed to another worker (the renewer ended the wait).
        if (wec == asio::error::operation_aborted)
            if (auto h = halted()) co_return *h;
        if (wec) co_return co_await record_failure(wec, "midi");
        midi = std::move(rec);
    }

    // ---- files, then done ----
    std::size_t notes = 0;
    for (const auto& i : midi.midi.instruments) notes += i.notes.size();
    const auto dir = st.opts.output_dir;
    const bool json = st.opts.write_json;
    diagnostics out_diag;
    // The separation's stems go into the .json when this run has its record in hand (a track
    // resumed while transcribing has not, and no extra read is made for it).
    detail::result_provenance from;
    from.separation_task_id = e.separation_task_id;
    from.midi_task_id = e.midi_task_id;
    from.music_task_id = e.track.task_id;
    from.audio_id = e.track.audio_id;
    from.stem = transcribed_stem;
    from.stems = detail::stem_links(sep.origin_data, sep.urls);
    const auto own = st.opts.files_by_track.find(output_name(e.track));
    const smf::file_choices choices = own != st.opts.files_by_track.end() ? own->second : st.opts.files;
    auto write_files = [&, dir, json, choices] {
        return detail::write_result_files(dir, name, json, midi.midi.instruments, midi.midi.repairs, from, choices, out_diag);
    };
    auto wec = co_await on_pool(st.pool_ex, std::move(write_files));
    if (wec)
    {
        // KIE finished and was paid: a local write error does not fail the track. It keeps its
        // task ids, and the next run writes the files from KIE's record without paying.
        message = "KIE finished (MIDI task " + e.midi_task_id + "), files not written: " + describe(wec, out_diag);
        diagnostics jd;
        auto jec = co_await st.state.mark_not_written(id, &message, &jd);
        if (st.claim_gone(jec)) co_return track_outcome::lost;
        if (jec) message += " (and the journal could not record it: " + describe(jec, jd) + ")";
        co_return track_outcome::not_written;
    }
    // Only now, with both files written, synced and renamed into place, is the track done.
    auto dec = co_await st.mark_done(id, diag);
    if (dec) co_return state_change_failed(dec);
    if (rewriting) ++st.rewritten;
    st.notes += notes;
    message = std::to_string(notes) + " notes";
    if (auto w = api::result_warning(midi.midi.repairs, notes); !w.empty()) message += "; warning: " + w;
    co_return track_outcome::done;
}

}  // namespace kiemidi::batch_detail
