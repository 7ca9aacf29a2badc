// Retry decisions, backoff with full jitter, Retry-After parsing, default classification.
#include <kiemidi/retry_policy.hpp>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdio>
#include <string>

namespace kiemidi {

std::string_view to_string(http_method m) noexcept
{
    return m == http_method::post ? "POST" : "GET";
}

response_verdict classify_by_status(const http_response& r) noexcept
{
    if (r.status == 429) return response_verdict::throttled;
    if (r.status == 455) return response_verdict::unavailable;
    if (r.status >= 500 && r.status <= 599) return response_verdict::server_error;
    return response_verdict::final;
}

retry_policy::retry_policy(retry_options opts) : retry_policy(opts, std::random_device{}()) {}

retry_policy::retry_policy(retry_options opts, std::uint64_t seed) : opts_(opts), rng_(seed)
{
    if (opts_.max_attempts == 0) opts_.max_attempts = 1;
}

bool retry_policy::is_retryable(request_kind kind, const attempt_outcome& o) noexcept
{
    const bool read = kind == request_kind::read;
    switch (o.failure)
    {
    case attempt_failure::local: return false;
    case attempt_failure::not_sent: return true;         // nothing left this process
    case attempt_failure::sent_no_answer: return read;   // a paid request may have been processed
    case attempt_failure::none: break;
    }
    switch (o.verdict)
    {
    case response_verdict::final: return false;
    case response_verdict::throttled:
    case response_verdict::unavailable: return true;     // dropped unprocessed by the server
    case response_verdict::server_error: return read;    // outcome unknown for a paid request
    }
    return false;
}

retry_decision retry_policy::decide(request_kind kind, unsigned attempt, const attempt_outcome& o)
{
    retry_decision d;
    if (attempt >= opts_.max_attempts || !is_retryable(kind, o)) return d;
    d.retry = true;
    if (o.failure == attempt_failure::none && opts_.honour_retry_after && o.retry_after)
        d.delay = std::clamp(*o.retry_after, std::chrono::milliseconds{0}, opts_.max_delay);
    else
        d.delay = backoff(attempt);
    return d;
}

std::chrono::milliseconds retry_policy::backoff_cap(unsigned retry) const noexcept
{
    const unsigned shift = std::min(retry == 0 ? 0u : retry - 1, 30u);
    const auto base = std::max<std::int64_t>(opts_.base_delay.count(), 0);
    const auto max = std::max<std::int64_t>(opts_.max_delay.count(), 0);
    // base * 2^shift, saturating at max
    std::int64_t cap = base;
    for (unsigned i = 0; i < shift && cap < max; ++i) cap *= 2;
    return std::chrono::milliseconds{std::min(cap, max)};
}

std::chrono::milliseconds retry_policy::backoff(unsigned retry)
{
    const auto cap = backoff_cap(retry).count();
    std::uniform_int_distribution<std::int64_t> dist(0, cap);
    return std::chrono::milliseconds{dist(rng_)};
}

namespace {

std::string_view trim(std::string_view s)
{
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

int month_index(const char* m)
{
    static constexpr std::array<const char*, 12> names{"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    for (int i = 0; i < 12; ++i)
        if (std::string_view(m) == names[static_cast<std::size_t>(i)]) return i + 1;
    return 0;
}

std::optional<std::chrono::system_clock::time_point> parse_http_date(std::string_view v)
{
    std::string s(v);
    int day = 0, year = 0, hh = 0, mm = 0, ss = 0;
    char mon[4] = {}, zone[4] = {}, wday[16] = {};
    int consumed = 0;
    if (auto comma = s.find(','); comma != std::string::npos)
    {
        std::string rest = s.substr(comma + 1);
        const bool rfc850 = rest.find('-') != std::string::npos;
        if (rfc850) std::replace(rest.begin(), rest.end(), '-', ' ');
        if (std::sscanf(rest.c_str(), " %2d %3s %4d %2d:%2d:%2d %3s%n", &day, mon, &year, &hh, &mm, &ss, zone,
                        &consumed) != 7 ||
            static_cast<std::size_t>(consumed) != rest.size() || std::string_view(zone) != "GMT")
            return std::nullopt;
        if (rfc850)
        {
            if (year < 0 || year > 99) return std::nullopt;
            year += year < 70 ? 2000 : 1900;
        }
    }
    else
    {
        // asctime: "Sun Nov  6 08:49:37 1994"
        if (std::sscanf(s.c_str(), "%3s %3s %2d %2d:%2d:%2d %4d%n", wday, mon, &day, &hh, &mm, &ss, &year,
                        &consumed) != 7 ||
            static_cast<std::size_t>(consumed) != s.size())
            return std::nullopt;
    }
    const int m = month_index(mon);
    if (m == 0 || hh > 23 || mm > 59 || ss > 60 || hh < 0 || mm < 0 || ss < 0) return std::nullopt;
    const std::chrono::year_month_day ymd{std::chrono::year{year}, std::chrono::month{static_cast<unsigned>(m)},
                                          std::chrono::day{static_cast<unsigned>(day)}};
    if (!ymd.ok()) return std::nullopt;
    return std::chrono::system_clock::time_point{std::chrono::sys_days{ymd}} + std::chrono::hours{hh} +
           std::chrono::minutes{mm} + std::chrono::seconds{ss};
}

}  // namespace

std::optional<std::chrono::milliseconds> parse_retry_after(std::string_view value,
                                                            std::chrono::system_clock::time_point now)
{
    value = trim(value);
    if (value.empty()) return std::nullopt;
    if (std::all_of(value.begin(), value.end(), [](unsigned char c) { return std::isdigit(c) != 0; }))
    {
        if (value.size() > 9) return std::chrono::milliseconds{std::int64_t{999999999} * 1000};  // absurd: saturate
        std::int64_t secs = 0;
        for (char c : value) secs = secs * 10 + (c - '0');
        return std::chrono::milliseconds{secs * 1000};
    }
    auto when = parse_http_date(value);
    if (!when) return std::nullopt;
    if (*when <= now) return std::chrono::milliseconds{0};
    return std::chrono::ceil<std::chrono::milliseconds>(*when - now);
}

std::optional<std::chrono::milliseconds> parse_retry_after(std::string_view value)
{
    return parse_retry_after(value, std::chrono::system_clock::now());
}

}  // namespace kiemidi
