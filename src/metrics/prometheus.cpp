// Prometheus text exposition format 0.0.4 of the metrics model and the stats snapshots.
// Names follow Prometheus conventions: kiemidi_ prefix, base units (seconds), counters end in
// _total, and every family has one HELP and one TYPE line before its samples.
#include <kiemidi/metrics/model.hpp>

#include <charconv>
#include <initializer_list>
#include <utility>

namespace kiemidi::metrics {

namespace {

std::string_view kind_name(std::size_t k) { return k == 0 ? "separation" : "midi"; }

class writer
{
public:
    explicit writer(std::string& out) : out_(out) {}

    void family(std::string_view name, std::string_view type, std::string_view help)
    {
        out_.append("# HELP ").append(name).append(" ").append(help).append("\n");
        out_.append("# TYPE ").append(name).append(" ").append(type).append("\n");
    }

    using labels = std::initializer_list<std::pair<std::string_view, std::string_view>>;

    void sample(std::string_view name, labels ls, std::uint64_t v)
    {
        head(name, ls);
        number(v);
        out_ += '\n';
    }
    void sample(std::string_view name, labels ls, std::int64_t v)
    {
        head(name, ls);
        char buf[24];
        auto r = std::to_chars(buf, buf + sizeof buf, v);
        out_.append(buf, r.ptr);
        out_ += '\n';
    }
    void sample(std::string_view name, labels ls, double v)
    {
        head(name, ls);
        real(v);
        out_ += '\n';
    }

    /// name_bucket{..., le=...}, name_sum, name_count.
    void histogram_samples(std::string_view name, labels ls, const histogram::snapshot& h)
    {
        const std::string bucket = std::string(name) + "_bucket";
        for (std::size_t i = 0; i <= latency_buckets.size(); ++i)
        {
            out_.append(bucket);
            out_ += '{';
            for (const auto& [k, v] : ls) label(k, v).push_back(',');
            out_.append("le=\"");
            if (i == latency_buckets.size()) out_.append("+Inf");
            else real(latency_buckets[i]);
            out_.append("\"} ");
            number(h.cumulative[i]);
            out_ += '\n';
        }
        sample(std::string(name) + "_sum", ls, h.sum_seconds);
        sample(std::string(name) + "_count", ls, h.count);
    }

private:
    std::string& label(std::string_view k, std::string_view v)
    {
        out_.append(k).append("=\"");
        for (char c : v)
        {
            if (c == '\\' || c == '"') out_ += '\\';
            if (c == '\n')
            {
                out_.append("\\n");
                continue;
            }
            out_ += c;
        }
        out_ += '"';
        return out_;
    }
    void head(std::string_view name, labels ls)
    {
        out_.append(name);
        if (ls.size() != 0)
        {
            out_ += '{';
            bool first = true;
            for (const auto& [k, v] : ls)
            {
                if (!first) out_ += ',';
                first = false;
                label(k, v);
            }
            out_ += '}';
        }
        out_ += ' ';
    }
    void number(std::uint64_t v)
    {
        char buf[24];
        auto r = std::to_chars(buf, buf + sizeof buf, v);
        out_.append(buf, r.ptr);
    }
    void real(double v)
    {
        char buf[32];
        auto r = std::to_chars(buf, buf + sizeof buf, v);
        out_.append(buf, r.ptr);
    }

    std::string& out_;
};

void render_model(writer& w, const registry& m)
{
    w.family("kiemidi_stage_in_flight", "gauge", "Paid-task stages running now, by stage (submit, wait) and task kind.");
    for (std::size_t s = 0; s < stage_count; ++s)
        for (std::size_t k = 0; k < 2; ++k)
            w.sample("kiemidi_stage_in_flight", {{"stage", to_string(static_cast<stage>(s))}, {"kind", kind_name(k)}},
                     m.stages[s][k].in_flight.value());
    w.family("kiemidi_stage_duration_seconds", "histogram",
             "Duration of finished stages: submit (the paid POST, lost-answer recovery included) and wait (for the task's result).");
    for (std::size_t s = 0; s < stage_count; ++s)
        for (std::size_t k = 0; k < 2; ++k)
            w.histogram_samples("kiemidi_stage_duration_seconds",
                                {{"stage", to_string(static_cast<stage>(s))}, {"kind", kind_name(k)}},
                                m.stages[s][k].duration.read());
    w.family("kiemidi_stages_finished_total", "counter", "Finished stages by stage, task kind and outcome.");
    for (std::size_t s = 0; s < stage_count; ++s)
        for (std::size_t k = 0; k < 2; ++k)
            for (std::size_t o = 0; o < outcome_count; ++o)
                w.sample("kiemidi_stages_finished_total",
                         {{"stage", to_string(static_cast<stage>(s))},
                          {"kind", kind_name(k)},
                          {"outcome", to_string(static_cast<outcome>(o))}},
                         m.stages[s][k].finished[o].value());

    w.family("kiemidi_pipelines_in_flight", "gauge", "Separation-to-MIDI pipelines running now.");
    w.sample("kiemidi_pipelines_in_flight", {}, m.pipelines.in_flight.value());
    w.family("kiemidi_pipeline_duration_seconds", "histogram", "Duration of finished pipelines, end to end.");
    w.histogram_samples("kiemidi_pipeline_duration_seconds", {}, m.pipelines.duration.read());
    w.family("kiemidi_pipelines_finished_total", "counter", "Finished pipelines by outcome.");
    for (std::size_t o = 0; o < outcome_count; ++o)
        w.sample("kiemidi_pipelines_finished_total", {{"outcome", to_string(static_cast<outcome>(o))}},
                 m.pipelines.finished[o].value());

    w.family("kiemidi_kie_answers_total", "counter",
             "Final KIE answers of exchanges (after the transport's retries) by endpoint and body code (other: an "
             "uncounted code; none: the body was not KIE's JSON).");
    for (std::size_t e = 0; e < endpoint_count; ++e)
    {
        const auto path = endpoint_path(static_cast<endpoint>(e));
        const auto& em = m.endpoints[e];
        for (std::size_t c = 0; c < code_slots; ++c)
        {
            const auto n = em.answers[c].value();
            if (n == 0) continue;  // only codes seen: most never are
            char buf[12];
            std::string_view code;
            if (c < counted_codes.size())
            {
                auto r = std::to_chars(buf, buf + sizeof buf, counted_codes[c]);
                code = std::string_view(buf, static_cast<std::size_t>(r.ptr - buf));
            }
            else code = c == counted_codes.size() ? "other" : "none";
            w.sample("kiemidi_kie_answers_total", {{"endpoint", path}, {"code", code}}, n);
        }
    }
    w.family("kiemidi_kie_no_answer_total", "counter", "KIE exchanges that ended without an answer, by endpoint.");
    for (std::size_t e = 0; e < endpoint_count; ++e)
        w.sample("kiemidi_kie_no_answer_total", {{"endpoint", endpoint_path(static_cast<endpoint>(e))}},
                 m.endpoints[e].no_answer.value());
    w.family("kiemidi_kie_request_duration_seconds", "histogram",
             "Time from sending a KIE request to its final answer (the transport's retries included), by endpoint.");
    for (std::size_t e = 0; e < endpoint_count; ++e)
        w.histogram_samples("kiemidi_kie_request_duration_seconds", {{"endpoint", endpoint_path(static_cast<endpoint>(e))}},
                            m.endpoints[e].latency.read());

    w.family("kiemidi_lost_answers_recovered_total", "counter",
             "Paid submissions whose answer was lost and whose task was found through its tagged callback.");
    for (std::size_t k = 0; k < 2; ++k)
        w.sample("kiemidi_lost_answers_recovered_total", {{"kind", kind_name(k)}}, m.recovered[k].value());
    w.family("kiemidi_unknown_outcomes_total", "counter",
             "Paid submissions that ended with an unknown outcome (may have been processed and charged).");
    for (std::size_t k = 0; k < 2; ++k)
        w.sample("kiemidi_unknown_outcomes_total", {{"kind", kind_name(k)}}, m.unknown_outcomes[k].value());
    w.family("kiemidi_rate_limiter_wait_seconds", "histogram",
             "Time paid submissions waited for the submission rate limiter before being sent.");
    w.histogram_samples("kiemidi_rate_limiter_wait_seconds", {}, m.limiter_wait.read());
    w.family("kiemidi_callbacks_taken_total", "counter", "KIE callbacks that ended a wait, by task kind.");
    for (std::size_t k = 0; k < 2; ++k)
        w.sample("kiemidi_callbacks_taken_total", {{"kind", kind_name(k)}}, m.callbacks[k].value());
    const auto kie = m.kie();
    w.family("kiemidi_kie_available", "gauge",
             "1 while the client's circuit breaker takes KIE to be up; 0 while it is open (no paid submission starts).");
    w.sample("kiemidi_kie_available", {}, std::uint64_t{kie.down ? 0u : 1u});
    w.family("kiemidi_kie_unavailable_seconds_total", "counter", "Time the circuit breaker over KIE's health was open.");
    w.sample("kiemidi_kie_unavailable_seconds_total", {}, static_cast<double>(kie.total_down.count()) / 1000.0);
    w.family("kiemidi_kie_outages_total", "counter", "Times the circuit breaker over KIE's health opened.");
    w.sample("kiemidi_kie_outages_total", {}, kie.outages);
    if (auto credits = m.credits())
    {
        w.family("kiemidi_credits_remaining", "gauge", "The KIE account's credits as last read.");
        w.sample("kiemidi_credits_remaining", {}, *credits);
    }
}

void counter_family(writer& w, std::string_view name, std::string_view help, std::uint64_t v)
{
    w.family(name, "counter", help);
    w.sample(name, {}, v);
}

void gauge_family(writer& w, std::string_view name, std::string_view help, std::uint64_t v)
{
    w.family(name, "gauge", help);
    w.sample(name, {}, v);
}

void render_transport(writer& w, const http_client_stats& t, bool limiter_given)
{
    counter_family(w, "kiemidi_http_connections_opened_total", "TCP connections to KIE established.", t.connections_opened);
    counter_family(w, "kiemidi_http_tls_handshakes_total", "TLS handshakes with KIE completed.", t.tls_handshakes);
    counter_family(w, "kiemidi_http_attempts_total", "HTTP request attempts that started writing.", t.requests_sent);
    counter_family(w, "kiemidi_http_retries_total", "HTTP attempts after the first one of a request.", t.retries);
    counter_family(w, "kiemidi_http_throttled_total", "Answers classified as throttled (429 and the like).", t.throttled);
    counter_family(w, "kiemidi_http_stale_connections_discarded_total",
                   "Idle pooled connections found closed by KIE and discarded before reuse.", t.stale_discarded);
    gauge_family(w, "kiemidi_http_requests_in_flight", "KIE requests not yet completed.", t.in_flight);
    gauge_family(w, "kiemidi_http_open_connections", "Connections to KIE open or being opened.", t.open_connections);
    gauge_family(w, "kiemidi_http_idle_connections", "Open connections idle in the pool.", t.idle_connections);
    if (limiter_given) return;
    gauge_family(w, "kiemidi_rate_limiter_waiting", "Paid submissions waiting for the rate limiter.", t.limiter_waiting);
    gauge_family(w, "kiemidi_rate_limiter_budget", "The rate limiter's current budget of paid submissions per window.",
                 t.limiter_budget);
    counter_family(w, "kiemidi_rate_limiter_penalties_total",
                   "Throttled answers to paid submissions reported to the rate limiter.", t.limiter_penalties);
}

void render_limiter(writer& w, const rate_limiter_stats& l)
{
    gauge_family(w, "kiemidi_rate_limiter_waiting", "Paid submissions waiting for the rate limiter.", l.waiting);
    gauge_family(w, "kiemidi_rate_limiter_budget", "The rate limiter's current budget of paid submissions per window.",
                 l.budget);
    counter_family(w, "kiemidi_rate_limiter_penalties_total",
                   "Throttled answers to paid submissions reported to the rate limiter.", l.penalties);
    gauge_family(w, "kiemidi_rate_limiter_in_use", "Granted submissions whose answer has not come yet.", l.in_use);
    counter_family(w, "kiemidi_rate_limiter_granted_total", "Paid submissions admitted by the rate limiter.", l.granted);
    counter_family(w, "kiemidi_rate_limiter_queued_total", "Paid submissions that had to wait in the limiter's queue.",
                   l.queued);
    counter_family(w, "kiemidi_rate_limiter_cancelled_total", "Limiter waits that ended without admission.", l.cancelled);
}

void render_hub(writer& w, const callback_hub_stats& h)
{
    gauge_family(w, "kiemidi_callback_hub_waiting", "Waits registered in the callback hub now.", h.waiting);
    gauge_family(w, "kiemidi_callback_hub_buffered", "Callbacks buffered in the hub now (nobody waited yet).", h.buffered);
    counter_family(w, "kiemidi_callback_hub_delivered_total", "Callbacks handed to a wait.", h.delivered_total);
    counter_family(w, "kiemidi_callback_hub_buffered_total", "Callbacks buffered on arrival.", h.buffered_total);
    counter_family(w, "kiemidi_callback_hub_duplicates_total", "Callbacks dropped as duplicates.", h.duplicates_total);
    counter_family(w, "kiemidi_callback_hub_expired_total", "Buffered callbacks dropped after their time to live.",
                   h.expired_total);
    counter_family(w, "kiemidi_callback_hub_overflowed_total", "Buffered callbacks dropped because the buffer was full.",
                   h.overflowed_total);
}

void render_listener(writer& w, const listener_stats& l)
{
    counter_family(w, "kiemidi_callback_listener_connections_total", "Connections accepted by the callback listener.",
                   l.accepted_connections);
    gauge_family(w, "kiemidi_callback_listener_open_connections", "Callback listener connections open now.",
                 l.open_connections);
    w.family("kiemidi_callback_listener_requests_total", "counter",
             "Requests the callback listener answered, by result (accepted: verified, duplicates included; forged: bad "
             "or missing signature; stale: signature too old).");
    const std::pair<std::string_view, std::uint64_t> results[] = {
        {"accepted", l.callbacks_accepted}, {"forged", l.rejected_forged},     {"stale", l.rejected_stale},
        {"not_found", l.not_found},         {"method_not_allowed", l.method_not_allowed},
        {"too_large", l.too_large},         {"malformed", l.malformed}};
    for (const auto& [result, n] : results) w.sample("kiemidi_callback_listener_requests_total", {{"result", result}}, n);
    counter_family(w, "kiemidi_callback_listener_duplicates_total", "Verified callbacks the hub dropped as duplicates.",
                   l.duplicates);
    w.family("kiemidi_callback_listener_callbacks_total", "counter",
             "Callbacks on the listener's separation and MIDI paths, by kind and result (accepted: verified, duplicates "
             "included; duplicate: verified, already delivered; forged: bad or missing signature; stale: signature too "
             "old).");
    const std::pair<std::string_view, const listener_kind_stats*> kinds[] = {{"separation", &l.separation},
                                                                             {"midi", &l.midi}};
    for (const auto& [kind, k] : kinds)
    {
        const std::pair<std::string_view, std::uint64_t> by_result[] = {
            {"accepted", k->accepted}, {"duplicate", k->duplicates}, {"forged", k->forged}, {"stale", k->stale}};
        for (const auto& [result, n] : by_result)
            w.sample("kiemidi_callback_listener_callbacks_total", {{"kind", kind}, {"result", result}}, n);
    }
    counter_family(w, "kiemidi_callback_listener_refused_total", "Connections closed at once: the listener was full.",
                   l.refused_over_capacity);
    counter_family(w, "kiemidi_callback_listener_timeouts_total", "Listener connections closed because a deadline passed.",
                   l.timeouts);
    counter_family(w, "kiemidi_callback_listener_tls_handshake_failures_total", "Listener TLS handshakes that failed.",
                   l.tls_handshake_failures);
}

}  // namespace

std::string render_prometheus(const sources& s)
{
    std::string out;
    out.reserve(24 * 1024);
    writer w(out);
    if (s.model) render_model(w, *s.model);
    if (s.transport) render_transport(w, *s.transport, s.limiter.has_value());
    if (s.limiter) render_limiter(w, *s.limiter);
    if (s.hub) render_hub(w, *s.hub);
    if (s.listener) render_listener(w, *s.listener);
    return out;
}

}  // namespace kiemidi::metrics
