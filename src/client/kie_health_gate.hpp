// Internal: the client's circuit breaker (kie_health.hpp) wired to its exchanges. Every KIE
// exchange reports how it ended; a paid submission first waits here while KIE is down, and the
// waiting submitters take turns probing KIE with the free credits read.
#ifndef KIEMIDI_SRC_CLIENT_KIE_HEALTH_GATE_HPP
#define KIEMIDI_SRC_CLIENT_KIE_HEALTH_GATE_HPP

#include "kie_health.hpp"

#include <kiemidi/client.hpp>
#include <kiemidi/diagnostics.hpp>
#include <kiemidi/error.hpp>

#include <boost/asio/awaitable.hpp>

#include <optional>
#include <string>

namespace kiemidi::detail {

/// How one exchange ended, for the breaker: `ec` is the exchange's error (the transport's, or
/// KIE's word), `http_status` 0 when no answer came, `kie_code` the body's code when KIE's.
/// Nullopt: KIE answered (it is up), or the failure says nothing about KIE (cancelled, closed,
/// a local error).
KIEMIDI_DECL std::optional<kie_down_cause> kie_down_cause_of(const error_code& ec, unsigned http_status,
                                                             std::optional<int> kie_code) noexcept;

/// Tells `c`'s breaker how an exchange ended (see kie_down_cause_of) and publishes its view in
/// `c`'s metrics.
void report_exchange(client& c, const error_code& ec, unsigned http_status, std::optional<int> kie_code);

/// Tells `c`'s breaker how one transport attempt ended (transport_options::on_attempt): a
/// maintenance verdict opens it at once, server errors and no answer count towards opening it,
/// any other answer closes it.
void report_attempt(client& c, const attempt_report& r);

/// True when a paid POST that ended with `ec` was provably not processed because KIE was down:
/// KIE's maintenance answer (455), or a connection failure before the request was written
/// (the transport reports a failure after writing as client_errc::outcome_unknown).
bool unsent_because_kie_was_down(const error_code& ec) noexcept;

/// "; KIE unavailable (code 455, maintenance) since 12:03:10" while `c`'s breaker is open,
/// empty otherwise: what a deadline's message adds.
std::string while_kie_is_down(client& c);

/// Returns at once while KIE is up. While the breaker is open: with `fail_fast`,
/// client_errc::kie_unavailable; otherwise waits, probing KIE (GET credits) when the breaker
/// says a probe is due and no other caller is probing, until KIE answers. `diag`'s client
/// message says that KIE is unavailable and since when. Cancellable (operation_aborted).
boost::asio::awaitable<error_code> wait_until_kie_is_up(client& c, bool fail_fast, diagnostics& diag);

}  // namespace kiemidi::detail

#endif
