// The metrics model and its Prometheus exposition: histogram buckets, answer codes, outcomes,
// the snapshot sources, and the output checked by Debian's `promtool check metrics`.
#include <kiemidi/metrics/model.hpp>

#include "common/child_process.hpp"
#include "common/temp_dir.hpp"

#include <boost/test/unit_test.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>

namespace metrics = kiemidi::metrics;
using namespace std::chrono_literals;

namespace {

bool contains_line(const std::string& text, const std::string& line)
{
    std::istringstream in(text);
    for (std::string l; std::getline(in, l);)
        if (l == line) return true;
    return false;
}

std::string read_file(const std::filesystem::path& p)
{
    std::ifstream in(p);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

/// A model with something in every family, plus every snapshot source.
metrics::sources full_sources(const metrics::registry& r)
{
    metrics::sources s;
    s.model = &r;
    s.transport = kiemidi::http_client_stats{.connections_opened = 3, .requests_sent = 9, .retries = 2, .throttled = 1};
    s.limiter = kiemidi::rate_limiter_stats{.granted = 4, .queued = 1, .waiting = 2, .budget = 20};
    s.hub = kiemidi::callback_hub_stats{.waiting = 1, .delivered_total = 5, .duplicates_total = 2};
    s.listener = kiemidi::listener_stats{.accepted_connections = 7, .callbacks_accepted = 6, .rejected_forged = 1};
    return s;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(metrics_model)

BOOST_AUTO_TEST_CASE(histogram_buckets_are_cumulative_with_le_inclusive_bounds)
{
    metrics::histogram h;
    h.observe(1ms);     // <= 0.005
    h.observe(5ms);     // == 0.005: le is inclusive
    h.observe(700ms);   // <= 1
    h.observe(90s);     // <= 120
    h.observe(7200s);   // +Inf only
    const auto s = h.read();
    BOOST_TEST(s.count == 5u);
    BOOST_TEST(s.cumulative[0] == 2u);                          // le 0.005
    BOOST_TEST(s.cumulative[7] == 3u);                          // le 1
    BOOST_TEST(s.cumulative[12] == 3u);                         // le 60
    BOOST_TEST(s.cumulative[13] == 4u);                         // le 120
    BOOST_TEST(s.cumulative[metrics::latency_buckets.size() - 1] == 4u);  // le 3600
    BOOST_TEST(s.cumulative[metrics::latency_buckets.size()] == 5u);      // +Inf
    BOOST_TEST(s.sum_seconds == 0.001 + 0.005 + 0.7 + 90 + 7200, boost::test_tools::tolerance(1e-9));
}

BOOST_AUTO_TEST_CASE(outcomes_classify_errors)
{
    BOOST_TEST(metrics::to_string(metrics::outcome_of({})) == "success");
    BOOST_TEST(metrics::to_string(metrics::outcome_of(kiemidi::client_errc::outcome_unknown)) == "unknown");
    BOOST_TEST(metrics::to_string(metrics::outcome_of(kiemidi::client_errc::timeout)) == "timeout");
    BOOST_TEST(metrics::to_string(metrics::outcome_of(boost::asio::error::operation_aborted)) == "cancelled");
    BOOST_TEST(metrics::to_string(metrics::outcome_of(kiemidi::api_errc::insufficient_credits)) == "failure");
}

BOOST_AUTO_TEST_CASE(answers_are_counted_by_endpoint_and_code)
{
    metrics::registry r;
    r.count_answer(metrics::endpoint::midi_submit, 200, 30ms);
    r.count_answer(metrics::endpoint::midi_submit, 429, 10ms);
    r.count_answer(metrics::endpoint::midi_submit, 429, 10ms);
    r.count_answer(metrics::endpoint::midi_submit, 999, 10ms);          // not a counted code: other
    r.count_answer(metrics::endpoint::midi_submit, std::nullopt, 10ms);  // not KIE's body: none
    BOOST_TEST(r.answers(metrics::endpoint::midi_submit, 200) == 1u);
    BOOST_TEST(r.answers(metrics::endpoint::midi_submit, 429) == 2u);
    BOOST_TEST(r.answers(metrics::endpoint::midi_submit, -1) == 1u);
    BOOST_TEST(r.answers(metrics::endpoint::midi_submit, 0) == 1u);
    BOOST_TEST(r.answers(metrics::endpoint::credits, 200) == 0u);

    const auto text = metrics::render_prometheus(metrics::sources{.model = &r});
    BOOST_TEST(contains_line(text, R"(kiemidi_kie_answers_total{endpoint="/api/v1/midi/generate",code="429"} 2)"));
    BOOST_TEST(contains_line(text, R"(kiemidi_kie_answers_total{endpoint="/api/v1/midi/generate",code="other"} 1)"));
    BOOST_TEST(contains_line(text, R"(kiemidi_kie_answers_total{endpoint="/api/v1/midi/generate",code="none"} 1)"));
    // Codes never seen have no series.
    BOOST_TEST(text.find(R"(endpoint="/api/v1/chat/credit",code=)") == std::string::npos);
    BOOST_TEST(contains_line(text, R"(kiemidi_kie_request_duration_seconds_count{endpoint="/api/v1/midi/generate"} 5)"));
    BOOST_TEST(contains_line(text, R"(kiemidi_kie_request_duration_seconds_bucket{endpoint="/api/v1/midi/generate",le="0.01"} 4)"));
    BOOST_TEST(contains_line(text, R"(kiemidi_kie_request_duration_seconds_bucket{endpoint="/api/v1/midi/generate",le="+Inf"} 5)"));
}

BOOST_AUTO_TEST_CASE(stages_credits_and_sources_are_rendered)
{
    metrics::registry r;
    auto& submit = r.of(metrics::stage::submit, kiemidi::callback_kind::separation);
    submit.in_flight.add(3);
    submit.finished[static_cast<std::size_t>(metrics::outcome::unknown)].inc();
    submit.duration.observe(2s);
    r.unknown_outcomes[0].inc();
    r.recovered[1].inc(2);

    auto text = metrics::render_prometheus(metrics::sources{.model = &r});
    BOOST_TEST(text.find("kiemidi_credits_remaining") == std::string::npos);  // not known yet
    r.set_credits(1234);
    text = metrics::render_prometheus(full_sources(r));
    BOOST_TEST(contains_line(text, "# TYPE kiemidi_stage_duration_seconds histogram"));
    BOOST_TEST(contains_line(text, R"(kiemidi_stage_in_flight{stage="submit",kind="separation"} 3)"));
    BOOST_TEST(contains_line(text, R"(kiemidi_stages_finished_total{stage="submit",kind="separation",outcome="unknown"} 1)"));
    BOOST_TEST(contains_line(text, R"(kiemidi_stage_duration_seconds_bucket{stage="submit",kind="separation",le="2.5"} 1)"));
    BOOST_TEST(contains_line(text, R"(kiemidi_stage_duration_seconds_bucket{stage="submit",kind="separation",le="1"} 0)"));
    BOOST_TEST(contains_line(text, R"(kiemidi_stage_duration_seconds_sum{stage="submit",kind="separation"} 2)"));
    BOOST_TEST(contains_line(text, R"(kiemidi_unknown_outcomes_total{kind="separation"} 1)"));
    BOOST_TEST(contains_line(text, R"(kiemidi_lost_answers_recovered_total{kind="midi"} 2)"));
    BOOST_TEST(contains_line(text, "kiemidi_credits_remaining 1234"));
    BOOST_TEST(contains_line(text, "kiemidi_http_retries_total 2"));
    BOOST_TEST(contains_line(text, "kiemidi_rate_limiter_budget 20"));
    BOOST_TEST(contains_line(text, "kiemidi_rate_limiter_queued_total 1"));
    BOOST_TEST(contains_line(text, "kiemidi_callback_hub_duplicates_total 2"));
    BOOST_TEST(contains_line(text, R"(kiemidi_callback_listener_requests_total{result="forged"} 1)"));
    // One TYPE line per family, even where two sources could show it (limiter and transport).
    std::size_t n = 0;
    for (auto p = text.find("# TYPE kiemidi_rate_limiter_budget "); p != std::string::npos;
         p = text.find("# TYPE kiemidi_rate_limiter_budget ", p + 1))
        ++n;
    BOOST_TEST(n == 1u);
}

// Debian's promtool (package prometheus) lints the exposition: syntax, HELP/TYPE, naming conventions.
BOOST_AUTO_TEST_CASE(promtool_accepts_the_exposition)
{
    const std::filesystem::path promtool = "/usr/bin/promtool";
    if (!std::filesystem::exists(promtool))
    {
        BOOST_TEST_MESSAGE("SKIPPED: promtool is not installed (Debian package prometheus; "
                           "scripts/install-deps.sh monitoring installs it)");
        return;
    }
    metrics::registry r;
    r.count_answer(metrics::endpoint::separation_submit, 200, 120ms);
    r.count_answer(metrics::endpoint::separation_record, 200, 40ms);
    r.of(metrics::stage::wait, kiemidi::callback_kind::midi).duration.observe(45s);
    r.pipelines.finished[0].inc();
    r.set_credits(99);
    kiemidi::test::temp_dir dir("kiemidi-metrics");
    const auto input = dir.path / "metrics.txt";
    {
        std::ofstream out(input);
        out << metrics::render_prometheus(full_sources(r));
    }
    // promtool reads the exposition on stdin: a shell redirects the file into it.
    const auto log = dir.path / "promtool.log";
    kiemidi::test::child_process p("/bin/sh", {"-c", "exec " + promtool.string() + " check metrics < " + input.string()}, log);
    const auto rc = p.wait_for(30s);
    BOOST_TEST_REQUIRE(rc.has_value());
    BOOST_TEST(*rc == 0, "promtool check metrics failed:\n" << read_file(log));
    // Lint findings are printed even when the exit code is 0 in some versions: none expected.
    BOOST_TEST(read_file(log).empty(), "promtool said:\n" << read_file(log));
}

BOOST_AUTO_TEST_SUITE_END()
