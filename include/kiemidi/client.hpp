// kiemidi::client: typed access to KIE's stem-separation and MIDI endpoints, and the
// separation → MIDI pipeline built on them (async_generate_midi; its MIDI half alone, from a
// finished separation: async_generate_midi_from_separation).
//
// One long-lived client per KIE account and process: it owns the connection pool, the TLS
// context and the submission rate limiter shared by every coroutine that uses it. Each operation
// is one KIE request (with the transport's retry policy), parsed into kiemidi::api types; KIE's
// body `code` decides success, never the HTTP status alone.
#ifndef KIEMIDI_CLIENT_HPP
#define KIEMIDI_CLIENT_HPP

#include <kiemidi/api.hpp>
#include <kiemidi/callback_hub.hpp>
#include <kiemidi/client_options.hpp>
#include <kiemidi/config.hpp>
#include <kiemidi/diagnostics.hpp>
#include <kiemidi/error.hpp>
#include <kiemidi/midi_result.hpp>
#include <kiemidi/pipeline_options.hpp>
#include <kiemidi/transport/http_client.hpp>

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <memory>
#include <string>
#include <string_view>

namespace kiemidi {

class callback_listener;

namespace detail {
struct client_access;
class kie_health;
}

/// Typed KIE operations and the separation → MIDI pipeline.
///
/// @par Handler signatures
/// `void(error_code, R)` where R is the operation's api:: result type. On failure `R` is
/// value-initialised and `diag` says why (KIE's `msg`, code, HTTP status, endpoint).
///
/// @par Object lifetimes
/// Parameters are copied. `diag` and the client must outlive the operation.
///
/// @par Cancellation
/// Every operation honours terminal and partial cancellation through its completion handler's
/// cancellation slot (e.g. `asio::bind_cancellation_slot`, or `||` in awaitable_operators); it
/// then completes with `asio::error::operation_aborted`. Cancelling a paid submission after its
/// bytes were sent cannot un-send it: the outcome is then reported as client_errc::outcome_unknown.
///
/// @par Thread safety
/// Distinct operations may be started concurrently from any thread, also when the io_context
/// runs on several threads. The client itself must not be destroyed while operations are pending.
class client
{
public:
    using executor_type = boost::asio::any_io_executor;

    KIEMIDI_DECL client(executor_type ex, client_options opts);
    KIEMIDI_DECL ~client();
    client(const client&) = delete;
    client& operator=(const client&) = delete;

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

    /// Cancels pending requests and closes pooled connections.
    KIEMIDI_DECL void close();

    /// POST /api/v1/vocal-removal/generate (paid). Result: the separation task id.
    /// An empty `req.callback_url` is filled in with this client's callback URL (callback_url():
    /// the attached listener's, or client_options::polling_callback_url without one).
    /// (One submit per KIE operation: `submit` says what it does to KIE, a paid task that
    /// async_get_separation reads back; filling in the callback URL needs no second spelling.)
    /// Errors: KIE's own word (api_errc: its JSON body `code`; 402, or 429 with a msg about
    /// credits, is api_errc::insufficient_credits and is never resent); an answer that is not
    /// KIE's JSON (a gateway's HTML 5xx, a cut or non-JSON body) or none after the request was
    /// written is client_errc::outcome_unknown: KIE may have processed and charged it.
    template <class Token = boost::asio::default_completion_token_t<executor_type>>
    auto async_submit_separation(api::separation_request req, diagnostics& diag, Token&& token = {})
    {
        return initiate<api::task_created>(&client::start_submit_separation, std::move(req), diag, std::forward<Token>(token));
    }

    /// GET /api/v1/vocal-removal/record-info. An unknown task gives api_errc::unknown_task.
    template <class Token = boost::asio::default_completion_token_t<executor_type>>
    auto async_get_separation(std::string task_id, diagnostics& diag, Token&& token = {})
    {
        return initiate<api::separation_record>(&client::start_get_separation, std::move(task_id), diag, std::forward<Token>(token));
    }

    /// POST /api/v1/midi/generate (paid) for a finished separation. Result: the MIDI task id.
    /// An empty `req.callback_url` is filled in as for async_submit_separation; errors likewise.
    template <class Token = boost::asio::default_completion_token_t<executor_type>>
    auto async_submit_midi(api::midi_request req, diagnostics& diag, Token&& token = {})
    {
        return initiate<api::task_created>(&client::start_submit_midi, std::move(req), diag, std::forward<Token>(token));
    }

    /// GET /api/v1/midi/record-info. An unknown task gives api_errc::unknown_task.
    template <class Token = boost::asio::default_completion_token_t<executor_type>>
    auto async_get_midi(std::string task_id, diagnostics& diag, Token&& token = {})
    {
        return initiate<api::midi_record>(&client::start_get_midi, std::move(task_id), diag, std::forward<Token>(token));
    }

    /// GET /api/v1/chat/credit: the account's remaining credits.
    template <class Token = boost::asio::default_completion_token_t<executor_type>>
    auto async_get_credits(diagnostics& diag, Token&& token = {})
    {
        return initiate<api::credits>(&client::start_get_credits, std::string{}, diag, std::forward<Token>(token));
    }

    /// GET /api/v1/generate/record-info: a music task and its tracks (their ids are the audioIds
    /// to separate).
    template <class Token = boost::asio::default_completion_token_t<executor_type>>
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
    /// Completes with the record on success, api_errc::task_failed (or KIE's callback code) on failure.
    template <class Token = boost::asio::default_completion_token_t<executor_type>>
    auto async_wait_separation(std::string task_id, wait_options w, diagnostics& diag, Token&& token = {})
    {
        return initiate<api::separation_record>(&client::start_wait_separation, wait_args{std::move(task_id), w}, diag,
                                                std::forward<Token>(token));
    }

    /// Waits until MIDI task `task_id` is finished; see async_wait_separation.
    template <class Token = boost::asio::default_completion_token_t<executor_type>>
    auto async_wait_midi(std::string task_id, wait_options w, diagnostics& diag, Token&& token = {})
    {
        return initiate<api::midi_record>(&client::start_wait_midi, wait_args{std::move(task_id), w}, diag,
                                          std::forward<Token>(token));
    }

    /// The whole pipeline: separate → wait → transcribe → wait. Exactly two paid POSTs when all
    /// goes well, and never more: each POST's callback URL carries a fresh reference, and a POST
    /// whose answer is lost is looked for through that callback (midi_params::unknown_outcome_wait)
    /// before the pipeline reports client_errc::outcome_unknown. On failure `diag.stage()` names the stage ("separation", "midi") and diag carries
    /// KIE's code and message.
    /// @par Cancellation
    /// terminal: the pipeline stops at its next step, releases its callback registration and
    /// sends no further paid POST; completes with asio::error::operation_aborted.
    template <class Token = boost::asio::default_completion_token_t<executor_type>>
    auto async_generate_midi(midi_params p, diagnostics& diag, Token&& token = {})
    {
        return initiate<midi_result>(&client::start_generate_midi, std::move(p), diag, std::forward<Token>(token));
    }

    /// The coroutine spelling: `co_await kie.generate_midi(task_id, audio_id)`. Throws
    /// boost::system::system_error whose what() carries KIE's message and the stage.
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
    template <class Token = boost::asio::default_completion_token_t<executor_type>>
    auto async_generate_midi_from_separation(std::string separation_task_id, std::string stem_audio_id,
                                             diagnostics& diag, Token&& token = {})
    {
        midi_params p;
        p.separation_task_id = std::move(separation_task_id);
        p.stem_audio_id = std::move(stem_audio_id);
        return async_generate_midi(std::move(p), diag, std::forward<Token>(token));
    }

    /// The coroutine spelling: `co_await kie.generate_midi_from_separation(id, stem_audio_id)`.
    /// Throws boost::system::system_error whose what() carries KIE's message and the stage.
    KIEMIDI_DECL boost::asio::awaitable<midi_result> generate_midi_from_separation(std::string separation_task_id,
                                                                                  std::string stem_audio_id = {});

    /// Finds the task of a paid submission whose answer was lost (client_errc::outcome_unknown)
    /// from its callback: the submission must have been sent with
    /// `callback_url(kind, reference)`. Waits up to `within` for a callback tagged `reference`
    /// (it may have come already: the hub keeps it), then completes with its task id.
    /// Errors: client_errc::outcome_unknown when none came in time (the submission may still
    /// have been processed, e.g. if its callback was lost: do not resend it blindly);
    /// client_errc::invalid_field when the tagged callback is of the other kind;
    /// asio::error::operation_not_supported without an attached hub that can look up
    /// references; operation_aborted when cancelled (terminal, partial, total).
    template <class Token = boost::asio::default_completion_token_t<executor_type>>
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

    executor_type ex_;
    std::string api_key_;  // kept only to redact it should KIE echo it back into diagnostics
    std::unique_ptr<http_client> http_;
    callback_hub* hub_ = nullptr;
    std::string separation_callback_url_;
    std::string midi_callback_url_;
    std::string polling_callback_url_;
    std::shared_ptr<metrics::registry> metrics_;
    std::shared_ptr<metrics::observer> observer_;
    std::shared_ptr<detail::kie_health> health_;  // one view of KIE's health for every operation (src/client/kie_health.hpp)
};

}  // namespace kiemidi

#endif
