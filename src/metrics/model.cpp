// The metrics model: relaxed atomics only (always on, no lock, no allocation per event).
#include <kiemidi/error.hpp>
#include <kiemidi/metrics/model.hpp>

#include <boost/asio/error.hpp>

#include <algorithm>

namespace kiemidi::metrics {

namespace {

// The bucket bounds in nanoseconds, so observe() compares integers.
constexpr auto bucket_bounds_ns = [] {
    std::array<std::int64_t, latency_buckets.size()> out{};
    for (std::size_t i = 0; i < latency_buckets.size(); ++i)
        out[i] = static_cast<std::int64_t>(latency_buckets[i] * 1e9);
    return out;
}();

std::size_t code_slot(std::optional<int> code) noexcept
{
    if (!code) return counted_codes.size() + 1;  // none
    const auto it = std::find(counted_codes.begin(), counted_codes.end(), *code);
    return it == counted_codes.end() ? counted_codes.size() : static_cast<std::size_t>(it - counted_codes.begin());
}

}  // namespace

void histogram::observe(std::chrono::nanoseconds d) noexcept
{
    const std::int64_t ns = std::max<std::int64_t>(d.count(), 0);
    const auto it = std::lower_bound(bucket_bounds_ns.begin(), bucket_bounds_ns.end(), ns);  // le: ns <= bound
    buckets_[static_cast<std::size_t>(it - bucket_bounds_ns.begin())].fetch_add(1, std::memory_order_relaxed);
    sum_ns_.fetch_add(static_cast<std::uint64_t>(ns), std::memory_order_relaxed);
}

histogram::snapshot histogram::read() const noexcept
{
    snapshot s;
    std::uint64_t running = 0;
    for (std::size_t i = 0; i < buckets_.size(); ++i)
    {
        running += buckets_[i].load(std::memory_order_relaxed);
        s.cumulative[i] = running;
    }
    s.count = running;
    s.sum_seconds = static_cast<double>(sum_ns_.load(std::memory_order_relaxed)) / 1e9;
    return s;
}

outcome outcome_of(const error_code& ec) noexcept
{
    if (!ec) return outcome::success;
    if (ec == client_errc::outcome_unknown) return outcome::unknown;
    if (ec == client_errc::timeout) return outcome::timeout;
    if (ec == boost::asio::error::operation_aborted || ec == client_errc::shut_down) return outcome::cancelled;
    return outcome::failure;
}

std::string_view to_string(outcome o) noexcept
{
    switch (o)
    {
    case outcome::success: return "success";
    case outcome::failure: return "failure";
    case outcome::timeout: return "timeout";
    case outcome::cancelled: return "cancelled";
    case outcome::unknown: return "unknown";
    }
    return "failure";
}

std::string_view to_string(stage s) noexcept { return s == stage::submit ? "submit" : "wait"; }

std::string_view endpoint_path(endpoint e) noexcept
{
    switch (e)
    {
    case endpoint::separation_submit: return "/api/v1/vocal-removal/generate";
    case endpoint::separation_record: return "/api/v1/vocal-removal/record-info";
    case endpoint::midi_submit: return "/api/v1/midi/generate";
    case endpoint::midi_record: return "/api/v1/midi/record-info";
    case endpoint::credits: return "/api/v1/chat/credit";
    case endpoint::music_record: return "/api/v1/generate/record-info";
    }
    return "";
}

kie_availability registry::kie(std::chrono::steady_clock::time_point now) const
{
    std::lock_guard lk(kie_m_);
    auto a = kie_;
    if (a.down && now > a.since_steady)
    {
        const auto extra = std::chrono::duration_cast<std::chrono::milliseconds>(now - a.since_steady) - a.down_for;
        if (extra.count() > 0)
        {
            a.down_for += extra;
            a.total_down += extra;
        }
    }
    return a;
}

void registry::set_kie(kie_availability a)
{
    std::lock_guard lk(kie_m_);
    kie_ = std::move(a);
}

void registry::set_credits(std::int64_t remaining) noexcept
{
    credits_.store(remaining, std::memory_order_relaxed);
    credits_known_.store(true, std::memory_order_release);
}

std::optional<std::int64_t> registry::credits() const noexcept
{
    if (!credits_known_.load(std::memory_order_acquire)) return std::nullopt;
    return credits_.load(std::memory_order_relaxed);
}

void registry::count_answer(endpoint e, std::optional<int> kie_code, std::chrono::nanoseconds latency) noexcept
{
    auto& m = endpoints[static_cast<std::size_t>(e)];
    m.answers[code_slot(kie_code)].inc();
    m.latency.observe(latency);
}

std::uint64_t registry::answers(endpoint e, int code) const noexcept
{
    const auto& m = endpoints[static_cast<std::size_t>(e)];
    if (code == 0) return m.answers[counted_codes.size() + 1].value();
    if (code == -1) return m.answers[counted_codes.size()].value();
    return m.answers[code_slot(code)].value();
}

}  // namespace kiemidi::metrics
