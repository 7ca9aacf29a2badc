// The circuit breaker over KIE's health (see kie_health.hpp).
#include "kie_health.hpp"

#include <algorithm>
#include <ctime>

namespace kiemidi::detail {

using std::chrono::milliseconds;

kie_health::kie_health(kie_health_options opts, std::uint64_t seed) : opts_(opts), rng_(seed) {}

void kie_health::on_answer(kie_instant now)
{
    std::lock_guard lk(m_);
    failures_in_row_ = 0;
    if (!open_) return;
    open_ = false;
    closed_total_ += now.steady - opened_at_.steady;
}

void kie_health::on_failure(kie_down_cause cause, int code, kie_instant now)
{
    std::lock_guard lk(m_);
    ++failures_in_row_;
    if (open_)
    {
        // Still down: say why as of now (maintenance may turn into a gateway error and back).
        cause_ = cause;
        code_ = code;
        return;
    }
    if (cause == kie_down_cause::maintenance || failures_in_row_ >= opts_.failures_to_open) open_locked(cause, code, now);
}

void kie_health::open_locked(kie_down_cause cause, int code, kie_instant now)
{
    open_ = true;
    ++openings_;
    cause_ = cause;
    code_ = code;
    opened_at_ = now;
    interval_ = opts_.first_probe;
    next_probe_ = now.steady + draw_interval_locked();
}

milliseconds kie_health::draw_interval_locked()
{
    const auto top = static_cast<double>(interval_.count());
    const double jitter = std::clamp(opts_.jitter, 0.0, 1.0);
    std::uniform_real_distribution<double> d(top * (1 - jitter), top);
    return milliseconds(static_cast<milliseconds::rep>(jitter > 0 ? d(rng_) : top));
}

bool kie_health::begin_probe(kie_instant now)
{
    std::lock_guard lk(m_);
    if (!open_ || probing_ || now.steady < next_probe_) return false;
    probing_ = true;
    return true;
}

void kie_health::end_probe(kie_instant now)
{
    std::lock_guard lk(m_);
    probing_ = false;
    if (!open_) return;
    interval_ = std::min(opts_.max_probe, interval_ * 2);
    next_probe_ = now.steady + draw_interval_locked();
}

bool kie_health::is_open() const
{
    std::lock_guard lk(m_);
    return open_;
}

kie_health_view kie_health::view(kie_instant now) const
{
    std::lock_guard lk(m_);
    kie_health_view v;
    v.open = open_;
    v.cause = cause_;
    v.code = code_;
    v.openings = openings_;
    v.probing = probing_;
    auto total = closed_total_;
    if (open_)
    {
        v.open_since = opened_at_.wall;
        v.next_probe = next_probe_;
        const auto open_for = std::max(now.steady - opened_at_.steady, std::chrono::steady_clock::duration::zero());
        v.open_for = std::chrono::duration_cast<milliseconds>(open_for);
        total += open_for;
    }
    v.total_open = std::chrono::duration_cast<milliseconds>(total);
    return v;
}

std::string describe_kie_down(const kie_health_view& v)
{
    std::string why;
    switch (v.cause)
    {
    case kie_down_cause::maintenance: why = "maintenance"; break;
    case kie_down_cause::server_error: why = "server errors"; break;
    case kie_down_cause::connection: why = "no connection"; break;
    }
    std::string text = "KIE unavailable (";
    if (v.code != 0) text += "code " + std::to_string(v.code) + ", ";
    text += why + ")";
    const std::time_t t = std::chrono::system_clock::to_time_t(v.open_since);
    std::tm tm{};
    localtime_r(&t, &tm);
    char clock[16];
    if (std::strftime(clock, sizeof clock, "%H:%M:%S", &tm) > 0) text += std::string(" since ") + clock;
    return text;
}

}  // namespace kiemidi::detail
