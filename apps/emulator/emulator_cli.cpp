// The emulator's options and serve loop; see emulator_cli.hpp.
#include "emulator_cli.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>

#include <algorithm>
#include <charconv>
#include <csignal>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <thread>

namespace kiemidi::apps {

namespace emu = kiemidi::emulator;

namespace {

constexpr std::string_view synopsis = "usage: {program} [options]\nServes a local KIE emulator until SIGINT/SIGTERM.";

/// A whole number of type T; the text must be all digits of it (no sign for unsigned T, no range overflow).
template <class T>
T number(const std::string& flag, const std::string& text)
{
    T v{};
    auto r = std::from_chars(text.data(), text.data() + text.size(), v);
    if (r.ec != std::errc() || r.ptr != text.data() + text.size())
        throw po::error("invalid value '" + text + "' for --" + flag);
    return v;
}

/// A whole-number flag stored into `target` (checked as number<T> does).
template <class T>
po::typed_value<std::string>* whole(T& target, std::string flag)
{
    return po::value<std::string>()->value_name("N")->notifier(
        [&target, flag](const std::string& v) { target = number<T>(flag, v); });
}

/// A milliseconds flag.
po::typed_value<std::string>* millis(std::chrono::milliseconds& target, std::string flag)
{
    return po::value<std::string>()->value_name("N")->notifier(
        [&target, flag](const std::string& v) { target = std::chrono::milliseconds(number<long>(flag, v)); });
}

/// A fault rate: a probability from 0 to 1.
po::typed_value<std::string>* rate(double& target, std::string flag)
{
    return po::value<std::string>()->value_name("R")->notifier([&target, flag](const std::string& text) {
        char* end = nullptr;
        double v = std::strtod(text.c_str(), &end);
        if (text.empty() || *end != '\0' || !(v >= 0 && v <= 1))
            throw po::error("invalid rate '" + text + "' for --" + flag + " (0..1)");
        target = v;
    });
}

/// Wider than Boost's default 80 columns: the longest flags would leave the descriptions no room.
constexpr unsigned help_width = 110;

/// The option groups, writing into `out`.
po::options_description emulator_options(emulator_cli_options& out)
{
    auto& opts = out.server;
    auto& fo = opts.faults;
    po::options_description server("server", help_width, help_width / 2);
    server.add_options()
        ("help,h", "this text")
        ("address", po::value(&opts.address)->value_name("ADDR"), "listening address (default 127.0.0.1; keep it on loopback)")
        ("http-port", whole(opts.http_port, "http-port"), "HTTP port (default 0 = any free port)")
        ("https-port", whole(opts.https_port, "https-port"), "HTTPS port (default 0 = any free port)")
        ("no-https", po::bool_switch()->notifier([&opts](bool on) { if (on) opts.enable_https = false; }), "serve plain HTTP only")
        ("api-key", po::value(&opts.api_key)->value_name("KEY"), "accepted bearer token (default kie-emulator-key)")
        ("separation-delay-ms", millis(opts.separation_delay, "separation-delay-ms"), "time a separation task stays PENDING (default 20)")
        ("midi-delay-ms", millis(opts.midi_delay, "midi-delay-ms"), "time a MIDI task stays pending (default 20)")
        ("credits", whole(opts.initial_credits, "credits"), "initial credits (default 1000000)")
        ("insufficient-credits-code",
         po::value<std::string>()->value_name("C")->notifier([&opts](const std::string& v) {
             opts.insufficient_credits_code = number<int>("insufficient-credits-code", v);
             if (opts.insufficient_credits_code != 402 && opts.insufficient_credits_code != 429)
                 throw po::error("invalid value '" + v + "' for --insufficient-credits-code (402 or 429)");
         }),
         "body code of a paid POST refused for lack of credits: 402 (default) or 429")
        ("seed", whole(opts.seed, "seed"), "seed of ids and results (default 1)")
        ("threads",
         po::value<std::string>()->value_name("N")->notifier(
             [&out](const std::string& v) { out.threads = std::max(1u, number<unsigned>("threads", v)); }),
         "io threads (default 1)")
        ("ca-out", po::value(&out.ca_out)->value_name("FILE"), "write the HTTPS CA certificate (PEM) to FILE")
        ("webhook-hmac-key", po::value(&opts.webhook_hmac_key)->value_name("KEY"),
         "sign callbacks (X-Webhook-Timestamp / X-Webhook-Signature)")
        ("callback-dialect",
         po::value<std::string>()->value_name("D")->notifier([&opts](const std::string& v) {
             if (v == "english") opts.dialect = emu::callback_dialect::english;
             else if (v == "chinese") opts.dialect = emu::callback_dialect::chinese;
             else if (v == "mixed") opts.dialect = emu::callback_dialect::mixed;
             else throw po::error("invalid value '" + v + "' for --callback-dialect (english, chinese or mixed)");
         }),
         "english | chinese | mixed (default english)")
        ("rate-limit-per-10s", whole(opts.rate_limit_per_10s, "rate-limit-per-10s"),
         "simulated account rate limit on paid POSTs (default 0 = off)")
        ("accept-latency-ms", millis(opts.accept_latency, "accept-latency-ms"),
         "answer every paid POST N ms after it arrived (counted at arrival)")
        ("accept-latency-jitter-ms", millis(opts.accept_latency_jitter, "accept-latency-jitter-ms"), "plus a random 0..N ms each")
        ("unknown-task-404", po::bool_switch(&opts.unknown_task_is_404), "unknown task ids answer code 404 instead of data null")
        ("http-status-mirrors-code", po::bool_switch(&opts.error_http_status_mirrors_code),
         "error answers use the KIE code as HTTP status too")
        ("midi-task-id-equals-separation", po::bool_switch(&opts.midi_task_id_equals_separation),
         "a MIDI task gets its separation's task id (as KIE's example)");

    po::options_description faults("fault rates (R from 0 to 1)", help_width, help_width / 2);
    faults.add_options()
        ("http-429-rate", rate(fo.http_429_rate, "http-429-rate"), "answer HTTP 429 with Retry-After (not processed)")
        ("http-500-rate", rate(fo.http_500_rate, "http-500-rate"), "answer HTTP 500 (not processed)")
        ("http-455-rate", rate(fo.http_455_rate, "http-455-rate"), "answer HTTP 455, under maintenance (not processed)")
        ("connection-reset-rate", rate(fo.connection_reset_rate, "connection-reset-rate"), "close the connection unanswered, without processing")
        ("reset-after-processing-rate", rate(fo.reset_after_processing_rate, "reset-after-processing-rate"),
         "process (and charge), then close the connection unanswered")
        ("slow-response-rate", rate(fo.slow_response_rate, "slow-response-rate"), "answer after --slow-response-ms")
        ("slow-response-ms", millis(fo.slow_response, "slow-response-ms"), "how slow a slow response is")
        ("callback-drop-rate", rate(fo.callback_drop_rate, "callback-drop-rate"), "never deliver the callback")
        ("callback-duplicate-rate", rate(fo.callback_duplicate_rate, "callback-duplicate-rate"), "deliver the callback twice")
        ("callback-delay-rate", rate(fo.callback_delay_rate, "callback-delay-rate"), "deliver the callback after --callback-delay-ms")
        ("callback-delay-ms", millis(fo.callback_delay, "callback-delay-ms"), "how late a delayed callback is")
        ("callback-reorder-rate", rate(fo.callback_reorder_rate, "callback-reorder-rate"), "deliver callbacks out of order")
        ("separation-failure-rate", rate(fo.separation_failure_rate, "separation-failure-rate"), "separations fail")
        ("midi-failure-rate", rate(fo.midi_failure_rate, "midi-failure-rate"), "MIDI generations fail")
        ("paid-answer-delay-ms", millis(fo.paid_answer_delay, "paid-answer-delay-ms"),
         "answer accepted paid POSTs only after N ms (the task exists meanwhile)")
        ("processed-then-html-502-rate", rate(fo.processed_then_html_502_rate, "processed-then-html-502-rate"),
         "process (and charge) paid POSTs, then answer a gateway's HTML 502")
        ("processed-then-truncated-body-rate", rate(fo.processed_then_truncated_body_rate, "processed-then-truncated-body-rate"),
         "process (and charge) paid POSTs, then answer KIE's JSON cut in half")
        ("processed-then-non-json-200-rate", rate(fo.processed_then_non_json_200_rate, "processed-then-non-json-200-rate"),
         "process (and charge) paid POSTs, then answer a 200 that is not JSON")
        ("processed-then-json-500-rate", rate(fo.processed_then_json_500_rate, "processed-then-json-500-rate"),
         "process (and charge) paid POSTs, then answer KIE's {\"code\":500,...}");

    po::options_description results("results KIE's documentation allows or leaves open", help_width, help_width / 2);
    results.add_options()
        ("odd-notes-rate", rate(fo.odd_notes_rate, "odd-notes-rate"),
         "MIDI results start with odd notes (velocity 100, zero length, no velocity, pitch 200, negative start)")
        ("empty-midi-rate", rate(fo.empty_midi_rate, "empty-midi-rate"), "MIDI results with no instrument")
        ("callback-exception-rate", rate(fo.callback_exception_rate, "callback-exception-rate"),
         "separations end in CALLBACK_EXCEPTION with stems, callback not delivered")
        ("unknown-success-flag-polls", whole(fo.unknown_success_flag_polls, "unknown-success-flag-polls"),
         "the first N record-info reads of each task answer successFlag \"WEIRD\" / 4")
        ("music-index-negative", po::bool_switch(&fo.music_index_negative), "separation records carry musicIndex -1")
        ("pending-success-flag-null", po::bool_switch(&fo.pending_success_flag_null), "pending records carry successFlag null")
        ("origin-data-null-id", po::bool_switch(&fo.origin_data_null_id),
         "completed separation records list an extra originData item with id null")
        ("repeat-separation-callback-after-midi-submit", po::bool_switch(&fo.repeat_separation_callback_after_midi_submit),
         "deliver the separation's callback once more after each MIDI POST is answered (KIE repeats deliveries)");

    po::options_description all;
    all.add(server).add(faults).add(results);
    return all;
}

}  // namespace

emulator_cli_options parse_emulator_args(const std::vector<std::string>& args)
{
    emulator_cli_options out;
    auto desc = emulator_options(out);
    po::variables_map vm;
    store_command_line(args, desc, {}, vm);
    out.help = vm.count("help") != 0;
    if (!out.help) po::notify(vm);
    return out;
}

int emulator_main(std::string_view program, const std::vector<std::string>& args)
{
    emulator_cli_options opts;
    try
    {
        opts = parse_emulator_args(args);
    }
    catch (const po::error& e)
    {
        return usage_error(program, e.what());
    }
    if (opts.help)
    {
        std::string text(synopsis);
        text.replace(text.find("{program}"), 9, program);
        emulator_cli_options unused;
        print_help(text, emulator_options(unused));
        return 0;
    }
    return serve_emulator(opts, program);
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
