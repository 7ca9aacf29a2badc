// One paid submission (separation or MIDI POST), as the pipeline and the batch both take it:
// the intent with its callback reference, the POST, and, when the answer may hide a task KIE
// processed and charged, the recovery of that task from its tagged callback. Internal.
//
// A paid POST is never sent twice, and only KIE's own word fails it: an answer that may hide a
// paid task ends as the task (recovered from the callback its callBackUrl's reference tags) or
// as client_errc::outcome_unknown, never as a failure that invites paying again.
#ifndef KIEMIDI_SRC_CLIENT_PAID_SUBMISSION_HPP
#define KIEMIDI_SRC_CLIENT_PAID_SUBMISSION_HPP

#include "operations.hpp"

#include <kiemidi/callback_hub.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

namespace kiemidi::detail {

/// Awaited by the transport when the POST is admitted, just before it is written
/// (http_request::before_first_write); empty when the caller records nothing.
using admission_step = before_write_step;

/// Starts the POST with `callback_url` (the step's reference included) as its callBackUrl,
/// handing `admitted` to the transport (submit_separation / submit_midi take it).
using paid_post = std::function<op_result<api::task_created>(std::string callback_url, admission_step admitted)>;

/// What a caller records around the POST (the batch: its journal). Both may suspend.
class paid_hooks
{
public:
    virtual ~paid_hooks() = default;
    /// When the POST is admitted (after the submission rate limiter, before its first byte is
    /// written), with the reference its callback will carry. An error ends the step with nothing
    /// sent. Not called when the POST ends before it is admitted (cancelled, closed, refused by
    /// the limiter): then nothing was sent and nothing needs recording.
    virtual boost::asio::awaitable<error_code> intent(const std::string& reference) = 0;
    /// The task id, answered or recovered from the callback. An error ends the step with it.
    virtual boost::asio::awaitable<error_code> task_id(const std::string& task_id) = 0;
};

/// How a step went, beside its error_code.
struct paid_step
{
    std::string task_id;       ///< The task (on success).
    /// The callback reference the POST is sent with (set before it is sent; empty without a
    /// hub): client::async_find_task finds the task by it when the outcome is unknown.
    std::string reference;
    bool recovered = false;    ///< Its answer was lost; the task was found through its tagged callback.
    bool hook_failed = false;  ///< The error is a hook's (the hook filled its own diagnostics).
    /// hooks->intent succeeded: the POST was about to be written. False when the step ended
    /// before its POST was admitted, so nothing can have been paid.
    bool admitted = false;
    /// KIE provably processed nothing: the POST was refused or not sent while KIE was down
    /// (kie_health_gate.hpp), and the step ended (cancelled, or fail fast) before KIE came back.
    /// An intent recorded for it names no task.
    bool unsent = false;
};

/// True when a submission that ended with `ec` may have been processed (and charged) by KIE:
/// sent, and no KIE answer says otherwise (client_errc::outcome_unknown; also shut_down and
/// operation_aborted, which can cut an exchange off after the request was written).
bool outcome_may_be_paid(const error_code& ec) noexcept;

/// True when the POST's answer leaves open whether KIE created a task, so the step looks for its
/// tagged callback: no KIE answer (client_errc::outcome_unknown), or KIE's 5xx (api_errc::server_error).
bool answer_may_hide_a_task(const error_code& ec) noexcept;

/// The task of a paid POST whose answer was lost (or never recorded), from the callback tagged
/// with `ref`, waiting up to `within`. On failure `diag`'s client message gets "; <why>" appended
/// and the error is client_errc::outcome_unknown (operation_aborted when cancelled).
boost::asio::awaitable<error_code> recover_lost_answer(client& c, callback_kind kind, const std::string& ref,
                                                       std::chrono::milliseconds within, diagnostics& diag,
                                                       std::string& task_id);

/// One paid step: a fresh callback reference (when a hub is attached), post(callback URL tagged
/// with it) with hooks->intent(reference) run when the transport admits it, then, when its answer was lost (client_errc::outcome_unknown:
/// none came, or not KIE's) or was KIE's 5xx (answer_may_hide_a_task), a wait of up to
/// `unknown_outcome_wait` for the tagged callback; then
/// hooks->task_id. `hooks` may be null.
/// Returns {} with out.task_id; KIE's error (its word: the submission failed); a hook's error
/// (out.hook_failed); or, when no callback named the task, client_errc::outcome_unknown
/// (operation_aborted when the caller cancelled the wait), with `diag` keeping the POST's HTTP
/// status and message and why recovering failed. shut_down / operation_aborted from the POST
/// itself end the step at once (outcome_may_be_paid tells the caller not to count it failed).
/// While the client's breaker says KIE is down, the step waits before its POST (nothing is
/// admitted or recorded meanwhile); a POST refused unprocessed because KIE went down (455, no
/// connection) goes again, with the same reference and intent, once KIE is back. With
/// `fail_fast`, the step ends with client_errc::kie_unavailable instead of waiting.
/// Measured as the "submit" stage of the client's metrics (and its observer's events, with
/// `parent_id` naming the pipeline it belongs to; 0 for none).
boost::asio::awaitable<error_code> submit_paid(client& c, callback_kind kind, const paid_post& post, paid_hooks* hooks,
                                               std::chrono::milliseconds unknown_outcome_wait, diagnostics& diag,
                                               paid_step& out, std::uint64_t parent_id = 0, bool fail_fast = false);

/// submit_paid without the measuring.
boost::asio::awaitable<error_code> submit_paid_step(client& c, callback_kind kind, const paid_post& post,
                                                    paid_hooks* hooks, std::chrono::milliseconds unknown_outcome_wait,
                                                    diagnostics& diag, paid_step& out, bool fail_fast = false);

}  // namespace kiemidi::detail

#endif
