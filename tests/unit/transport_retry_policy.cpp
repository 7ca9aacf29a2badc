// retry_policy: which outcomes are resent for reads and paid submissions, backoff bounds with
// full jitter, Retry-After handling and parsing, default classification by HTTP status.
#include <kiemidi/retry_policy.hpp>

#include <boost/test/unit_test.hpp>

#include <set>

using namespace std::chrono_literals;
using kiemidi::attempt_failure;
using kiemidi::attempt_outcome;
using kiemidi::request_kind;
using kiemidi::response_verdict;
using kiemidi::retry_policy;

namespace {

attempt_outcome failed(attempt_failure f) { return attempt_outcome{f, response_verdict::final, std::nullopt}; }
attempt_outcome answered(response_verdict v) { return attempt_outcome{attempt_failure::none, v, std::nullopt}; }

}  // namespace

BOOST_AUTO_TEST_SUITE(transport_retry_policy)

BOOST_AUTO_TEST_CASE(reads_are_resent_after_every_transient_failure)
{
    const auto read = request_kind::read;
    BOOST_TEST(retry_policy::is_retryable(read, failed(attempt_failure::not_sent)));
    BOOST_TEST(retry_policy::is_retryable(read, failed(attempt_failure::sent_no_answer)));
    BOOST_TEST(!retry_policy::is_retryable(read, failed(attempt_failure::local)));
    BOOST_TEST(!retry_policy::is_retryable(read, answered(response_verdict::final)));
    BOOST_TEST(retry_policy::is_retryable(read, answered(response_verdict::throttled)));
    BOOST_TEST(retry_policy::is_retryable(read, answered(response_verdict::unavailable)));
    BOOST_TEST(retry_policy::is_retryable(read, answered(response_verdict::server_error)));
}

BOOST_AUTO_TEST_CASE(paid_submissions_are_resent_only_when_provably_unprocessed)
{
    const auto paid = request_kind::paid_submission;
    BOOST_TEST(retry_policy::is_retryable(paid, failed(attempt_failure::not_sent)));
    BOOST_TEST(!retry_policy::is_retryable(paid, failed(attempt_failure::sent_no_answer)));
    BOOST_TEST(!retry_policy::is_retryable(paid, failed(attempt_failure::local)));
    BOOST_TEST(!retry_policy::is_retryable(paid, answered(response_verdict::final)));
    BOOST_TEST(retry_policy::is_retryable(paid, answered(response_verdict::throttled)));
    BOOST_TEST(retry_policy::is_retryable(paid, answered(response_verdict::unavailable)));
    BOOST_TEST(!retry_policy::is_retryable(paid, answered(response_verdict::server_error)));
}

BOOST_AUTO_TEST_CASE(decide_matches_is_retryable_for_every_combination_within_budget)
{
    retry_policy p({.max_attempts = 3, .base_delay = 10ms, .max_delay = 100ms}, 42);
    for (auto kind : {request_kind::read, request_kind::paid_submission})
    {
        for (auto f : {attempt_failure::not_sent, attempt_failure::sent_no_answer, attempt_failure::local})
        {
            const auto d = p.decide(kind, 1, failed(f));
            BOOST_TEST(d.retry == retry_policy::is_retryable(kind, failed(f)));
        }
        for (auto v : {response_verdict::final, response_verdict::throttled, response_verdict::unavailable,
                       response_verdict::server_error})
        {
            const auto d = p.decide(kind, 1, answered(v));
            BOOST_TEST(d.retry == retry_policy::is_retryable(kind, answered(v)));
            if (d.retry) BOOST_TEST(d.delay <= 10ms);
        }
    }
}

BOOST_AUTO_TEST_CASE(attempt_budget_stops_retries)
{
    retry_policy p({.max_attempts = 3, .base_delay = 1ms, .max_delay = 10ms}, 1);
    const auto o = failed(attempt_failure::not_sent);
    BOOST_TEST(p.decide(request_kind::read, 1, o).retry);
    BOOST_TEST(p.decide(request_kind::read, 2, o).retry);
    BOOST_TEST(!p.decide(request_kind::read, 3, o).retry);
    BOOST_TEST(!p.decide(request_kind::read, 4, o).retry);

    retry_policy once({.max_attempts = 1}, 1);
    BOOST_TEST(!once.decide(request_kind::read, 1, o).retry);
    retry_policy zero({.max_attempts = 0}, 1);  // treated as 1
    BOOST_TEST(!zero.decide(request_kind::read, 1, o).retry);
}

BOOST_AUTO_TEST_CASE(backoff_cap_doubles_and_saturates)
{
    retry_policy p({.max_attempts = 100, .base_delay = 250ms, .max_delay = 30000ms}, 7);
    BOOST_TEST(p.backoff_cap(1).count() == 250);
    BOOST_TEST(p.backoff_cap(2).count() == 500);
    BOOST_TEST(p.backoff_cap(3).count() == 1000);
    BOOST_TEST(p.backoff_cap(7).count() == 16000);
    BOOST_TEST(p.backoff_cap(8).count() == 30000);
    BOOST_TEST(p.backoff_cap(64).count() == 30000);
    BOOST_TEST(p.backoff_cap(1000).count() == 30000);
}

BOOST_AUTO_TEST_CASE(backoff_has_full_jitter_within_bounds)
{
    retry_policy p({.max_attempts = 100, .base_delay = 100ms, .max_delay = 2000ms}, 12345);
    for (unsigned retry = 1; retry <= 10; ++retry)
    {
        std::set<long long> seen;
        long long max_seen = 0;
        for (int i = 0; i < 400; ++i)
        {
            const auto d = p.backoff(retry);
            BOOST_TEST(d.count() >= 0);
            BOOST_TEST(d <= p.backoff_cap(retry));
            seen.insert(d.count());
            max_seen = std::max<long long>(max_seen, d.count());
        }
        // full jitter: values spread over the whole range, not clustered near the cap
        BOOST_TEST(seen.size() > 20u);
        BOOST_TEST(max_seen * 2 > p.backoff_cap(retry).count());
        BOOST_TEST(*seen.begin() * 2 < p.backoff_cap(retry).count());
    }
}

BOOST_AUTO_TEST_CASE(backoff_is_deterministic_for_a_seed)
{
    retry_policy a({}, 99), b({}, 99), c({}, 100);
    bool differs = false;
    for (unsigned i = 1; i <= 20; ++i)
    {
        const auto x = a.backoff(i % 6 + 1), y = b.backoff(i % 6 + 1), z = c.backoff(i % 6 + 1);
        BOOST_TEST(x.count() == y.count());
        differs = differs || x != z;
    }
    BOOST_TEST(differs);
}

BOOST_AUTO_TEST_CASE(retry_after_replaces_backoff_and_is_bounded_by_max_delay)
{
    retry_policy p({.max_attempts = 5, .base_delay = 10ms, .max_delay = 5000ms}, 3);
    attempt_outcome o = answered(response_verdict::throttled);
    o.retry_after = 2000ms;
    BOOST_TEST(p.decide(request_kind::paid_submission, 1, o).delay.count() == 2000);
    BOOST_TEST(p.decide(request_kind::read, 1, o).delay.count() == 2000);
    o.retry_after = 3600000ms;
    BOOST_TEST(p.decide(request_kind::read, 1, o).delay.count() == 5000);
    o.retry_after = 0ms;
    BOOST_TEST(p.decide(request_kind::read, 1, o).delay.count() == 0);

    retry_policy ignoring({.max_attempts = 5, .base_delay = 10ms, .max_delay = 5000ms, .honour_retry_after = false}, 3);
    o.retry_after = 2000ms;
    BOOST_TEST(ignoring.decide(request_kind::read, 1, o).delay <= 10ms);
}

BOOST_AUTO_TEST_CASE(retry_after_parses_delta_seconds)
{
    using kiemidi::parse_retry_after;
    const auto now = std::chrono::system_clock::now();
    BOOST_TEST(parse_retry_after("120", now)->count() == 120000);
    BOOST_TEST(parse_retry_after("0", now)->count() == 0);
    BOOST_TEST(parse_retry_after("  5 ", now)->count() == 5000);
    BOOST_TEST(!parse_retry_after("", now));
    BOOST_TEST(!parse_retry_after("-1", now));
    BOOST_TEST(!parse_retry_after("1.5", now));
    BOOST_TEST(!parse_retry_after("12abc", now));
    BOOST_TEST(!parse_retry_after("soon", now));
    BOOST_TEST(parse_retry_after("99999999999999999999", now).has_value());  // saturates, no overflow
}

BOOST_AUTO_TEST_CASE(retry_after_parses_http_dates)
{
    using kiemidi::parse_retry_after;
    using namespace std::chrono;
    // 1994-11-06 08:49:37 UTC
    const system_clock::time_point date{sys_days{year{1994} / November / 6} + 8h + 49min + 37s};
    const auto before = date - 90s;
    BOOST_TEST(parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", before)->count() == 90000);   // IMF-fixdate
    BOOST_TEST(parse_retry_after("Sunday, 06-Nov-94 08:49:37 GMT", before)->count() == 90000);  // RFC 850
    BOOST_TEST(parse_retry_after("Sun Nov  6 08:49:37 1994", before)->count() == 90000);        // asctime
    BOOST_TEST(parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", date + 1h)->count() == 0);     // in the past
    BOOST_TEST(!parse_retry_after("Sun, 06 Nov 1994 08:49:37 PST", before));
    BOOST_TEST(!parse_retry_after("Sun, 31 Nov 1994 08:49:37 GMT", before));
    BOOST_TEST(!parse_retry_after("Sun, 06 Foo 1994 08:49:37 GMT", before));
    BOOST_TEST(!parse_retry_after("Sun, 06 Nov 1994 25:49:37 GMT", before));
    BOOST_TEST(!parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT trailing", before));
}

BOOST_AUTO_TEST_CASE(default_classification_follows_the_http_status)
{
    using kiemidi::classify_by_status;
    using kiemidi::http_response;
    BOOST_TEST((classify_by_status(http_response{200, {}, {}}) == response_verdict::final));
    BOOST_TEST((classify_by_status(http_response{404, {}, {}}) == response_verdict::final));
    BOOST_TEST((classify_by_status(http_response{429, {}, {}}) == response_verdict::throttled));
    BOOST_TEST((classify_by_status(http_response{455, {}, {}}) == response_verdict::unavailable));
    BOOST_TEST((classify_by_status(http_response{500, {}, {}}) == response_verdict::server_error));
    BOOST_TEST((classify_by_status(http_response{503, {}, {}}) == response_verdict::server_error));
}

BOOST_AUTO_TEST_SUITE_END()
