// The emulator's option table and serve loop; see emulator_cli.hpp.
#include "emulator_cli.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>

#include <algorithm>
#include <charconv>
#include <csignal>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <thread>

namespace kiemidi::apps {

namespace emu = kiemidi::emulator;

const std::string_view emulator_options_help = R"(  --address ADDR                listening address (default 127.0.0.1; keep it on loopback)
  --http-port N                 HTTP port (default 0 = any free port)
  --https-port N                HTTPS port (default 0 = any free port)
  --no-https                    serve plain HTTP only
  --api-key KEY                 accepted bearer token (default kie-emulator-key)
  --separation-delay-ms N       time a separation task stays PENDING (default 20)
  --midi-delay-ms N             time a MIDI task stays pending (default 20)
  --credits N                   initial credits (default 1000000)
  --insufficient-credits-code C body code of a paid POST refused for lack of credits: 402 (default) or 429
  --seed N                      seed of ids and results (default 1)
  --threads N                   io threads (default 1)
  --ca-out FILE                 write the HTTPS CA certificate (PEM) to FILE
  --webhook-hmac-key KEY        sign callbacks (X-Webhook-Timestamp / X-Webhook-Signature)
  --callback-dialect D          english | chinese | mixed (default english)
  --rate-limit-per-10s N        simulated account rate limit on paid POSTs (default 0 = off)
  --accept-latency-ms N         answer every paid POST N ms after it arrived (counted at arrival)
  --accept-latency-jitter-ms N  plus a random 0..N ms each
  --unknown-task-404            unknown task ids answer code 404 instead of data null
  --http-status-mirrors-code    error answers use the KIE code as HTTP status too
  --midi-task-id-equals-separation  a MIDI task gets its separation's task id (as KIE's example)
  fault rates (0..1):
  --http-429-rate R  --http-500-rate R  --http-455-rate R  --connection-reset-rate R
  --reset-after-processing-rate R  --slow-response-rate R  --slow-response-ms N
  --callback-drop-rate R  --callback-duplicate-rate R  --callback-delay-rate R  --callback-delay-ms N
  --callback-reorder-rate R  --separation-failure-rate R  --midi-failure-rate R
  --paid-answer-delay-ms N      answer accepted paid POSTs only after N ms (the task exists meanwhile)
  results KIE's documentation allows or leaves open:
  --odd-notes-rate R            MIDI results start with odd notes (velocity 100, zero length, no velocity, pitch 200, negative start)
  --empty-midi-rate R           MIDI results with no instrument
  --callback-exception-rate R   separations end in CALLBACK_EXCEPTION with stems, callback not delivered
  --unknown-success-flag-polls N  the first N record-info reads of each task answer successFlag "WEIRD" / 4
  --music-index-negative        separation records carry musicIndex -1
  --pending-success-flag-null   pending records carry successFlag null
  --origin-data-null-id         completed separation records list an extra originData item with id null
  --processed-then-html-502-rate R  --processed-then-truncated-body-rate R  --processed-then-non-json-200-rate R
                                process (and charge) paid POSTs, then answer a gateway's HTML 502 / KIE's
                                JSON cut in half / a 200 that is not JSON
  --processed-then-json-500-rate R  process (and charge) paid POSTs, then answer KIE's {"code":500,...}
  --repeat-separation-callback-after-midi-submit  deliver the separation's callback once more after
                                each MIDI POST is answered (KIE repeats deliveries)
  --help                        this text
)";

namespace {

template <class T>
T number(std::string_view flag, std::string_view text)
{
    T v{};
    auto r = std::from_chars(text.data(), text.data() + text.size(), v);
    if (r.ec != std::errc() || r.ptr != text.data() + text.size())
        throw emulator_cli_error("invalid value '" + std::string(text) + "' for " + std::string(flag));
    return v;
}

double rate(std::string_view flag, std::string_view text)
{
    char* end = nullptr;
    std::string s(text);
    double v = std::strtod(s.c_str(), &end);
    if (s.empty() || *end != '\0' || v < 0 || v > 1)
        throw emulator_cli_error("invalid rate '" + s + "' for " + std::string(flag));
    return v;
}

}  // namespace

emulator_cli_options parse_emulator_args(const std::vector<std::string>& args)
{
    emulator_cli_options out;
    auto& opts = out.server;
    using setter = std::function<void(std::string_view flag, std::string_view value)>;
    auto ms = [](std::chrono::milliseconds& m) {
        return setter([&m](std::string_view f, std::string_view v) { m = std::chrono::milliseconds(number<long>(f, v)); });
    };
    auto rt = [](double& d) { return setter([&d](std::string_view f, std::string_view v) { d = rate(f, v); }); };
    auto& fo = opts.faults;
    const std::map<std::string_view, setter> with_value{
        {"--address", [&](auto, auto v) { opts.address = std::string(v); }},
        {"--http-port", [&](auto f, auto v) { opts.http_port = number<std::uint16_t>(f, v); }},
        {"--https-port", [&](auto f, auto v) { opts.https_port = number<std::uint16_t>(f, v); }},
        {"--api-key", [&](auto, auto v) { opts.api_key = std::string(v); }},
        {"--separation-delay-ms", ms(opts.separation_delay)},
        {"--midi-delay-ms", ms(opts.midi_delay)},
        {"--credits", [&](auto f, auto v) { opts.initial_credits = number<std::int64_t>(f, v); }},
        {"--insufficient-credits-code",
         [&](auto f, auto v) {
             opts.insufficient_credits_code = number<int>(f, v);
             if (opts.insufficient_credits_code != 402 && opts.insufficient_credits_code != 429)
                 throw emulator_cli_error("invalid value '" + std::string(v) + "' for " + std::string(f) + " (402 or 429)");
         }},
        {"--seed", [&](auto f, auto v) { opts.seed = number<std::uint64_t>(f, v); }},
        {"--threads", [&](auto f, auto v) { out.threads = std::max(1u, number<unsigned>(f, v)); }},
        {"--ca-out", [&](auto, auto v) { out.ca_out = std::string(v); }},
        {"--webhook-hmac-key", [&](auto, auto v) { opts.webhook_hmac_key = std::string(v); }},
        {"--callback-dialect",
         [&](auto f, auto v) {
             if (v == "english") opts.dialect = emu::callback_dialect::english;
             else if (v == "chinese") opts.dialect = emu::callback_dialect::chinese;
             else if (v == "mixed") opts.dialect = emu::callback_dialect::mixed;
             else throw emulator_cli_error("invalid value '" + std::string(v) + "' for " + std::string(f));
         }},
        {"--rate-limit-per-10s", [&](auto f, auto v) { opts.rate_limit_per_10s = number<unsigned>(f, v); }},
        {"--accept-latency-ms", [&](auto f, auto v) { opts.accept_latency = std::chrono::milliseconds(number<unsigned>(f, v)); }},
        {"--accept-latency-jitter-ms",
         [&](auto f, auto v) { opts.accept_latency_jitter = std::chrono::milliseconds(number<unsigned>(f, v)); }},
        {"--http-429-rate", rt(fo.http_429_rate)},
        {"--http-500-rate", rt(fo.http_500_rate)},
        {"--http-455-rate", rt(fo.http_455_rate)},
        {"--connection-reset-rate", rt(fo.connection_reset_rate)},
        {"--reset-after-processing-rate", rt(fo.reset_after_processing_rate)},
        {"--slow-response-rate", rt(fo.slow_response_rate)},
        {"--slow-response-ms", ms(fo.slow_response)},
        {"--callback-drop-rate", rt(fo.callback_drop_rate)},
        {"--callback-duplicate-rate", rt(fo.callback_duplicate_rate)},
        {"--callback-delay-rate", rt(fo.callback_delay_rate)},
        {"--callback-delay-ms", ms(fo.callback_delay)},
        {"--callback-reorder-rate", rt(fo.callback_reorder_rate)},
        {"--separation-failure-rate", rt(fo.separation_failure_rate)},
        {"--midi-failure-rate", rt(fo.midi_failure_rate)},
        {"--paid-answer-delay-ms", ms(fo.paid_answer_delay)},
        {"--odd-notes-rate", rt(fo.odd_notes_rate)},
        {"--empty-midi-rate", rt(fo.empty_midi_rate)},
        {"--callback-exception-rate", rt(fo.callback_exception_rate)},
        {"--unknown-success-flag-polls", [&](auto f, auto v) { fo.unknown_success_flag_polls = number<unsigned>(f, v); }},
        {"--processed-then-html-502-rate", rt(fo.processed_then_html_502_rate)},
        {"--processed-then-truncated-body-rate", rt(fo.processed_then_truncated_body_rate)},
        {"--processed-then-non-json-200-rate", rt(fo.processed_then_non_json_200_rate)},
        {"--processed-then-json-500-rate", rt(fo.processed_then_json_500_rate)},
    };
    for (std::size_t i = 0; i < args.size(); ++i)
    {
        std::string_view arg = args[i];
        std::string_view value;
        bool has_value = false;
        if (auto eq = arg.find('='); arg.starts_with("--") && eq != std::string_view::npos)
        {
            value = arg.substr(eq + 1);
            arg = arg.substr(0, eq);
            has_value = true;
        }
        if (arg == "--help" || arg == "-h") { out.help = true; continue; }
        if (arg == "--no-https") { opts.enable_https = false; continue; }
        if (arg == "--unknown-task-404") { opts.unknown_task_is_404 = true; continue; }
        if (arg == "--http-status-mirrors-code") { opts.error_http_status_mirrors_code = true; continue; }
        if (arg == "--music-index-negative") { fo.music_index_negative = true; continue; }
        if (arg == "--pending-success-flag-null") { fo.pending_success_flag_null = true; continue; }
        if (arg == "--origin-data-null-id") { fo.origin_data_null_id = true; continue; }
        if (arg == "--midi-task-id-equals-separation") { opts.midi_task_id_equals_separation = true; continue; }
        if (arg == "--repeat-separation-callback-after-midi-submit")
        {
            fo.repeat_separation_callback_after_midi_submit = true;
            continue;
        }
        auto it = with_value.find(arg);
        if (it == with_value.end()) throw emulator_cli_error("unknown option " + std::string(arg));
        if (!has_value)
        {
            if (i + 1 >= args.size()) throw emulator_cli_error("missing value for " + std::string(arg));
            value = args[++i];
        }
        it->second(arg, value);
    }
    return out;
}

int serve_emulator(const emulator_cli_options& cli, std::string_view program)
{
    try
    {
        const auto& opts = cli.server;
        boost::asio::io_context ioc(static_cast<int>(cli.threads));
        emu::server srv(ioc.get_executor(), opts);
        srv.start();
        if (!cli.ca_out.empty())
        {
            std::ofstream out(cli.ca_out, std::ios::binary | std::ios::trunc);
            out << srv.ca_certificate_pem();
            if (!out) throw std::runtime_error("cannot write " + cli.ca_out);
        }
        std::cout << program << " listening\n"
                  << "  http:    " << srv.http_base_url() << "\n";
        if (opts.enable_https) std::cout << "  https:   " << srv.https_base_url() << "\n";
        std::cout << "  api key: " << srv.api_key() << "\n";
        if (!cli.ca_out.empty()) std::cout << "  CA PEM:  " << cli.ca_out << "\n";
        std::cout << std::flush;

        boost::asio::signal_set signals(ioc, SIGINT, SIGTERM);
        signals.async_wait([&](const boost::system::error_code& ec, int) {
            if (ec) return;
            srv.stop();
        });
        std::vector<std::thread> pool;
        for (unsigned i = 1; i < cli.threads; ++i) pool.emplace_back([&] { ioc.run(); });
        ioc.run();
        for (auto& t : pool) t.join();
        auto c = srv.snapshot();
        std::cout << program << " stopped: " << c.tasks_created << " tasks, " << c.callbacks_sent << " callbacks sent\n";
        return 0;
    }
    catch (const std::exception& e)
    {
        std::cerr << program << ": " << e.what() << "\n";
        return 1;
    }
}

}  // namespace kiemidi::apps
