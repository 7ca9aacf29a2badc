#include "emulator_stats.hpp"

#include "json_writer.hpp"

namespace kiemidi::emulator::detail {

std::string_view stats::endpoint_key(endpoint e) noexcept
{
    switch (e)
    {
    case sep_generate: return "POST /api/v1/vocal-removal/generate";
    case sep_info: return "GET /api/v1/vocal-removal/record-info";
    case midi_generate: return "POST /api/v1/midi/generate";
    case midi_info: return "GET /api/v1/midi/record-info";
    case credit: return "GET /api/v1/chat/credit";
    case music_info: return "GET /api/v1/generate/record-info";
    case files: return "GET /files";
    default: return "other";
    }
}

void stats::count_response(int code, unsigned http_status)
{
    std::lock_guard lk(m_);
    ++by_code_[code];
    ++by_status_[http_status];
}

void stats::fill(counters& c) const
{
    for (std::size_t i = 0; i < endpoint_count; ++i)
        if (auto n = requests[i].load()) c.requests[std::string(endpoint_key(static_cast<endpoint>(i)))] = n;
    {
        std::lock_guard lk(m_);
        c.responses_by_code = by_code_;
        c.responses_by_http_status = by_status_;
    }
    c.tcp_connections_accepted = tcp_accepted;
    c.tls_connections_accepted = tls_accepted;
    c.tls_handshake_failures = tls_handshake_failures;
    c.open_connections = open_connections;
    c.connection_resets = connection_resets;
    c.slow_responses = slow_responses;
    c.rate_limited = rate_limited;
    c.garbled_after_processing = garbled_after_processing;
    c.outage_answers = outage_answers;
    c.outage_paid_refused = outage_paid_refused;
    c.callbacks_sent = callbacks_sent;
    c.callbacks_dropped = callbacks_dropped;
    c.callbacks_duplicated = callbacks_duplicated;
    c.callbacks_delayed = callbacks_delayed;
    c.callbacks_reordered = callbacks_reordered;
    c.callbacks_failed = callbacks_failed;
    c.callback_attempts = callback_attempts;
    c.callbacks_skipped_non_loopback = callbacks_skipped;
    c.tasks_created = tasks_created;
    c.tasks_completed = tasks_completed;
    c.tasks_failed = tasks_failed;
}

std::string counters_json(const counters& c)
{
    std::uint64_t paid_separations = 0, paid_midis = 0;
    for (const auto& [k, n] : c.separation_submissions) paid_separations += n;
    for (const auto& [k, n] : c.midi_submissions) paid_midis += n;
    json_writer w;
    w.begin_object().key("requests").begin_object();
    for (const auto& [k, n] : c.requests) w.key(k).unsigned_integer(n);
    w.end_object();
    w.key("tcp_connections_accepted").unsigned_integer(c.tcp_connections_accepted);
    w.key("tls_connections_accepted").unsigned_integer(c.tls_connections_accepted);
    w.key("callbacks_sent").unsigned_integer(c.callbacks_sent);
    w.key("callbacks_failed").unsigned_integer(c.callbacks_failed);
    w.key("tasks_created").unsigned_integer(c.tasks_created);
    w.key("tasks_completed").unsigned_integer(c.tasks_completed);
    w.key("tasks_failed").unsigned_integer(c.tasks_failed);
    w.key("duplicate_paid_submissions").unsigned_integer(c.duplicate_paid_submissions());
    w.key("garbled_after_processing").unsigned_integer(c.garbled_after_processing);
    w.key("paid_separation_submissions").unsigned_integer(paid_separations);
    w.key("paid_midi_submissions").unsigned_integer(paid_midis);
    w.key("open_connections").unsigned_integer(c.open_connections);
    w.key("credits").integer(c.credits);
    w.end_object();
    return w.take();
}

}  // namespace kiemidi::emulator::detail
