// The circuit breaker over KIE's health, with explicit time points: what opens it, how probes
// are spaced (growing, jittered, capped, one at a time), what closes it, and the time it was open.
#include "client/kie_health.hpp"

#include <boost/test/unit_test.hpp>

using namespace std::chrono_literals;
using kiemidi::detail::kie_down_cause;
using kiemidi::detail::kie_health;
using kiemidi::detail::kie_health_options;
using kiemidi::detail::kie_instant;

namespace {

const kie_instant start{std::chrono::steady_clock::time_point(100s), std::chrono::system_clock::time_point(1000s)};

kie_instant at(std::chrono::milliseconds after) { return {start.steady + after, start.wall + after}; }

kie_health_options no_jitter()
{
    kie_health_options o;
    o.first_probe = 1s;
    o.max_probe = 5s;
    o.jitter = 0;
    o.failures_to_open = 2;
    return o;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(client_kie_health)

BOOST_AUTO_TEST_CASE(maintenance_opens_at_once_and_the_view_says_since_when)
{
    kie_health h(no_jitter(), 1);
    BOOST_TEST(!h.is_open());
    h.on_failure(kie_down_cause::maintenance, 455, at(0ms));
    BOOST_TEST(h.is_open());
    const auto v = h.view(at(2500ms));
    BOOST_TEST(v.open);
    BOOST_TEST(v.code == 455);
    BOOST_TEST((v.open_since == start.wall));
    BOOST_TEST(v.open_for.count() == 2500);
    BOOST_TEST(v.openings == 1u);
    BOOST_TEST(kiemidi::detail::describe_kie_down(v).starts_with("KIE unavailable (code 455, maintenance) since "));
}

BOOST_AUTO_TEST_CASE(server_errors_and_connection_failures_open_only_when_repeated)
{
    kie_health h(no_jitter(), 1);
    h.on_failure(kie_down_cause::server_error, 502, at(0ms));
    BOOST_TEST(!h.is_open());
    h.on_answer(at(10ms));  // an answer in between: not "in a row"
    h.on_failure(kie_down_cause::connection, 0, at(20ms));
    BOOST_TEST(!h.is_open());
    h.on_failure(kie_down_cause::connection, 0, at(30ms));
    BOOST_TEST(h.is_open());
    BOOST_TEST((h.view(at(30ms)).cause == kie_down_cause::connection));
}

BOOST_AUTO_TEST_CASE(probes_are_one_at_a_time_at_doubling_intervals_up_to_the_cap)
{
    kie_health h(no_jitter(), 1);
    h.on_failure(kie_down_cause::maintenance, 455, at(0ms));
    BOOST_TEST(!h.begin_probe(at(999ms)));  // not due yet
    BOOST_TEST(h.begin_probe(at(1000ms)));
    BOOST_TEST(!h.begin_probe(at(1001ms)));  // one probe in flight at a time
    h.on_failure(kie_down_cause::maintenance, 455, at(1100ms));
    h.end_probe(at(1100ms));
    BOOST_TEST(!h.begin_probe(at(3099ms)));  // 2 s after the failed probe
    BOOST_TEST(h.begin_probe(at(3100ms)));
    h.end_probe(at(3100ms));
    BOOST_TEST(h.begin_probe(at(7100ms)));  // 4 s
    h.end_probe(at(7100ms));
    BOOST_TEST(!h.begin_probe(at(12099ms)));  // 8 s capped at 5 s
    BOOST_TEST(h.begin_probe(at(12100ms)));
}

BOOST_AUTO_TEST_CASE(jitter_draws_each_interval_within_its_share_below_the_nominal_one)
{
    kie_health_options o = no_jitter();
    o.jitter = 0.5;
    bool saw_early = false;
    for (std::uint64_t seed = 1; seed <= 20; ++seed)
    {
        kie_health h(o, seed);
        h.on_failure(kie_down_cause::maintenance, 455, at(0ms));
        BOOST_TEST(!h.begin_probe(at(499ms)));
        BOOST_TEST(h.begin_probe(at(1000ms)));
        if (kie_health(o, seed).begin_probe(at(0ms))) BOOST_FAIL("a closed breaker must not probe");
        kie_health g(o, seed);
        g.on_failure(kie_down_cause::maintenance, 455, at(0ms));
        saw_early = saw_early || g.begin_probe(at(800ms));
    }
    BOOST_TEST(saw_early);  // some of twenty draws fall below 80 % of the interval
}

BOOST_AUTO_TEST_CASE(an_answer_closes_it_and_the_time_open_adds_up)
{
    kie_health h(no_jitter(), 1);
    h.on_failure(kie_down_cause::maintenance, 455, at(0ms));
    BOOST_TEST(h.begin_probe(at(1000ms)));
    h.on_answer(at(1200ms));
    h.end_probe(at(1200ms));
    BOOST_TEST(!h.is_open());
    BOOST_TEST(!h.begin_probe(at(5000ms)));
    h.on_failure(kie_down_cause::maintenance, 455, at(10000ms));
    const auto v = h.view(at(10300ms));
    BOOST_TEST(v.total_open.count() == 1500);
    BOOST_TEST(v.openings == 2u);
    h.on_answer(at(10500ms));
    BOOST_TEST(h.view(at(20000ms)).total_open.count() == 1700);
    // Closed: the interval starts over at the first one.
    h.on_failure(kie_down_cause::maintenance, 455, at(30000ms));
    BOOST_TEST(h.begin_probe(at(31000ms)));
}

BOOST_AUTO_TEST_SUITE_END()
