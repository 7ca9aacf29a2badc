// The client's circuit breaker wired to its exchanges (see kie_health_gate.hpp).
#include "kie_health_gate.hpp"
#include "operations.hpp"
#include "../nothrow_awaitable.hpp"

#include <kiemidi/metrics/model.hpp>

#include <boost/asio/error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>

namespace asio = boost::asio;

namespace kiemidi::detail {

using namespace std::chrono_literals;

namespace {

/// How often a waiting submitter looks again whether another one's probe found KIE back.
constexpr std::chrono::milliseconds recheck_interval = 250ms;

std::string reason_of(kie_down_cause c)
{
    switch (c)
    {
    case kie_down_cause::maintenance: return "maintenance";
    case kie_down_cause::server_error: return "server errors";
    case kie_down_cause::connection: return "no connection";
    }
    return {};
}

void publish(client& c, const kie_health_view& v, kie_instant now)
{
    metrics::kie_availability a;
    a.down = v.open;
    a.code = v.code;
    a.reason = v.open ? reason_of(v.cause) : std::string();
    a.since = v.open_since;
    a.since_steady = now.steady - v.open_for;
    a.next_try = v.next_probe;
    a.down_for = v.open_for;
    a.total_down = v.total_open;
    a.outages = v.openings;
    c.metrics().set_kie(std::move(a));
}

}  // namespace

std::optional<kie_down_cause> kie_down_cause_of(const error_code& ec, unsigned http_status,
                                                std::optional<int> kie_code) noexcept
{
    if (http_status != 0)
    {
        // An answer: KIE's maintenance, a 5xx (KIE's envelope or a gateway's page), or KIE's word.
        if (ec == api_errc::maintenance || kie_code == 455 || (!kie_code && http_status == 455))
            return kie_down_cause::maintenance;
        if (kie_code ? *kie_code >= 500 : http_status >= 500) return kie_down_cause::server_error;
        return std::nullopt;
    }
    if (!ec || ec == asio::error::operation_aborted) return std::nullopt;
    // The library's own errors say nothing sure about KIE: a timeout or a reset after writing may
    // be one slow or lost answer (its paid-step rules handle it), a closed client or a bad URL is
    // the caller's.
    if (ec.category() == get_client_category() || ec.category() == get_api_category()) return std::nullopt;
    return kie_down_cause::connection;  // refused, reset, DNS, TLS
}

void report_exchange(client& c, const error_code& ec, unsigned http_status, std::optional<int> kie_code)
{
    if (ec == client_errc::shut_down || ec == asio::error::operation_aborted) return;
    auto& health = client_access::health(c);
    const auto now = kie_instant::now();
    const bool was_open = health.is_open();
    if (auto cause = kie_down_cause_of(ec, http_status, kie_code))
        health.on_failure(*cause, kie_code.value_or(static_cast<int>(http_status)), now);
    else if (http_status != 0)
        health.on_answer(now);
    else
        return;
    if (was_open || health.is_open()) publish(c, health.view(now), now);
}

void report_attempt(client& c, const attempt_report& r)
{
    auto& health = client_access::health(c);
    const auto now = kie_instant::now();
    const bool was_open = health.is_open();
    if (!r.answered)
    {
        // Only a connection that could not be made (refused, DNS, TLS) says KIE is unreachable;
        // a reset after writing may be one lost answer, which the paid-step rules recover.
        if (r.reached) return;
        health.on_failure(kie_down_cause::connection, 0, now);
    }
    else if (r.verdict == response_verdict::unavailable)
        health.on_failure(kie_down_cause::maintenance, 455, now);
    else if (r.verdict == response_verdict::server_error)
        health.on_failure(kie_down_cause::server_error, static_cast<int>(r.http_status), now);
    else
        health.on_answer(now);
    if (was_open || health.is_open()) publish(c, health.view(now), now);
}

bool unsent_because_kie_was_down(const error_code& ec) noexcept
{
    if (ec == api_errc::maintenance) return true;
    // The transport turns a failure after writing a paid POST into outcome_unknown; a timeout it
    // reports for a paid POST is one of connecting. Network categories: refused, DNS, TLS.
    if (ec == client_errc::timeout) return true;
    if (!ec || ec == asio::error::operation_aborted) return false;
    return ec.category() != get_client_category() && ec.category() != get_api_category();
}

std::string while_kie_is_down(client& c)
{
    const auto view = client_access::health(c).view(kie_instant::now());
    return view.open ? "; " + describe_kie_down(view) : std::string();
}

asio::awaitable<error_code> wait_until_kie_is_up(client& c, bool fail_fast, diagnostics& diag)
{
    auto& health = client_access::health(c);
    if (!health.is_open()) co_return error_code{};
    const auto view = health.view(kie_instant::now());
    diag.set_client_message(describe_kie_down(view) + (fail_fast ? "; not waiting for it (fail fast)"
                                                                  : "; waiting for it to come back"));
    if (fail_fast) co_return client_errc::kie_unavailable;
    asio::steady_timer timer(co_await asio::this_coro::executor);
    for (;;)
    {
        if ((co_await asio::this_coro::cancellation_state).cancelled() != asio::cancellation_type::none)
            co_return asio::error::operation_aborted;
        auto now = kie_instant::now();
        if (!health.is_open()) break;
        if (health.begin_probe(now))
        {
            diagnostics probe_diag;
            auto [ec, credits] = co_await c.async_get_credits(probe_diag, use_nothrow_awaitable);
            (void)credits;
            now = kie_instant::now();
            health.end_probe(now);
            publish(c, health.view(now), now);
            if (ec == asio::error::operation_aborted) co_return ec;
            continue;
        }
        const auto next = health.view(now).next_probe;
        timer.expires_after(std::clamp<std::chrono::steady_clock::duration>(next - now.steady, 1ms, recheck_interval));
        auto [ec] = co_await timer.async_wait(use_nothrow_awaitable);
        if (ec) co_return asio::error::operation_aborted;
    }
    diag.clear();
    co_return error_code{};
}

}  // namespace kiemidi::detail
