// One track of a batch, from whatever state the batch has it in to done / failed / unknown, or
// stopped: intent → paid POST → task id → wait, twice, then the files and done.
//
// Paid POSTs are shielded from cancellation once the transport admits them: the intent is
// recorded at admission, and the submission runs until KIE answers, so its task id is recorded
// rather than lost.
#include "batch_worker.hpp"
#include <kiemidi/result_files.hpp>

#include "../client/finished_separation.hpp"
#include "../client/paid_submission.hpp"
#include "../client/pipeline_steps.hpp"
#include "../nothrow_awaitable.hpp"

#include <kiemidi/callback_reference.hpp>

#include <boost/asio/cancellation_state.hpp>
#include <boost/asio/this_coro.hpp>

#include <atomic>
#include <optional>

namespace asio = boost::asio;

namespace kiemidi::detail {

// In kiemidi::detail, not file-local: process_track()'s coroutine frame holds a track_run, and a
// unity build compiles this file as an included one, where g++ (-Wsubobject-linkage) refuses
// frames holding file-local types.

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

/// One track's way through the sequence, as named steps (run() lists them in order). A step
/// returns the track's outcome when the track ends there, nullopt when it goes on. The steps
/// the pipeline takes too (the paid submission, the stage's bounded wait, the stem choice, the
/// requests) are the client's (pipeline_steps.hpp, paid_submission.hpp); this class adds the
/// batch's state around them. Coroutines here take only trivially destructible arguments:
/// g++ 12 destroys a coroutine's by-value class arguments twice (see on_pool() in batch_support.hpp).
class track_run
{
public:
    track_run(run_state& st, journal_entry e, std::string& message)
        : st_(st),
          e_(std::move(e)),
          message_(message),
          name_(st.name_of(e_)),
          id_(e_.id),
          p_(st.opts.pipeline),
          // The track's own choices win over the batch's defaults.
          separation_type_(e_.track.separation.value_or(p_.separation)),
          want_{e_.track.stem.empty() ? p_.stem : e_.track.stem, e_.track.stem.empty() ? p_.stem_audio_id : std::string()},
          // A track naming a separation finished earlier: nothing to separate, and its callback
          // went to whoever submitted it, so its record is read rather than waited for.
          given_separation_(!e_.track.separation_task_id.empty())
    {
    }

    asio::awaitable<track_outcome> run()
    {
        // States left by an earlier run.
        if (e_.state == track_state::separation_intent || e_.state == track_state::midi_intent)
            if (auto o = co_await recover_intent()) co_return *o;
        if (e_.state == track_state::outcome_unknown || e_.state == track_state::failed || e_.state == track_state::result_lost)
            if (auto o = co_await requeue_retried()) co_return *o;
        count_resumption();
        // Separation, then MIDI, each paid once and waited for; then the files.
        if (e_.state == track_state::pending)
            if (auto o = co_await submit_separation()) co_return *o;
        if (e_.state == track_state::separating)
        {
            if (auto o = co_await obtain_separation()) co_return *o;
            if (auto o = co_await choose_stem()) co_return *o;
            if (auto o = co_await submit_midi()) co_return *o;
        }
        if (auto o = co_await obtain_midi()) co_return *o;
        co_return co_await write_files();
    }

private:
    using step_result = std::optional<track_outcome>;

    // ---- the steps, in order ----

    // A POST may have been sent without its answer being recorded. KIE cannot look it up, but
    // its callback names the task: wait for the callback tagged with the intent's reference.
    asio::awaitable<step_result> recover_intent()
    {
        const auto stage = e_.state == track_state::separation_intent ? journal_stage::separation : journal_stage::midi;
        std::string why = std::string("the ") + (stage == journal_stage::separation ? "separation" : "MIDI") +
                          " submission of an earlier run (or of a worker that died) was sent but its answer was not recorded; it may have been "
                          "processed (and paid)";
        if (auto h = halted()) co_return h;
        // In a shared batch the callback went to the listener of the worker that sent the POST.
        const auto within = st_.state.resumed_intent_wait();
        recovered_at_start_ = co_await recover_from_callback(stage, within, &why);
        if (recovered_at_start_) co_return std::nullopt;
        if (auto h = halted()) co_return h;
        auto o = co_await record_outcome_unknown(&why);
        if (o == track_outcome::lost || !st_.opts.resubmit_unknown) co_return o;
        e_.state = track_state::outcome_unknown;
        co_return std::nullopt;
    }

    // A failed track is retried from the last step not paid yet: a task KIE finished is only
    // read, a task KIE failed is submitted again (reading its record is free).
    asio::awaitable<step_result> requeue_retried()
    {
        std::optional<journal_stage> redo;
        if (e_.state == track_state::failed)
        {
            diagnostics rd;
            if (!e_.midi_task_id.empty())
            {
                auto [rec_ec, rec] = co_await st_.cli.async_get_midi(e_.midi_task_id, rd, use_nothrow_awaitable);
                if (!rec_ec && kie_failed(rec)) redo = journal_stage::midi;
            }
            if (!redo && !e_.separation_task_id.empty() && !given_separation_)
            {
                auto [rec_ec, rec] = co_await st_.cli.async_get_separation(e_.separation_task_id, rd, use_nothrow_awaitable);
                if (!rec_ec && kie_failed(rec)) redo = journal_stage::separation;
            }
        }
        auto jec = co_await st_.state.requeue(&e_, &diag_, redo);
        if (jec) co_return state_change_failed(jec);
        co_return std::nullopt;
    }

    void count_resumption()
    {
        // A track naming a separation starts at separating: that is where it begins, not a resumption.
        resumed_separation_ = e_.state == track_state::separating && (!given_separation_ || e_.attempts > 0);
        resumed_midi_ = e_.state == track_state::transcribing;
        if (resumed_separation_ || resumed_midi_ || recovered_at_start_) ++st_.resumed;
    }

    asio::awaitable<step_result> submit_separation()
    {
        if (auto h = halted()) co_return h;
        if (st_.out_of_credits)
        {
            message_ = "not started: KIE said the account is out of credits";
            co_return track_outcome::no_credits;
        }
        const detail::paid_post post = [this](std::string callback_url,
                                              detail::admission_step admitted) -> detail::op_result<api::task_created> {
            const auto req = detail::separation_request_for(e_.track.task_id, e_.track.audio_id, separation_type_,
                                                            std::move(callback_url));
            auto post_separation = [&](detail::admission_step a) { return detail::submit_separation(st_.cli, req, diag_, std::move(a)); };
            co_return co_await exchange_until_admitted(st_.strand, std::move(admitted), post_separation);
        };
        co_return co_await submit_paid(journal_stage::separation, &post);
    }

    asio::awaitable<step_result> obtain_separation()
    {
        if (auto h = halted()) co_return h;
        const std::string sid = e_.separation_task_id;
        api::separation_record rec;
        error_code ec;
        if (given_separation_)
        {
            // Read once, as the pipeline does for midi_params::separation_task_id: one not
            // finished, unknown or failed ends the track with KIE's word, nothing paid.
            ec = co_await detail::read_finished_separation(st_.cli, sid, diag_, rec);
        }
        else
        {
            // The callback of a task that finished while we were away is gone: ask KIE at once.
            const wait_options w = wait_for(resumed_separation_, resumed_separation_ || recovered_at_start_);
            auto wait_for_separation = [&] { return st_.cli.async_wait_separation(sid, w, diag_, use_nothrow_awaitable); };
            std::tie(ec, rec) = co_await wait_stage<api::separation_record>(wait_for_separation, "separation");
        }
        if (auto o = co_await stage_ended(ec, "separation")) co_return o;
        sep_ = std::move(rec);
        co_return std::nullopt;
    }

    // MIDI from one stem: its audio id is in the separation's record (the callback has none).
    asio::awaitable<step_result> choose_stem()
    {
        if (want_.all_stems()) co_return std::nullopt;
        if (sep_.origin_data.empty())
        {
            auto [rec_ec, rec] = co_await st_.cli.async_get_separation(e_.separation_task_id, diag_, use_nothrow_awaitable);
            if (rec_ec == asio::error::operation_aborted && st_.stopping) co_return track_outcome::stopped;
            if (rec_ec) co_return co_await record_failure(rec_ec, "separation");
            sep_ = std::move(rec);
        }
        detail::chosen_stem chosen;
        if (auto ec = detail::choose_stem(sep_.origin_data, want_, e_.separation_task_id, diag_, chosen))
            co_return co_await record_failure(ec, "midi");
        stem_id_ = std::move(chosen.audio_id);
        transcribed_stem_ = std::move(chosen.name);
        co_return std::nullopt;
    }

    asio::awaitable<step_result> submit_midi()
    {
        if (auto h = halted()) co_return h;
        const detail::paid_post post = [this](std::string callback_url,
                                              detail::admission_step admitted) -> detail::op_result<api::task_created> {
            const auto req = detail::midi_request_for(e_.separation_task_id, stem_id_, std::move(callback_url));
            auto post_midi = [&](detail::admission_step a) { return detail::submit_midi(st_.cli, req, diag_, std::move(a)); };
            co_return co_await exchange_until_admitted(st_.strand, std::move(admitted), post_midi);
        };
        co_return co_await submit_paid(journal_stage::midi, &post);
    }

    // A track KIE finished whose files were not written (or are gone) is only read: record-info
    // is free, and its task ids say where the result is. Any other track waits for its MIDI task.
    asio::awaitable<step_result> obtain_midi()
    {
        rewriting_ = e_.state == track_state::not_written;
        if (e_.state != track_state::transcribing && !rewriting_)
        {
            message_ = "unexpected journal state " + std::string(to_string(e_.state));
            co_return track_outcome::failed;
        }
        if (auto h = halted()) co_return h;
        if (rewriting_) co_return co_await read_finished_midi();
        co_return co_await wait_for_midi();
    }

    asio::awaitable<step_result> read_finished_midi()
    {
        auto [rec_ec, rec] = co_await st_.cli.async_get_midi(e_.midi_task_id, diag_, use_nothrow_awaitable);
        if (rec_ec == asio::error::operation_aborted)
            if (auto h = halted()) co_return h;
        if (rec_ec == api_errc::unknown_task || e_.midi_task_id.empty())
        {
            message_ = "the files are not written and KIE no longer has the result of MIDI task " + e_.midi_task_id +
                       "; only a new paid submission (--resubmit) brings it back";
            diagnostics jd;
            auto jec = co_await st_.state.mark_result_lost(id_, &message_, &jd);
            co_return recorded(jec, jd, track_outcome::result_lost);
        }
        if (!rec_ec && rec.state != api::midi_state::success)
        {
            diag_.set_client_message("its record says " + std::string(api::to_string(rec.state)));
            rec_ec = api_errc::task_not_finished;
        }
        if (rec_ec)
        {
            // Still not_written, now with this reason: the next run reads the record again (a
            // shared claim is given up, so no worker of this run takes it again).
            message_ = "KIE finished, files not written: reading MIDI task " + e_.midi_task_id +
                       " failed: " + describe(rec_ec, diag_) + "; a rerun tries again, nothing paid";
            diagnostics jd;
            auto jec = co_await st_.state.mark_not_written(id_, &message_, &jd);
            if (st_.claim_gone(jec)) co_return track_outcome::lost;
            co_return track_outcome::not_written;
        }
        midi_ = std::move(rec);
        // The separation's stems and the stem's name for the .json: a free read too; without it
        // the files are written all the same.
        if (!e_.separation_task_id.empty())
        {
            diagnostics sd;
            auto [sep_ec, sep_rec] = co_await st_.cli.async_get_separation(e_.separation_task_id, sd, use_nothrow_awaitable);
            if (!sep_ec) sep_ = std::move(sep_rec);
            if (const api::stem* chosen = detail::find_chosen_stem(sep_.origin_data, want_))
                transcribed_stem_ = stem_name(sep_.origin_data, chosen->id);
        }
        co_return std::nullopt;
    }

    asio::awaitable<step_result> wait_for_midi()
    {
        const std::string mid = e_.midi_task_id;
        const wait_options w =
            wait_for(resumed_midi_, resumed_midi_ || (recovered_at_start_ && e_.state == track_state::transcribing));
        auto wait_for_notes = [&] { return st_.cli.async_wait_midi(mid, w, diag_, use_nothrow_awaitable); };
        auto [wec, rec] = co_await wait_stage<api::midi_record>(wait_for_notes, "midi");
        if (auto o = co_await stage_ended(wec, "midi")) co_return o;
        midi_ = std::move(rec);
        co_return std::nullopt;
    }

    asio::awaitable<track_outcome> write_files()
    {
        std::size_t notes = 0;
        for (const auto& i : midi_.midi.instruments) notes += i.notes.size();
        const auto dir = st_.opts.output_dir;
        const bool json = st_.opts.write_json;
        diagnostics out_diag;
        // The separation's stems go into the .json when this run has its record in hand (a track
        // resumed while transcribing has not, and no extra read is made for it).
        result_provenance from;
        from.separation_task_id = e_.separation_task_id;
        from.midi_task_id = e_.midi_task_id;
        from.music_task_id = e_.track.task_id;
        from.audio_id = e_.track.audio_id;
        from.stem = transcribed_stem_;
        from.stems = stem_links(sep_.origin_data, sep_.urls);
        const auto own = st_.opts.files_by_track.find(output_name(e_.track));
        const smf::file_choices choices = own != st_.opts.files_by_track.end() ? own->second : st_.opts.files;
        auto write = [&, dir, json, choices] {
            return write_result_files(dir, name_, json, midi_.midi.instruments, midi_.midi.repairs, from, choices, out_diag);
        };
        auto wec = co_await on_pool(st_.pool_ex, std::move(write));
        if (wec)
        {
            // KIE finished and was paid: a local write error does not fail the track. It keeps its
            // task ids, and the next run writes the files from KIE's record without paying.
            message_ = "KIE finished (MIDI task " + e_.midi_task_id + "), files not written: " + describe(wec, out_diag);
            diagnostics jd;
            auto jec = co_await st_.state.mark_not_written(id_, &message_, &jd);
            co_return recorded(jec, jd, track_outcome::not_written);
        }
        // Only now, with both files written, synced and renamed into place, is the track done.
        auto dec = co_await st_.mark_done(id_, diag_);
        if (dec) co_return state_change_failed(dec);
        if (rewriting_) ++st_.rewritten;
        st_.notes += notes;
        message_ = std::to_string(notes) + " notes";
        if (auto w = api::result_warning(midi_.midi.repairs, notes); !w.empty()) message_ += "; warning: " + w;
        co_return track_outcome::done;
    }

    // ---- what the steps share ----

    // One paid submission of `stage` through the step the pipeline takes too: the intent with
    // its callback reference goes into the journal first, so that the task can be found from its
    // callback if the answer is lost (here or by a crash); then the POST, shielded from
    // cancellation; then the task id. An answer that may hide a paid task is recovered from the
    // tagged callback, or the track ends as outcome_unknown: never a second POST.
    asio::awaitable<step_result> submit_paid(journal_stage stage, const detail::paid_post* post)
    {
        const bool separation = stage == journal_stage::separation;
        state_hooks hooks(st_, id_, stage, diag_);
        detail::paid_step step;
        const auto kind = separation ? callback_kind::separation : callback_kind::midi;
        auto ec = co_await detail::submit_paid(st_.cli, kind, *post, &hooks, p_.unknown_outcome_wait, diag_, step);
        if (step.hook_failed) co_return state_change_failed(ec);
        if (ec == api_errc::insufficient_credits)
        {
            // KIE's word: not charged. The track goes back to where it was, to be resumed by a
            // run after a top-up, and this run starts no further track.
            st_.out_of_credits = true;
            message_ = describe(ec, diag_);
            co_return co_await put_back(stage, track_outcome::no_credits);
        }
        // Ended before the transport admitted the POST (stopped or closed while it waited for the
        // rate limiter): nothing was sent and no intent recorded; the track resumes as it was.
        if (!step.admitted && (ec == asio::error::operation_aborted || ec == client_errc::shut_down))
            co_return track_outcome::stopped;
        // Its POST was refused unprocessed while KIE was down and the run stopped before KIE came
        // back: nothing was paid, so the track goes back to where it was, not to a callback hunt.
        if (step.unsent && st_.stopping) co_return co_await put_back(stage, track_outcome::stopped);
        if (ec == asio::error::operation_aborted && st_.stopping)
            co_return track_outcome::stopped;  // the intent stays: the next run looks for its callback
        if (ec && detail::outcome_may_be_paid(ec))
        {
            std::string why = describe(ec, diag_);
            co_return co_await record_outcome_unknown(&why);
        }
        if (ec) co_return co_await record_failure(ec, separation ? "separation" : "midi");
        advance_to_wait(stage, step.task_id);
        if (step.recovered) ++st_.recovered;
        co_return std::nullopt;
    }

    // Finds the task of a paid POST whose answer was never recorded (an earlier run stopped
    // between the POST and the journal) through its tagged callback, and records it as if the
    // answer had come: the track goes on without paying again. Returns true when found and
    // recorded; `why` gets the reason otherwise.
    asio::awaitable<bool> recover_from_callback(journal_stage stage, std::chrono::milliseconds within, std::string* why)
    {
        const std::string ref = e_.intent_ref;
        const auto kind = stage == journal_stage::separation ? callback_kind::separation : callback_kind::midi;
        diagnostics fd;
        std::string tid;
        if (co_await detail::recover_lost_answer(st_.cli, kind, ref, within, fd, tid))
        {
            *why += fd.client_message();
            co_return false;
        }
        if (auto jec = co_await st_.record_task_id(id_, stage, tid, diag_))
        {
            *why += "; found task " + tid + " but the journal could not record it: " + describe(jec, diag_);
            co_return false;
        }
        advance_to_wait(stage, tid);
        ++st_.recovered;
        co_return true;
    }

    // The wait of one stage, bounded by the stage timeout. Its timer is registered so that the
    // renewer, finding the track's claim lost, ends the wait (operation_aborted).
    template <class Record, class Start>
    asio::awaitable<std::tuple<error_code, Record>> wait_stage(Start start, const char* stage)
    {
        asio::steady_timer timer(co_await asio::this_coro::executor);
        struct registration
        {
            run_state& st;
            std::int64_t id;
            ~registration() { st.wait_timers.erase(id); }
        } reg{st_, id_};
        st_.wait_timers[id_] = &timer;
        co_return co_await detail::wait_within_stage_timeout<Record>(timer, std::move(start), stage, p_.stage_timeout, diag_);
    }

    // The batch's wait options. A shared track resumed here was submitted by another worker, so
    // its callback goes to that worker's listener; a local one resumed by a run listening on
    // another URL (a new port) has its callback sent where nobody listens. Either way a resumed
    // wait polls rather than waits for a callback that may never come.
    wait_options wait_for(bool resumed, bool read_record_first) const
    {
        wait_options w = p_.wait;
        w.read_record_first = read_record_first;
        if (resumed && !st_.state.resumed_callbacks_reachable()) w.strategy = wait_strategy::polling;
        return w;
    }

    // The task id of `stage` is recorded: the track moves on to waiting for that task.
    void advance_to_wait(journal_stage stage, const std::string& tid)
    {
        if (stage == journal_stage::separation)
        {
            e_.separation_task_id = tid;
            e_.state = track_state::separating;
        }
        else
        {
            e_.midi_task_id = tid;
            e_.state = track_state::transcribing;
        }
    }

    // How a stage's read or wait ended: stopped, or the claim passed to another worker (the
    // renewer ended the wait); failed; or nullopt, on to the next step.
    asio::awaitable<step_result> stage_ended(error_code ec, const char* stage)
    {
        if (ec == asio::error::operation_aborted)
            if (auto h = halted()) co_return h;
        if (ec) co_return co_await record_failure(ec, stage);
        co_return std::nullopt;
    }

    // Stop before the next step when the run stops, or when the renewer found the claim taken over.
    step_result halted()
    {
        if (st_.stopping) return track_outcome::stopped;
        if (st_.lost.count(id_))
        {
            message_ = "taken over by another worker (the lease expired)";
            return track_outcome::lost;
        }
        return std::nullopt;
    }

    // ---- how a track ends ----

    track_outcome state_change_failed(const error_code& ec)
    {
        // The shared state was lost before anything was paid for this step: left for the rerun.
        if (ec == claim_errc::state_lost) return track_outcome::stopped;
        if (st_.claim_gone(ec))
        {
            message_ = "taken over by another worker: " + describe(ec, diag_);
            return track_outcome::lost;
        }
        message_ = std::string(st_.state.label()) + ": " + describe(ec, diag_);
        return track_outcome::failed;
    }

    // Outcome `o` once the state was asked to record it (`jec`, `jd`): lost when the claim
    // passed to another worker meanwhile; a state that could not record it is said in the message.
    track_outcome recorded(const error_code& jec, const diagnostics& jd, track_outcome o)
    {
        if (st_.claim_gone(jec)) return track_outcome::lost;
        if (jec) message_ += " (and the journal could not record it: " + describe(jec, jd) + ")";
        return o;
    }

    asio::awaitable<track_outcome> record_failure(error_code ec, const char* stage_name)
    {
        std::string stage = stage_name;
        diag_.set_stage(stage);
        message_ = describe(ec, diag_);
        diagnostics jd;
        std::string msg = message_;
        auto jec = co_await st_.mark_failed(id_, stage, msg, jd);
        co_return recorded(jec, jd, track_outcome::failed);
    }

    // `why` is the message; it is read before the first suspension.
    asio::awaitable<track_outcome> record_outcome_unknown(const std::string* why)
    {
        message_ = *why;
        diagnostics jd;
        std::string msg = message_;
        auto jec = co_await st_.mark_outcome_unknown(id_, msg, jd);
        co_return recorded(jec, jd, track_outcome::unknown);
    }

    // Out of credits: KIE refused the POST of `stage`, so nothing was charged. The intent goes
    // back to the latest state the recorded task ids allow (pending, or separating for MIDI) by
    // way of failed and requeue, the journal's one way out of an intent without a task id.
    // Also for a POST KIE refused unprocessed while it was down, when the run stopped before KIE
    // came back: `outcome` says which.
    asio::awaitable<track_outcome> put_back(journal_stage stage, track_outcome outcome)
    {
        std::string stage_name(to_string(stage));
        std::string msg = message_;
        diagnostics jd;
        auto jec = co_await st_.mark_failed(id_, stage_name, msg, jd);
        if (!jec) jec = co_await st_.state.requeue(&e_, &jd);
        if (st_.claim_gone(jec)) co_return track_outcome::lost;
        if (jec)
        {
            message_ += " (and the journal could not put the track back: " + describe(jec, jd) + ")";
            co_return track_outcome::failed;
        }
        co_return outcome;
    }

    run_state& st_;
    journal_entry e_;
    std::string& message_;
    const std::string name_;
    const std::int64_t id_;
    const midi_params& p_;
    const api::separation_type separation_type_;
    const detail::stem_choice want_;
    const bool given_separation_;
    diagnostics diag_;
    bool recovered_at_start_ = false;
    bool resumed_separation_ = false;
    bool resumed_midi_ = false;
    bool rewriting_ = false;
    api::separation_record sep_;
    std::optional<std::string> stem_id_;  // the one stem transcribed; unset: all stems
    std::string transcribed_stem_;        // its name for the .json; empty: all stems
    api::midi_record midi_;
};

asio::awaitable<track_outcome> process_track(run_state* st, journal_entry* entry, std::string* message)
{
    track_run track(*st, std::move(*entry), *message);
    co_return co_await track.run();
}

}  // namespace kiemidi::detail
