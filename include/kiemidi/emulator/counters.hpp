/// @file
/// Counters of the local KIE emulator: what it received, answered, charged and called back.
///
/// server::snapshot() returns a consistent copy; tests use it to prove request counts, e.g. that
/// no paid submission was sent twice for the same track (duplicate_paid_submissions() == 0).
#ifndef KIEMIDI_EMULATOR_COUNTERS_HPP
#define KIEMIDI_EMULATOR_COUNTERS_HPP

#include <kiemidi/config.hpp>

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <utility>

namespace kiemidi::emulator {

/// Key of a paid submission: (taskId, audioId). For MIDI: (separation taskId, audioId or "").
using paid_key = std::pair<std::string, std::string>;

/// A snapshot of the emulator's counters.
struct counters
{
    /// Requests received, by "METHOD /path" (e.g. "POST /api/v1/vocal-removal/generate"); unknown paths under "other".
    std::map<std::string, std::uint64_t> requests;
    /// Answers sent, by KIE body `code` (200, 401, 402, 422, 429, ...).
    std::map<int, std::uint64_t> responses_by_code;
    /// Answers sent, by HTTP status.
    std::map<unsigned, std::uint64_t> responses_by_http_status;

    std::uint64_t tcp_connections_accepted = 0;   ///< Connections accepted on the HTTP port.
    std::uint64_t tls_connections_accepted = 0;   ///< Connections accepted on the HTTPS port (before the handshake).
    std::uint64_t tls_handshake_failures = 0;     ///< HTTPS connections whose handshake failed.
    std::uint64_t open_connections = 0;           ///< Connections currently open (both ports).

    std::uint64_t connection_resets = 0;          ///< Connections closed without an answer by the reset faults.
    std::uint64_t slow_responses = 0;             ///< Answers delayed by the slow-response fault.
    std::uint64_t rate_limited = 0;               ///< Paid POSTs refused by the simulated rate limit.
    std::uint64_t garbled_after_processing = 0;   ///< Paid POSTs processed but answered with a non-KIE body (processed_then_* faults).
    std::uint64_t outage_answers = 0;             ///< Requests refused, unprocessed, by the scheduled outage (emulator_options::outage).
    std::uint64_t outage_paid_refused = 0;        ///< Of those, paid POSTs (separation, MIDI).

    /// Processed (charged) separation submissions per (music taskId, audioId).
    std::map<paid_key, std::uint64_t> separation_submissions;
    /// Processed (charged) MIDI submissions per (separation taskId, audioId or "").
    std::map<paid_key, std::uint64_t> midi_submissions;

    std::uint64_t callbacks_sent = 0;             ///< Callback deliveries answered 2xx by the receiver (copies included).
    std::uint64_t callbacks_dropped = 0;          ///< Callbacks suppressed by the drop fault.
    std::uint64_t callbacks_duplicated = 0;       ///< Extra copies sent by the duplicate fault and repeat_separation_callback_after_midi_submit.
    std::uint64_t callbacks_delayed = 0;          ///< Callbacks held back by the delay fault.
    std::uint64_t callbacks_reordered = 0;        ///< Callbacks held back until a later one was sent.
    std::uint64_t callbacks_failed = 0;           ///< Callbacks given up after every attempt failed.
    std::uint64_t callback_attempts = 0;          ///< Delivery attempts (first tries and retries).
    std::uint64_t callbacks_skipped_non_loopback = 0; ///< Callbacks not sent because the URL's host is not loopback.

    std::uint64_t tasks_created = 0;              ///< Separation and MIDI tasks created.
    std::uint64_t tasks_completed = 0;            ///< Tasks that reached success.
    std::uint64_t tasks_failed = 0;               ///< Tasks that reached a failure state.

    std::int64_t credits = 0;                     ///< Credits left.
    std::uint64_t active_operations = 0;          ///< Tracked asynchronous work still running (sessions, timers, callbacks).

    /// Requests received for one endpoint key (0 if none).
    std::uint64_t requests_to(std::string_view endpoint_key) const;
    /// Answers sent with this KIE body code (0 if none).
    std::uint64_t responses_with_code(int code) const;
    /// Highest number of processed paid submissions for any one key (separation and MIDI).
    std::uint64_t max_paid_per_key() const;
    /// Processed paid submissions beyond the first per key, summed over all keys (0 = no duplicate charge).
    std::uint64_t duplicate_paid_submissions() const;
};

}  // namespace kiemidi::emulator

#endif
