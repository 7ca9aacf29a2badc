/// @file
/// kiemidi::client: typed access to KIE's stem-separation and MIDI endpoints, and the
/// separation → MIDI pipeline built on them (async_generate_midi; its MIDI half alone, from a
/// finished separation: async_generate_midi_from_separation).
///
/// One long-lived client per KIE account and process: it owns the connection pool, the TLS
/// context and the submission rate limiter shared by every coroutine that uses it. Each operation
/// is one KIE request (with the transport's retry policy), parsed into kiemidi::api types; KIE's
/// body `code` decides success, never the HTTP status alone.
#ifndef KIEMIDI_CLIENT_HPP
#define KIEMIDI_CLIENT_HPP

#include <kiemidi/api.hpp>
#include <kiemidi/callback_hub.hpp>
#include <kiemidi/client_options.hpp>
#include <kiemidi/config.hpp>
#include <kiemidi/default_token.hpp>
#include <kiemidi/diagnostics.hpp>
#include <kiemidi/error.hpp>
#include <kiemidi/http_client.hpp>
#include <kiemidi/midi_result.hpp>
#include <kiemidi/pipeline_options.hpp>

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/system/system_error.hpp>

#include <chrono>
#include <memory>
#include <string>
#include <string_view>

namespace kiemidi {

class callback_listener;

namespace detail {
struct client_access;
class client_life;
class kie_health;
}

/// What the throwing spellings (client::generate_midi, client::generate_midi_from_separation)
/// throw: the error, with diagnostics in what(), and the same result and diagnostics that
/// async_generate_midi completes with (task ids, callback references: what a paid task is found by).
class pipeline_error : public boost::system::system_error
{
public:
    /// The exception for `ec`, whose what() is `ec`'s message and diag.to_string().
    pipeline_error(error_code ec, diagnostics diag, midi_result result)
        : boost::system::system_error(ec, diag.to_string()),
          state_(std::make_shared<const state>(state{std::move(diag), std::move(result)}))
    {
    }
    /// What the pipeline learned before it failed (task ids, stems, callback references).
    const midi_result& result() const noexcept { return state_->result; }
    /// Why it failed: KIE's message and code, the stage, the task.
    const diagnostics& diag() const noexcept { return state_->diag; }

private:
    struct state
    {
        diagnostics diag;
        midi_result result;
    };
    std::shared_ptr<const state> state_;  // shared: copying an exception must not throw
};

/// Typed KIE operations and the separation → MIDI pipeline.
///
/// @par Handler signatures
/// `void(error_code, R)` where R is the operation's api:: result type. On failure `diag` says
/// why (KIE's `msg`, code, HTTP status, endpoint); a single request's `R` is then
/// value-initialised, while the pipeline's midi_result holds everything learned so far.
///
/// @par Object lifetimes
/// Parameters are copied. `diag` and the client must outlive the operation.
///
/// @par Cancellation
/// Through the completion handler's cancellation slot (e.g. `boost::asio::bind_cancellation_slot`, or
/// `||` in awaitable_operators, which emits terminal). Which types each operation honours is
/// said at each one; an honoured cancellation completes with `boost::asio::error::operation_aborted`,
/// except that a paid submission cut after it may have been sent completes with
/// client_errc::outcome_unknown (it cannot be un-sent, and KIE may have charged it).
///
/// @par Thread safety
/// Distinct operations may be started concurrently from any thread, also when the io_context
/// runs on several threads.
///
/// @par Shutdown
/// `co_await kie.async_shutdown()` stops the client gracefully: no new operation starts, pending
/// ones end (see async_shutdown), and it completes once none is left; the client may then be
/// destroyed. Destroying a client whose operations are still pending is allowed only when they
/// can never run again, i.e. once its io_context is stopped (or destroyed): their coroutine
/// frames, destroyed with the io_context, touch only what they share with the client (its
/// metrics registry, observer and transport), never the client object itself.
///
/// @par g++ 12
/// Pass requests and midi_params to `co_await` as named variables (or through std::move of
/// one), not as braced temporaries (`co_await kie.generate_midi(midi_params{...})`): g++ 12
/// destroys some temporaries inside a co_await expression twice (`free(): invalid pointer`).
class client
{
public:
    /// The executor type of the client and of its operations' default handlers.
    using executor_type = boost::asio::any_io_executor;

    /// A client of the KIE account `opts` describes, running its I/O on `ex`. Nothing is sent
    /// until an operation starts.
    KIEMIDI_DECL client(executor_type ex, client_options opts);
    /// Destroys the client; see "Shutdown" above for pending operations.
    KIEMIDI_DECL ~client();
    /// Not copyable: one client per account and process owns the pool and the limiter.
    client(const client&) = delete;
    /// Not copyable.
    client& operator=(const client&) = delete;

    /// The executor given at construction.
    executor_type get_executor() const noexcept { return ex_; }

    /// The transport's counters (connections opened, requests sent, retries, paid submissions
    /// waiting for the rate limiter, ...), a snapshot. The transport itself stays the client's:
    /// close() closes it; an http_client of one's own serves other requests.
    KIEMIDI_DECL http_client_stats transport_stats() const;

    /// The metrics this client counts (see kiemidi/metrics.hpp: metrics::collect and
    /// metrics::render_prometheus export them).
    metrics::registry& metrics() noexcept { return *metrics_; }
    /// The tracing observer from client_options, or nullptr.
    metrics::observer* observer() const noexcept { return observer_.get(); }

    /// Cancels pending requests and closes pooled connections. Pending operations complete with
    /// client_errc::shut_down (a paid submission that may have been sent: outcome_unknown).
    /// Waits for callbacks go on; async_shutdown stops everything.
    KIEMIDI_DECL void close();

    /// Graceful stop, for a backend shutting down. From its start, a new operation completes at
    /// once with client_errc::shut_down. Every pending operation is stopped: a wait (or a
    /// pipeline waiting) completes with client_errc::shut_down and, for a pipeline, the result
    /// holds what it learned (task ids, stems); a paid POST in flight is cut and its pipeline
    /// completes with client_errc::outcome_unknown and the POST's callback reference
    /// (midi_result::*_reference, diagnostics::callback_reference()), by which async_find_task
    /// on another client finds the task. Pooled connections are closed. Completes with
    /// `void(error_code)` (always success) once no operation of this client is pending; then the
    /// client may be destroyed. Calling it again completes once the same holds.
    /// @par Cancellation
    /// Not supported: the stop cannot be undone, and the operation completes as soon as the
    /// pending operations have ended (each at its next step, a wait at once).
    /// @par Thread safety
    /// May be called from any thread, also while other operations start or complete.
    template <class Token = kiemidi::default_token_t<executor_type>>
    auto async_shutdown(Token&& token = {})
    {
        return boost::asio::async_initiate<Token, void(error_code)>(
            [this](auto handler) { start_shutdown(boost::asio::any_completion_handler<void(error_code)>(std::move(handler))); },
            token);
    }

    /// Operations of this client not completed yet (the pipeline's inner steps not counted).
    KIEMIDI_DECL std::size_t pending_operations() const;

    /// POST /api/v1/vocal-removal/generate (paid). Result: the separation task id.
    /// An empty `req.callback_url` is filled in with this client's callback URL (callback_url():
    /// the attached listener's, or client_options::polling_callback_url without one).
    /// (One submit per KIE operation: `submit` says what it does to KIE, a paid task that
    /// async_get_separation reads back; filling in the callback URL needs no second spelling.)
    /// Errors: KIE's own word (api_errc: its JSON body `code`; 402, or 429 with a msg about
    /// credits, is api_errc::insufficient_credits and is never resent); an answer that is not
    /// KIE's JSON (a gateway's HTML 5xx, a cut or non-JSON body) or none after the request was
    /// written is client_errc::outcome_unknown: KIE may have processed and charged it.
    /// @par Cancellation
    /// terminal: cuts the request (queued, connecting or in flight); once it may have been
    /// written the result is client_errc::outcome_unknown. Pass a tagged callback URL
    /// (callback_url(kind, reference)) to find the task again with async_find_task.
    template <class Token = kiemidi::default_token_t<executor_type>>
    auto async_submit_separation(api::separation_request req, diagnostics& diag, Token&& token = {})
    {
        return initiate<api::task_created>(&client::start_submit_separation, std::move(req), diag, std::forward<Token>(token));
    }

    /// GET /api/v1/vocal-removal/record-info. An unknown task gives api_errc::unknown_task.
    /// Handler: `void(error_code, api::separation_record)`.
    /// @par Cancellation
    /// terminal: the read stops with operation_aborted. Reads (this one, async_get_midi,
    /// async_get_credits, async_get_music_task) are free and have no side effect to undo.
    template <class Token = kiemidi::default_token_t<executor_type>>
    auto async_get_separation(std::string task_id, diagnostics& diag, Token&& token = {})
    {
        return initiate<api::separation_record>(&client::start_get_separation, std::move(task_id), diag, std::forward<Token>(token));
    }

    /// POST /api/v1/midi/generate (paid) for a finished separation. Result: the MIDI task id.
    /// An empty `req.callback_url` is filled in as for async_submit_separation; errors likewise.
    /// Handler: `void(error_code, api::task_created)`.
    /// @par Cancellation
    /// As async_submit_separation: terminal; once the request may have been written, the result
    /// is client_errc::outcome_unknown.
    template <class Token = kiemidi::default_token_t<executor_type>>
    auto async_submit_midi(api::midi_request req, diagnostics& diag, Token&& token = {})
    {
        return initiate<api::task_created>(&client::start_submit_midi, std::move(req), diag, std::forward<Token>(token));
    }

    /// GET /api/v1/midi/record-info. An unknown task gives api_errc::unknown_task.
    /// Handler: `void(error_code, api::midi_record)`.
    /// @par Cancellation
    /// terminal, as async_get_separation.
    template <class Token = kiemidi::default_token_t<executor_type>>
    auto async_get_midi(std::string task_id, diagnostics& diag, Token&& token = {})
    {
        return initiate<api::midi_record>(&client::start_get_midi, std::move(task_id), diag, std::forward<Token>(token));
    }

    /// GET /api/v1/chat/credit: the account's remaining credits (also recorded in metrics()).
    /// Handler: `void(error_code, api::credits)`.
    /// @par Cancellation
    /// terminal, as async_get_separation.
    template <class Token = kiemidi::default_token_t<executor_type>>
    auto async_get_credits(diagnostics& diag, Token&& token = {})
    {
        return initiate<api::credits>(&client::start_get_credits, std::string{}, diag, std::forward<Token>(token));
    }

    /// GET /api/v1/generate/record-info: a music task and its tracks (their ids are the audioIds
    /// to separate). An unknown task gives api_errc::unknown_task.
    /// Handler: `void(error_code, api::music_task_record)`.
    /// @par Cancellation
    /// terminal, as async_get_separation.
    template <class Token = kiemidi::default_token_t<executor_type>>
    auto async_get_music_task(std::string task_id, diagnostics& diag, Token&& token = {})
    {
        return initiate<api::music_task_record>(&client::start_get_music_task, std::move(task_id), diag, std::forward<Token>(token));
    }

    // ---- pipeline -------------------------------------------------------------------------

    /// Routes this client's callbacks through `listener` (whose callback URLs are sent to KIE)
    /// and `hub` (where waits pick them up). Both must outlive the client. Without this, every
    /// wait polls and KIE is given client_options::polling_callback_url.
    KIEMIDI_DECL void attach_callbacks(callback_hub& hub, const callback_listener& listener);

    /// Waits until separation task `task_id` is finished (callback, polls or both, per `w`).
    /// Completes with the record on success, api_errc::task_failed on failure, whether it was
    /// learned from the callback or by polling (KIE's code and message in diag).
    /// @par Cancellation
    /// terminal, partial and total: the wait stops (nothing is paid while waiting) with
    /// operation_aborted.
    template <class Token = kiemidi::default_token_t<executor_type>>
    auto async_wait_separation(std::string task_id, wait_options w, diagnostics& diag, Token&& token = {})
    {
        return initiate<api::separation_record>(&client::start_wait_separation, wait_args{std::move(task_id), w}, diag,
                                                std::forward<Token>(token));
    }

    /// Waits until MIDI task `task_id` is finished; see async_wait_separation.
    /// Handler: `void(error_code, api::midi_record)`.
    /// @par Cancellation
    /// terminal, partial and total, as async_wait_separation.
    template <class Token = kiemidi::default_token_t<executor_type>>
    auto async_wait_midi(std::string task_id, wait_options w, diagnostics& diag, Token&& token = {})
    {
        return initiate<api::midi_record>(&client::start_wait_midi, wait_args{std::move(task_id), w}, diag,
                                          std::forward<Token>(token));
    }

    /// The whole pipeline: separate → wait → transcribe → wait. Exactly two paid POSTs when all
    /// goes well, and never more: each POST's callback URL carries a fresh reference, and a POST
    /// whose answer is lost is looked for through that callback (midi_params::unknown_outcome_wait)
    /// before the pipeline reports client_errc::outcome_unknown. On failure `diag.stage()` names
    /// the stage ("separation", "midi"), diag carries KIE's code and message and `diag.task_id()`
    /// the task worked on, and the result holds everything learned so far (task ids, stems,
    /// repairs, callback references), whatever the error.
    /// A failed task is api_errc::task_failed whether the callback or a poll said so. The
    /// deadline (midi_params::deadline, stage_timeout) is client_errc::timeout.
    /// @par Cancellation
    /// terminal, partial and total. Whatever the type, no further paid POST is sent and the
    /// pipeline's callback registration is released.
    /// - Before a paid POST is admitted (e.g. queued behind the rate limiter), or while waiting
    ///   for a task: the step stops at once; operation_aborted, with the task ids known so far.
    /// - While an admitted paid POST is in flight: terminal cancellation (also `||` and the
    ///   deadline) cuts it: client_errc::outcome_unknown, with the POST's callback reference in
    ///   midi_result::separation_reference / midi_reference and diag.callback_reference(), from
    ///   which async_find_task finds the task once its callback comes. Partial and total
    ///   cancellation let the POST's answer come, then stop: operation_aborted with its task id
    ///   in the result (a paid POST cannot be undone; its task is kept, never lost).
    /// - While waiting for a lost answer's callback (unknown_outcome_wait): the wait stops;
    ///   client_errc::outcome_unknown with the reference, as above.
    /// A `||` composition discards the loser's result: diag (task_id(), callback_reference())
    /// carries what is needed to find the paid task.
    template <class Token = kiemidi::default_token_t<executor_type>>
    auto async_generate_midi(midi_params p, diagnostics& diag, Token&& token = {})
    {
        return initiate<midi_result>(&client::start_generate_midi, std::move(p), diag, std::forward<Token>(token));
    }

    /// The coroutine spelling: `co_await kie.generate_midi(task_id, audio_id)`. Throws
    /// pipeline_error (a boost::system::system_error whose what() carries KIE's message and the
    /// stage) holding the same result and diagnostics as async_generate_midi.
    KIEMIDI_DECL boost::asio::awaitable<midi_result> generate_midi(std::string task_id, std::string audio_id);
    /// \copydoc generate_midi(std::string, std::string)
    KIEMIDI_DECL boost::asio::awaitable<midi_result> generate_midi(midi_params p);

    /// MIDI from a separation finished earlier: the pipeline's MIDI half (one paid POST, a lost
    /// answer recovered from its tagged callback, the wait per midi_params::wait) after one read
    /// of the separation's record. `stem_audio_id` names one stem (`originData[].id`); empty:
    /// all stems. A separation that is not finished, unknown or failed, or a stem it does not
    /// have, completes with api_errc::task_not_finished, api_errc::unknown_task,
    /// api_errc::task_failed or client_errc::unknown_stem (KIE's message in diag) and costs
    /// nothing. The same as async_generate_midi with midi_params::separation_task_id set, which
    /// also takes a stem by name (midi_params::stem) and the timeouts.
    /// @par Cancellation
    /// As async_generate_midi.
    template <class Token = kiemidi::default_token_t<executor_type>>
    auto async_generate_midi_from_separation(std::string separation_task_id, std::string stem_audio_id,
                                             diagnostics& diag, Token&& token = {})
    {
        midi_params p;
        p.separation_task_id = std::move(separation_task_id);
        p.stem_audio_id = std::move(stem_audio_id);
        return async_generate_midi(std::move(p), diag, std::forward<Token>(token));
    }

    /// The coroutine spelling: `co_await kie.generate_midi_from_separation(id, stem_audio_id)`.
    /// Throws pipeline_error, as generate_midi.
    KIEMIDI_DECL boost::asio::awaitable<midi_result> generate_midi_from_separation(std::string separation_task_id,
                                                                                  std::string stem_audio_id = {});

    /// Finds the task of a paid submission whose answer was lost (client_errc::outcome_unknown)
    /// from its callback: the submission must have been sent with
    /// `callback_url(kind, reference)`. Waits up to `within` for a callback tagged `reference`
    /// (it may have come already: the hub keeps it), then completes with its task id.
    /// Errors: client_errc::outcome_unknown when none came in time (the submission may still
    /// have been processed, e.g. if its callback was lost: do not resend it blindly);
    /// client_errc::invalid_field when the tagged callback is of the other kind;
    /// boost::asio::error::operation_not_supported without an attached hub that can look up
    /// references; operation_aborted when cancelled (terminal, partial, total); client_errc::shut_down
    /// once async_shutdown began (ask another client attached to the same hub).
    /// Handler: `void(error_code, api::task_created)`.
    /// @par Cancellation
    /// terminal, partial and total: the wait stops with operation_aborted; it pays nothing, and
    /// a later async_find_task for the same reference may still find the task.
    template <class Token = kiemidi::default_token_t<executor_type>>
    auto async_find_task(callback_kind kind, std::string reference, std::chrono::milliseconds within, diagnostics& diag,
                         Token&& token = {})
    {
        return initiate<api::task_created>(&client::start_find_task, find_args{kind, std::move(reference), within}, diag,
                                           std::forward<Token>(token));
    }

    /// The hub waits use, or nullptr when no listener is attached.
    callback_hub* hub() const noexcept { return hub_; }

    /// The callBackUrl sent to KIE for each kind of task.
    KIEMIDI_DECL std::string callback_url(callback_kind kind) const;
    /// The callBackUrl for `kind` tagged with `reference` (`?ref=`, see callback_reference.hpp),
    /// so that its callback can be found with async_find_task if the submission's answer is
    /// lost. Pass it as the request's callback_url. Untagged when no listener is attached or
    /// the reference is not valid.
    KIEMIDI_DECL std::string callback_url(callback_kind kind, std::string_view reference) const;

private:
    friend struct detail::client_access;  // the pipeline's direct exchanges (src/client/operations.hpp)

    struct wait_args
    {
        std::string task_id;
        wait_options wait;
    };
    struct find_args
    {
        callback_kind kind;
        std::string reference;
        std::chrono::milliseconds within;
    };

    template <class R>
    using handler_t = boost::asio::any_completion_handler<void(error_code, R)>;

    template <class R, class Start, class Arg, class Token>
    auto initiate(Start start, Arg arg, diagnostics& diag, Token&& token)
    {
        return boost::asio::async_initiate<Token, void(error_code, R)>(
            [this, start](auto handler, Arg a, diagnostics* d) { (this->*start)(std::move(a), *d, std::move(handler)); },
            token, std::move(arg), &diag);
    }

    KIEMIDI_DECL void start_submit_separation(api::separation_request, diagnostics&, handler_t<api::task_created>);
    KIEMIDI_DECL void start_get_separation(std::string, diagnostics&, handler_t<api::separation_record>);
    KIEMIDI_DECL void start_submit_midi(api::midi_request, diagnostics&, handler_t<api::task_created>);
    KIEMIDI_DECL void start_get_midi(std::string, diagnostics&, handler_t<api::midi_record>);
    KIEMIDI_DECL void start_get_credits(std::string, diagnostics&, handler_t<api::credits>);
    KIEMIDI_DECL void start_get_music_task(std::string, diagnostics&, handler_t<api::music_task_record>);
    KIEMIDI_DECL void start_wait_separation(wait_args, diagnostics&, handler_t<api::separation_record>);
    KIEMIDI_DECL void start_wait_midi(wait_args, diagnostics&, handler_t<api::midi_record>);
    KIEMIDI_DECL void start_generate_midi(midi_params, diagnostics&, handler_t<midi_result>);
    KIEMIDI_DECL void start_find_task(find_args, diagnostics&, handler_t<api::task_created>);
    KIEMIDI_DECL void start_shutdown(boost::asio::any_completion_handler<void(error_code)>);

    executor_type ex_;
    std::string api_key_;  // kept only to redact it should KIE echo it back into diagnostics
    std::unique_ptr<http_client> http_;
    callback_hub* hub_ = nullptr;
    std::string separation_callback_url_;
    std::string midi_callback_url_;
    std::string polling_callback_url_;
    std::shared_ptr<metrics::registry> metrics_;
    std::shared_ptr<metrics::observer> observer_;
    std::shared_ptr<detail::client_life> life_;  // pending operations, shared with them
    std::shared_ptr<detail::kie_health> health_;  // one view of KIE's health for every operation (src/client/kie_health.hpp)
};

}  // namespace kiemidi

#endif
