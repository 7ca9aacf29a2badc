// The paid step shared by the pipeline and the batch (see paid_submission.hpp).
#include "paid_submission.hpp"
#include "kie_health.hpp"
#include "kie_health_gate.hpp"
#include "../nothrow_awaitable.hpp"

#include "stage_span.hpp"

#include <kiemidi/callback_reference.hpp>

#include <boost/asio/use_awaitable.hpp>

namespace asio = boost::asio;

namespace kiemidi::detail {



bool answer_may_hide_a_task(const error_code& ec) noexcept
{
    // KIE's docs: "If a POST ends in a timeout or 5xx, its outcome is unknown. Check record-info
    // or wait for the callback before resubmitting." A 5xx envelope is KIE's answer, but not a
    // statement that the request was refused.
    return ec == client_errc::outcome_unknown || ec == api_errc::server_error;
}

bool outcome_may_be_paid(const error_code& ec) noexcept
{
    return answer_may_hide_a_task(ec) || ec == client_errc::shut_down || ec == asio::error::operation_aborted;
}

// The rare path: its own coroutine, so the step's frame does not carry it.
asio::awaitable<error_code> recover_lost_answer(client& c, callback_kind kind, const std::string& ref,
                                                std::chrono::milliseconds within, diagnostics& diag, std::string& task_id)
{
    if (ref.empty() || !c.hub())
    {
        diag.set_client_message(diag.client_message() + "; no callback listener is attached to find the task by");
        co_return client_errc::outcome_unknown;
    }
    if (within.count() <= 0)
    {
        diag.set_client_message(diag.client_message() + "; not waiting for its callback (no unknown-outcome wait)");
        co_return client_errc::outcome_unknown;
    }
    diagnostics find_diag;
    std::string reference = ref;  // a named local: g++ 12 mishandles temporaries inside co_await
    auto [ec, found] = co_await c.async_find_task(kind, std::move(reference), within, find_diag, use_nothrow_awaitable);
    if (!ec)
    {
        task_id = std::move(found.task_id);
        co_return error_code{};
    }
    const auto& why = find_diag.client_message().empty() ? ec.message() : find_diag.client_message();
    diag.set_client_message(diag.client_message() + "; " + why);
    co_return ec == asio::error::operation_aborted ? ec : error_code(client_errc::outcome_unknown);
}

asio::awaitable<error_code> submit_paid(client& c, callback_kind kind, const paid_post& post, paid_hooks* hooks,
                                        std::chrono::milliseconds unknown_outcome_wait, diagnostics& diag, paid_step& out,
                                        std::uint64_t parent_id, bool fail_fast)
{
    out = paid_step{};
    stage_span span(c, metrics::stage::submit, kind, parent_id);
    const auto ec = co_await submit_paid_step(c, kind, post, hooks, unknown_outcome_wait, diag, out, fail_fast);
    if (out.recovered) c.metrics().recovered[static_cast<std::size_t>(kind)].inc();
    if (ec == client_errc::outcome_unknown) c.metrics().unknown_outcomes[static_cast<std::size_t>(kind)].inc();
    span.finish(ec, out.task_id);
    co_return ec;
}

asio::awaitable<error_code> submit_paid_step(client& c, callback_kind kind, const paid_post& post, paid_hooks* hooks,
                                             std::chrono::milliseconds unknown_outcome_wait, diagnostics& diag,
                                             paid_step& out, bool fail_fast)
{
    // The callback URL carries a fresh reference, so a lost answer can be recovered from the
    // callback instead of being reported as unknown (and a crash after the POST, from the intent).
    const std::string ref = c.hub() ? make_callback_reference() : std::string();
    out.reference = ref;
    // The intent is recorded when the transport admits the POST, not before it waits for the
    // rate limiter: a crash during that wait must not leave an intent for a POST never sent.
    // The hook's diagnostics are kept aside: the transport reports its own failure after it.
    // The admission step also measures how long the POST waited for the rate limiter.
    diagnostics hook_diag;
    const auto submitted_at = std::chrono::steady_clock::now();
    admission_step admitted = [&c, submitted_at, hooks, &ref, &out, &hook_diag, &diag]() -> asio::awaitable<error_code> {
        c.metrics().limiter_wait.observe(std::chrono::steady_clock::now() - submitted_at);
        // A POST sent again after KIE came back keeps the intent recorded the first time.
        if (!hooks || out.admitted) co_return error_code{};
        const error_code hec = co_await hooks->intent(ref);
        if (hec)
        {
            out.hook_failed = true;
            hook_diag = diag;
        }
        else
            out.admitted = true;
        co_return hec;
    };
    error_code ec;
    for (bool refused_while_down = false;;)
    {
        // While KIE is down no paid POST starts; nothing is admitted or recorded meanwhile.
        if (auto wec = co_await wait_until_kie_is_up(c, fail_fast, diag))
        {
            out.unsent = refused_while_down;
            diag.set_stage(kind == callback_kind::separation ? "separation" : "midi");
            co_return wec;
        }
        // Named, not a temporary inside co_await (g++ 12 destroys such temporaries twice).
        std::string callback_url = c.callback_url(kind, ref);
        auto admit = admitted;
        auto [pec, created] = co_await post(std::move(callback_url), std::move(admit));
        ec = pec;
        out.task_id = std::move(created.task_id);
        // KIE refused it unprocessed (455) or it never reached KIE: the breaker has heard of it,
        // and the same POST goes again once KIE is back. Anything else follows the rules below.
        if (out.hook_failed || !unsent_because_kie_was_down(ec)) break;
        refused_while_down = true;
    }
    if (out.hook_failed)
    {
        diag = std::move(hook_diag);
        out.task_id.clear();
        co_return ec;
    }
    // Only a lost answer (or a 5xx) is worth waiting for: a closed client or a cancelled caller
    // ends the step at once, still reported as possibly paid (outcome_may_be_paid).
    if (answer_may_hide_a_task(ec))
    {
        if (ec == api_errc::server_error)
            diag.set_client_message("KIE answered a server error; the submission may still have been processed, so it "
                                    "was not resent");
        ec = co_await recover_lost_answer(c, kind, ref, unknown_outcome_wait, diag, out.task_id);
        if (!ec)
        {
            out.recovered = true;
            diag.clear();
        }
    }
    if (ec)
    {
        out.task_id.clear();
        diag.set_stage(kind == callback_kind::separation ? "separation" : "midi");
        co_return ec;
    }
    if (hooks)
    {
        if (auto hec = co_await hooks->task_id(out.task_id))
        {
            out.hook_failed = true;
            co_return hec;
        }
    }
    co_return error_code{};
}

}  // namespace kiemidi::detail
