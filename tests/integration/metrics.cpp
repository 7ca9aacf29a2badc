// Metrics and tracing against the emulator: what a pipeline counts (stages, KIE's answers by
// endpoint and code, callbacks, recovered and unknown outcomes, credits), the observer's events,
// the /metrics server's answers, and a real Prometheus server scraping `kiemidi batch
// --metrics-port` and answering queries about it.
#include <kiemidi/metrics/model.hpp>
#include <kiemidi/metrics/server.hpp>

#include "common/child_process.hpp"
#include "common/cli_fixture.hpp"
#include "common/local_kie.hpp"
#include "common/raw_http.hpp"
#include "common/run_bounded.hpp"
#include "common/temp_dir.hpp"
#include "nothrow_awaitable.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>
#include <boost/test/unit_test.hpp>
#include <boost/url/encode.hpp>
#include <boost/url/rfc/unreserved_chars.hpp>

#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>
#include <vector>

namespace asio = boost::asio;
namespace fs = std::filesystem;
using namespace kiemidi;
using namespace std::chrono_literals;

namespace {

/// Keeps every event (copied: the views die with the call).
struct recording_observer : metrics::observer
{
    struct stage
    {
        bool finished;
        std::uint64_t id, parent;
        std::string name, kind, task_id;
        metrics::outcome result;
    };
    std::mutex m;
    std::vector<stage> stages;
    std::vector<std::pair<std::string, std::optional<int>>> answers;  // endpoint, code
    std::vector<std::string> callbacks;                               // task ids

    void stage_started(const metrics::stage_event& e) noexcept override
    {
        std::lock_guard l(m);
        stages.push_back({false, e.id, e.parent_id, std::string(e.name), std::string(e.kind), std::string(e.task_id), e.result});
    }
    void stage_finished(const metrics::stage_event& e) noexcept override
    {
        std::lock_guard l(m);
        stages.push_back({true, e.id, e.parent_id, std::string(e.name), std::string(e.kind), std::string(e.task_id), e.result});
    }
    void kie_answer(const metrics::kie_answer_event& e) noexcept override
    {
        std::lock_guard l(m);
        answers.emplace_back(std::string(e.endpoint), e.kie_code);
    }
    void callback_received(const metrics::callback_event& e) noexcept override
    {
        std::lock_guard l(m);
        callbacks.emplace_back(e.task_id);
    }
};

struct metrics_env : test::local_kie
{
    metrics_env(asio::any_io_executor ex, emulator::emulator_options eo = {}, std::shared_ptr<metrics::observer> obs = {})
        : local_kie(ex, std::move(eo), true, [&obs](client_options& co) {
              co.transport.rate_limit.enabled = false;
              co.observer = obs;
          })
    {
    }
    metrics::registry& model() { return cli->metrics(); }
    std::uint64_t finished(metrics::stage s, callback_kind k, metrics::outcome o)
    {
        return model().of(s, k).finished[static_cast<std::size_t>(o)].value();
    }
};

midi_params metrics_params_for(int i)
{
    midi_params p;
    p.task_id = "music" + std::to_string(i);
    p.audio_id = "audio" + std::to_string(i);
    p.stage_timeout = 20s;
    p.deadline = 30s;
    return p;
}

bool has_line(const std::string& text, const std::string& line)
{
    std::istringstream in(text);
    for (std::string l; std::getline(in, l);)
        if (l == line) return true;
    return false;
}

using kiemidi::test::free_port;

using kiemidi::test::read_file;

}  // namespace

BOOST_AUTO_TEST_SUITE(metrics_against_emulator)

BOOST_AUTO_TEST_CASE(a_pipeline_is_counted_by_stage_endpoint_and_code_and_traced)
{
    test::run_bounded([](asio::io_context& ioc) -> asio::awaitable<void> {
        auto obs = std::make_shared<recording_observer>();
        metrics_env env(ioc.get_executor(), {}, obs);
        diagnostics diag;
        auto [ec, r] = co_await env.cli->async_generate_midi(metrics_params_for(1), diag, use_nothrow_awaitable);
        BOOST_TEST_REQUIRE(!ec, diag.to_string());
        using metrics::outcome;
        using metrics::stage;
        for (auto k : {callback_kind::separation, callback_kind::midi})
        {
            BOOST_TEST(env.finished(stage::submit, k, outcome::success) == 1u);
            BOOST_TEST(env.finished(stage::wait, k, outcome::success) == 1u);
            BOOST_TEST(env.model().of(stage::submit, k).in_flight.value() == 0);
            BOOST_TEST(env.model().of(stage::wait, k).in_flight.value() == 0);
            BOOST_TEST(env.model().callbacks[static_cast<std::size_t>(k)].value() == 1u);
        }
        BOOST_TEST(env.model().pipelines.finished[0].value() == 1u);
        BOOST_TEST(env.model().pipelines.in_flight.value() == 0);
        BOOST_TEST(env.model().pipelines.duration.read().count == 1u);
        BOOST_TEST(env.model().answers(metrics::endpoint::separation_submit, 200) == 1u);
        BOOST_TEST(env.model().answers(metrics::endpoint::midi_submit, 200) == 1u);
        BOOST_TEST(env.model().limiter_wait.read().count == 2u);  // each paid POST's admission

        // The observer saw the pipeline and its four stages, each started then finished, tied by ids.
        std::uint64_t pipeline_id = 0;
        for (const auto& s : obs->stages)
            if (s.name == "pipeline" && s.finished) pipeline_id = s.id;
        BOOST_TEST(pipeline_id != 0u);
        std::size_t started = 0, finished = 0;
        for (const auto& s : obs->stages)
        {
            (s.finished ? finished : started) += 1;
            if (s.name != "pipeline") BOOST_TEST(s.parent == pipeline_id);
            if (s.finished) BOOST_TEST((s.result == outcome::success));
            if (s.finished && s.name == "submit" && s.kind == "midi") BOOST_TEST(s.task_id == r.midi_task_id);
        }
        BOOST_TEST(started == 5u);
        BOOST_TEST(finished == 5u);
        BOOST_TEST(obs->answers.size() == 2u);
        BOOST_TEST(obs->callbacks.size() == 2u);

        // Credits read through the client become the credits gauge.
        auto [cec, credits] = co_await env.cli->async_get_credits(diag, use_nothrow_awaitable);
        BOOST_TEST_REQUIRE(!cec, diag.to_string());
        const auto text = metrics::render_prometheus(metrics::collect(*env.cli, &env.listener));
        BOOST_TEST(has_line(text, "kiemidi_credits_remaining " + std::to_string(credits.remaining)), text);
        BOOST_TEST(has_line(text, R"(kiemidi_kie_answers_total{endpoint="/api/v1/chat/credit",code="200"} 1)"), text);
        BOOST_TEST(has_line(text, R"(kiemidi_callback_listener_requests_total{result="accepted"} 2)"), text);
        BOOST_TEST(has_line(text, R"(kiemidi_callback_listener_callbacks_total{kind="separation",result="accepted"} 1)"), text);
        BOOST_TEST(has_line(text, R"(kiemidi_callback_listener_callbacks_total{kind="midi",result="accepted"} 1)"), text);
        BOOST_TEST(has_line(text, R"(kiemidi_callback_listener_callbacks_total{kind="midi",result="forged"} 0)"), text);
        BOOST_TEST(has_line(text, "kiemidi_callback_hub_delivered_total 2"), text);
        BOOST_TEST(has_line(text, "kiemidi_pipelines_in_flight 0"), text);
    });
}

BOOST_AUTO_TEST_CASE(lost_answers_recovered_from_callbacks_are_counted_with_the_gateway_answers)
{
    test::run_bounded([](asio::io_context& ioc) -> asio::awaitable<void> {
        emulator::emulator_options eo;
        eo.faults.processed_then_html_502_rate = 1.0;  // both paid answers are a gateway's HTML page
        metrics_env env(ioc.get_executor(), eo);
        diagnostics diag;
        auto p = metrics_params_for(2);
        p.unknown_outcome_wait = 10s;
        auto [ec, r] = co_await env.cli->async_generate_midi(p, diag, use_nothrow_awaitable);
        BOOST_TEST_REQUIRE(!ec, diag.to_string());
        BOOST_TEST(env.model().recovered[0].value() == 1u);
        BOOST_TEST(env.model().recovered[1].value() == 1u);
        BOOST_TEST(env.model().unknown_outcomes[0].value() == 0u);
        BOOST_TEST(env.model().answers(metrics::endpoint::separation_submit, 0) == 1u);  // "none": not KIE's body
        BOOST_TEST(env.model().answers(metrics::endpoint::separation_submit, 200) == 0u);
        BOOST_TEST(env.finished(metrics::stage::submit, callback_kind::midi, metrics::outcome::success) == 1u);
    });
}

BOOST_AUTO_TEST_CASE(an_unknown_outcome_is_counted_as_such_not_as_a_failure)
{
    test::run_bounded([](asio::io_context& ioc) -> asio::awaitable<void> {
        emulator::emulator_options eo;
        eo.faults.http_500_rate = 1.0;
        metrics_env env(ioc.get_executor(), eo);
        diagnostics diag;
        auto p = metrics_params_for(3);
        p.unknown_outcome_wait = 300ms;
        auto [ec, r] = co_await env.cli->async_generate_midi(p, diag, use_nothrow_awaitable);
        BOOST_TEST((ec == client_errc::outcome_unknown), ec.message());
        BOOST_TEST(env.model().unknown_outcomes[0].value() == 1u);
        BOOST_TEST(env.finished(metrics::stage::submit, callback_kind::separation, metrics::outcome::unknown) == 1u);
        BOOST_TEST(env.finished(metrics::stage::submit, callback_kind::separation, metrics::outcome::failure) == 0u);
        BOOST_TEST(env.model().pipelines.finished[static_cast<std::size_t>(metrics::outcome::unknown)].value() == 1u);
        BOOST_TEST(env.model().answers(metrics::endpoint::separation_submit, 500) >= 1u);
        BOOST_TEST(env.model().of(metrics::stage::submit, callback_kind::separation).in_flight.value() == 0);
    });
}

BOOST_AUTO_TEST_CASE(the_metrics_server_answers_scrapes_refuses_wrong_tokens_and_stops)
{
    test::run_bounded([](asio::io_context& ioc) -> asio::awaitable<void> {
        metrics::registry model;
        model.set_credits(42);
        metrics::server srv(ioc.get_executor(), metrics::server_options{.bearer_token = "s3cret-token"},
                            [&model] { return metrics::render_prometheus(metrics::sources{.model = &model}); });
        error_code sec;
        srv.start(sec);
        BOOST_TEST_REQUIRE(!sec, sec.message());
        BOOST_TEST_REQUIRE(srv.port() != 0u);

        test::raw_client http(ioc.get_executor(), srv.port());
        test::raw_request get{.target = "/metrics", .bearer = std::string("s3cret-token")};
        auto ok = co_await http.request(get);
        BOOST_TEST(ok.status == 200u);
        BOOST_TEST(ok.headers["content-type"] == std::string(metrics::content_type));
        BOOST_TEST(has_line(ok.body, "kiemidi_credits_remaining 42"), ok.body);

        test::raw_request wrong{.target = "/metrics", .bearer = std::string("guess")};
        auto refused = co_await http.request(wrong);
        BOOST_TEST(refused.status == 401u);
        BOOST_TEST(refused.body.find("kiemidi_") == std::string::npos);
        test::raw_request none{.target = "/metrics"};
        BOOST_TEST((co_await http.request(none)).status == 401u);
        test::raw_request other{.target = "/other", .bearer = std::string("s3cret-token")};
        BOOST_TEST((co_await http.request(other)).status == 404u);
        test::raw_request post{.method = "POST", .target = "/metrics", .body = "x", .bearer = std::string("s3cret-token")};
        auto post_answer = co_await http.request(post);
        BOOST_TEST((post_answer.status == 405u || post_answer.status == 400u), post_answer.status);
        http.close();

        // A request header over the limit is refused and the connection closed.
        test::raw_connection big(ioc.get_executor(), srv.port());
        BOOST_TEST_REQUIRE(!(co_await big.connect()));
        co_await big.write("GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(20'000, 'a') + "\r\n\r\n");
        auto closed = co_await big.wait_closed(5s);
        BOOST_TEST((closed != asio::error::timed_out), closed.message());

        auto [stop_ec] = co_await srv.async_stop(use_nothrow_awaitable);
        BOOST_TEST(!stop_ec, stop_ec.message());
        test::raw_client after(ioc.get_executor(), srv.port());
        test::raw_response r;
        auto cec = co_await after.try_request(get, r);
        BOOST_TEST(!!cec);  // nobody listens any more
    });
}

BOOST_AUTO_TEST_SUITE_END()

#ifdef KIEMIDI_CLI_PATH
namespace {

/// The emulator on its own thread (the test blocks on child processes meanwhile).
struct threaded_kie
{
    asio::io_context ioc;
    std::unique_ptr<emulator::server> server;
    std::thread thread;

    explicit threaded_kie(emulator::emulator_options eo)
    {
        eo.enable_https = false;
        server = std::make_unique<emulator::server>(ioc.get_executor(), eo);
        server->start();
        thread = std::thread([this] { ioc.run(); });
    }
    ~threaded_kie()
    {
        asio::post(ioc, [this] { server->stop(); });
        thread.join();
    }
};

/// The first sample's value of an instant query's answer, or nullopt when it has none.
std::optional<double> first_value(const std::string& body)
{
    boost::system::error_code ec;
    auto v = boost::json::parse(body, ec);
    if (ec || !v.is_object()) return std::nullopt;
    const auto* data = v.as_object().if_contains("data");
    if (!data || !data->is_object()) return std::nullopt;
    const auto* result = data->as_object().if_contains("result");
    if (!result || !result->is_array() || result->as_array().empty()) return std::nullopt;
    const auto& value = result->as_array()[0].as_object().at("value").as_array();
    return std::stod(std::string(value.at(1).as_string()));
}

}  // namespace

BOOST_AUTO_TEST_SUITE(metrics_scraped_by_prometheus)

// A real Prometheus server (Debian package prometheus) scrapes `kiemidi batch --metrics-port`
// while it runs against the emulator; the series are then read back through Prometheus's HTTP API.
BOOST_AUTO_TEST_CASE(prometheus_scrapes_a_running_batch_and_answers_queries_about_it)
{
    const fs::path prometheus = "/usr/bin/prometheus";
    if (!fs::exists(prometheus))
    {
        BOOST_TEST_MESSAGE("SKIPPED: prometheus is not installed (Debian package prometheus; "
                           "scripts/install-deps.sh monitoring installs it)");
        return;
    }
    test::temp_dir dir("kiemidi-prometheus");
    const auto metrics_port = free_port();
    const auto prometheus_port = free_port();
    {
        std::ofstream cfg(dir.path / "prometheus.yml");
        cfg << "global:\n  scrape_interval: 500ms\n  scrape_timeout: 400ms\n"
            << "scrape_configs:\n  - job_name: kiemidi\n    static_configs:\n"
            << "      - targets: ['127.0.0.1:" << metrics_port << "']\n";
    }
    test::child_process prom(prometheus.string(),
                             {"--config.file=" + (dir.path / "prometheus.yml").string(),
                              "--storage.tsdb.path=" + (dir.path / "data").string(),
                              "--web.listen-address=127.0.0.1:" + std::to_string(prometheus_port)},
                             dir.path / "prometheus.log");

    // Tasks stay pending for seconds, so the batch is still running while it is scraped
    // (Prometheus starts scraping a few seconds after it is ready: its discovery is throttled).
    emulator::emulator_options eo;
    eo.separation_delay = 8s;
    eo.midi_delay = 1s;
    threaded_kie kie(eo);
    {
        std::ofstream list(dir.path / "tracks.csv");
        for (int i = 0; i < 3; ++i) list << "music-" << i << ",track-" << i << ",song-" << i << "\n";
    }
    std::optional<test::child_process> batch;

    test::run_bounded(
        [&](asio::io_context& ioc) -> asio::awaitable<void> {
            asio::steady_timer pause(ioc);
            // Prometheus is ready when /-/ready answers 200.
            bool ready = false;
            for (int i = 0; i < 200 && !ready; ++i)
            {
                test::raw_client http(ioc.get_executor(), prometheus_port);
                test::raw_response r;
                test::raw_request probe{.target = "/-/ready"};
                ready = !(co_await http.try_request(probe, r)) && r.status == 200;
                if (ready) break;
                pause.expires_after(100ms);
                co_await pause.async_wait(asio::use_awaitable);
            }
            BOOST_TEST_REQUIRE(ready, "prometheus did not start:\n" << read_file(dir.path / "prometheus.log"));

            batch.emplace(KIEMIDI_CLI_PATH,
                          std::vector<std::string>{"batch", (dir.path / "tracks.csv").string(), "-o", (dir.path / "out").string(),
                                                   "--base-url", kie.server->http_base_url(), "--api-key", "kie-emulator-key",
                                                   "--metrics-port", std::to_string(metrics_port)},
                          dir.path / "batch.log");

            // Ask Prometheus until its scrapes show the three paid separations (the batch still
            // waits for their results). max_over_time: the series stay readable after the batch ends.
            auto query = [&](const std::string& promql) -> asio::awaitable<std::optional<double>> {
                test::raw_client http(ioc.get_executor(), prometheus_port);
                test::raw_request req{.target = "/api/v1/query?query=" +
                                                std::string(boost::urls::encode(promql, boost::urls::unreserved_chars))};
                test::raw_response r;
                if (co_await http.try_request(req, r) || r.status != 200) co_return std::nullopt;
                co_return first_value(r.body);
            };
            const std::string submits =
                R"(max_over_time(kiemidi_stages_finished_total{job="kiemidi",stage="submit",kind="separation",outcome="success"}[5m]))";
            const std::string in_wait = R"(max_over_time(kiemidi_stage_in_flight{stage="wait",kind="separation"}[5m]))";
            std::optional<double> seen, waiting;
            for (int i = 0; i < 160; ++i)
            {
                seen = co_await query(submits);
                waiting = co_await query(in_wait);
                if (seen && *seen >= 3 && waiting && *waiting >= 1) break;
                pause.expires_after(250ms);
                co_await pause.async_wait(asio::use_awaitable);
            }
            BOOST_TEST_REQUIRE(seen.has_value(), "no scraped series; batch:\n" << read_file(dir.path / "batch.log")
                                                                               << "\nprometheus:\n" << read_file(dir.path / "prometheus.log"));
            BOOST_TEST(*seen == 3.0);
            // Named queries: g++ 12 mishandles temporaries inside co_await expressions.
            const std::string paid_answers =
                R"(max_over_time(kiemidi_kie_answers_total{endpoint="/api/v1/vocal-removal/generate",code="200"}[5m]))";
            auto answers = co_await query(paid_answers);
            BOOST_TEST_REQUIRE(answers.has_value());
            BOOST_TEST(*answers == 3.0);
            // While the separations are pending, they are in flight at the wait stage.
            BOOST_TEST_REQUIRE(waiting.has_value());
            BOOST_TEST(*waiting >= 1.0);
            const std::string scraped = R"(max_over_time(up{job="kiemidi"}[5m]))";
            auto up = co_await query(scraped);
            BOOST_TEST_REQUIRE(up.has_value());
            BOOST_TEST(*up == 1.0);
        },
        90s);

    BOOST_TEST_REQUIRE(batch.has_value());
    const auto rc = batch->wait_for(60s);
    BOOST_TEST_REQUIRE(rc.has_value(), read_file(dir.path / "batch.log"));
    BOOST_TEST(*rc == 0, read_file(dir.path / "batch.log"));
    BOOST_TEST(read_file(dir.path / "batch.log").find("metrics on http://127.0.0.1:" + std::to_string(metrics_port)) !=
               std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()
#endif

#ifdef KIEMIDI_CLI_PATH
BOOST_AUTO_TEST_SUITE(metrics_in_status)

// `kiemidi status` shows, for a finished journal, the counters that a running batch exposes and
// that the journal keeps: paid submissions, and the stage of each unknown outcome.
BOOST_AUTO_TEST_CASE(status_counts_paid_submissions_and_unknown_outcomes_by_stage)
{
    emulator::emulator_options eo;
    // Every paid POST is processed but answered by a gateway's HTML 502; polling only, so no
    // callback can name the task: its outcome stays unknown.
    eo.faults.processed_then_html_502_rate = 1.0;
    threaded_kie kie(eo);
    test::temp_dir dir("kiemidi-status-metrics");
    {
        std::ofstream list(dir.path / "tracks.csv");
        list << "music-1,track-1,one\nmusic-2,track-2,two\n";
    }
    const auto journal = dir.path / "journal.sqlite";
    {
        test::child_process batch(KIEMIDI_CLI_PATH,
                                  {"batch", (dir.path / "tracks.csv").string(), "-o", (dir.path / "out").string(),
                                   "--journal", journal.string(), "--base-url", kie.server->http_base_url(),
                                   "--api-key", "kie-emulator-key", "--lost-answer-wait-ms", "200", "--poll-only"},
                                  dir.path / "batch.log");
        const auto rc = batch.wait_for(60s);
        BOOST_TEST_REQUIRE(rc.has_value(), read_file(dir.path / "batch.log"));
        BOOST_TEST(*rc == 3, read_file(dir.path / "batch.log"));
    }
    test::child_process status(KIEMIDI_CLI_PATH, {"status", journal.string()}, dir.path / "status.log");
    const auto rc = status.wait_for(30s);
    const auto out = read_file(dir.path / "status.log");
    BOOST_TEST_REQUIRE(rc.has_value(), out);
    BOOST_TEST(*rc == 3, out);
    BOOST_TEST(has_line(out, "  paid submissions intended: 2"), out);
    BOOST_TEST(has_line(out, "  outcome unknown at separation: 2"), out);
    BOOST_TEST(out.find("failed at") == std::string::npos, out);
}

BOOST_AUTO_TEST_SUITE_END()
#endif
