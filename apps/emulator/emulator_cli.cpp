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
po::typed_value<std::string>* whole_value(T& target, std::string flag)
{
    return po::value<std::string>()->value_name("N")->notifier(
        [&target, flag](const std::string& v) { target = number<T>(flag, v); });
}

/// A milliseconds flag.
po::typed_value<std::string>* millis_value(std::chrono::milliseconds& target, std::string flag)
{
    return po::value<std::string>()->value_name("N")->notifier(
        [&target, flag](const std::string& v) { target = std::chrono::milliseconds(number<long>(flag, v)); });
}

/// A fault rate: a probability from 0 to 1.
po::typed_value<std::string>* rate_value(double& target, std::string flag)
{
    return po::value<std::string>()->value_name("R")->notifier([&target, flag](const std::string& text) {
        char* end = nullptr;
        double v = std::strtod(text.c_str(), &end);
        if (text.empty() || *end != '\0' || !(v >= 0 && v <= 1))
            throw po::error("invalid rate '" + text + "' for --" + flag + " (0..1)");
        target = v;
    });
}

/// Adds flags to one option group, each named once: a checked value's errors name its flag.
class flags
{
public:
    explicit flags(po::options_description& group) : group_(group) {}

    flags& operator()(const char* name, const char* what)
    {
        group_.add_options()(name, what);
        return *this;
    }
    flags& operator()(const char* name, const po::value_semantic* value, const char* what)
    {
        group_.add_options()(name, value, what);
        return *this;
    }
    template <class T>
    flags& whole(const char* name, T& target, const char* what)
    {
        return (*this)(name, whole_value(target, name), what);
    }
    flags& millis(const char* name, std::chrono::milliseconds& target, const char* what)
    {
        return (*this)(name, millis_value(target, name), what);
    }
    flags& rate(const char* name, double& target, const char* what)
    {
        return (*this)(name, rate_value(target, name), what);
    }

private:
    po::options_description& group_;
};

/// Wider than Boost's default 80 columns: the longest flags would leave the descriptions no room.
constexpr unsigned help_width = 110;

/// The option groups, writing into `out`.
po::options_description emulator_options(emulator_cli_options& out)
{
    auto& opts = out.server;
    auto& fo = opts.faults;
    po::options_description server("server", help_width, help_width / 2);
    flags{server}
        ("help,h", "this text")
        ("version", "print the version (and the Boost and OpenSSL versions built with) and exit")
        ("address", po::value(&opts.address)->value_name("ADDR"), "listening address (default 127.0.0.1; keep it on loopback)")
        .whole("http-port", opts.http_port, "HTTP port (default 0 = any free port)")
        .whole("https-port", opts.https_port, "HTTPS port (default 0 = any free port)")
        ("no-https", po::bool_switch()->notifier([&opts](bool on) { if (on) opts.enable_https = false; }), "serve plain HTTP only")
        ("api-key", po::value(&opts.api_key)->value_name("KEY"), "accepted bearer token (default kie-emulator-key)")
        .millis("separation-delay-ms", opts.separation_delay, "time a separation task stays PENDING (default 20)")
        .millis("midi-delay-ms", opts.midi_delay, "time a MIDI task stays pending (default 20)")
        .whole("credits", opts.initial_credits, "initial credits (default 1000000)")
        ("insufficient-credits-code",
         po::value<std::string>()->value_name("C")->notifier([&opts](const std::string& v) {
             opts.insufficient_credits_code = number<int>("insufficient-credits-code", v);
             if (opts.insufficient_credits_code != 402 && opts.insufficient_credits_code != 429)
                 throw po::error("invalid value '" + v + "' for --insufficient-credits-code (402 or 429)");
         }),
         "body code of a paid POST refused for lack of credits: 402 (default) or 429")
        .whole("seed", opts.seed, "seed of ids and results (default 1)")
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
        .whole("rate-limit-per-10s", opts.rate_limit_per_10s,
         "simulated account rate limit on paid POSTs (default 0 = off)")
        .millis("accept-latency-ms", opts.accept_latency,
         "answer every paid POST N ms after it arrived (counted at arrival)")
        .millis("accept-latency-jitter-ms", opts.accept_latency_jitter, "plus a random 0..N ms each")
        ("unknown-task-404", po::bool_switch(&opts.unknown_task_is_404), "unknown task ids answer code 404 instead of data null")
        ("http-status-mirrors-code", po::bool_switch(&opts.error_http_status_mirrors_code),
         "error answers use the KIE code as HTTP status too")
        ("midi-task-id-equals-separation", po::bool_switch(&opts.midi_task_id_equals_separation),
         "a MIDI task gets its separation's task id (as KIE's example)");

    po::options_description faults("fault rates (R from 0 to 1)", help_width, help_width / 2);
    flags{faults}
        .rate("http-429-rate", fo.http_429_rate, "answer HTTP 429 with Retry-After (not processed)")
        .rate("http-500-rate", fo.http_500_rate, "answer HTTP 500 (not processed)")
        .rate("http-455-rate", fo.http_455_rate, "answer HTTP 455, under maintenance (not processed)")
        .rate("connection-reset-rate", fo.connection_reset_rate, "close the connection unanswered, without processing")
        .rate("reset-after-processing-rate", fo.reset_after_processing_rate,
         "process (and charge), then close the connection unanswered")
        .rate("slow-response-rate", fo.slow_response_rate, "answer after --slow-response-ms")
        .millis("slow-response-ms", fo.slow_response, "how slow a slow response is")
        .rate("callback-drop-rate", fo.callback_drop_rate, "never deliver the callback")
        .rate("callback-duplicate-rate", fo.callback_duplicate_rate, "deliver the callback twice")
        .rate("callback-delay-rate", fo.callback_delay_rate, "deliver the callback after --callback-delay-ms")
        .millis("callback-delay-ms", fo.callback_delay, "how late a delayed callback is")
        .rate("callback-reorder-rate", fo.callback_reorder_rate, "deliver callbacks out of order")
        .rate("separation-failure-rate", fo.separation_failure_rate, "separations fail")
        .rate("midi-failure-rate", fo.midi_failure_rate, "MIDI generations fail")
        .millis("paid-answer-delay-ms", fo.paid_answer_delay,
         "answer accepted paid POSTs only after N ms (the task exists meanwhile)")
        .rate("processed-then-html-502-rate", fo.processed_then_html_502_rate,
         "process (and charge) paid POSTs, then answer a gateway's HTML 502")
        .rate("processed-then-truncated-body-rate", fo.processed_then_truncated_body_rate,
         "process (and charge) paid POSTs, then answer KIE's JSON cut in half")
        .rate("processed-then-non-json-200-rate", fo.processed_then_non_json_200_rate,
         "process (and charge) paid POSTs, then answer a 200 that is not JSON")
        .rate("processed-then-json-500-rate", fo.processed_then_json_500_rate,
         "process (and charge) paid POSTs, then answer KIE's {\"code\":500,...}");

    po::options_description outage("scheduled outage (KIE down for a window; requests in it are not processed)",
                                    help_width, help_width / 2);
    flags{outage}
        .millis("outage-start-ms", opts.outage.start, "the outage starts N ms after the emulator started (default 0)")
        .millis("outage-ms", opts.outage.length, "the outage lasts N ms (default 0 = no outage)")
        ("outage-kind",
         po::value<std::string>()->value_name("K")->notifier([&opts](const std::string& v) {
             if (v == "maintenance") opts.outage.kind = emu::outage_kind::maintenance;
             else if (v == "5xx") opts.outage.kind = emu::outage_kind::server_error;
             else if (v == "reset") opts.outage.kind = emu::outage_kind::connection_reset;
             else if (v == "refused") opts.outage.kind = emu::outage_kind::connection_refused;
             else throw po::error("invalid value '" + v + "' for --outage-kind (maintenance, 5xx, reset or refused)");
         }),
         "maintenance (HTTP 455, default) | 5xx (HTML 503 pages) | reset (requests read, then closed unanswered) | "
         "refused (new connections reset at once, nothing read)");

    po::options_description results("results KIE's documentation allows or leaves open", help_width, help_width / 2);
    flags{results}
        .rate("odd-notes-rate", fo.odd_notes_rate,
         "MIDI results start with odd notes (velocity 100, zero length, no velocity, pitch 200, negative start)")
        .rate("empty-midi-rate", fo.empty_midi_rate, "MIDI results with no instrument")
        .rate("callback-exception-rate", fo.callback_exception_rate,
         "separations end in CALLBACK_EXCEPTION with stems, callback not delivered")
        .whole("unknown-success-flag-polls", fo.unknown_success_flag_polls,
         "the first N record-info reads of each task answer successFlag \"WEIRD\" / 4")
        ("music-index-negative", po::bool_switch(&fo.music_index_negative), "separation records carry musicIndex -1")
        ("pending-success-flag-null", po::bool_switch(&fo.pending_success_flag_null), "pending records carry successFlag null")
        ("origin-data-null-id", po::bool_switch(&fo.origin_data_null_id),
         "completed separation records list an extra originData item with id null")
        ("repeat-separation-callback-after-midi-submit", po::bool_switch(&fo.repeat_separation_callback_after_midi_submit),
         "deliver the separation's callback once more after each MIDI POST is answered (KIE repeats deliveries)");

    po::options_description all;
    all.add(server).add(faults).add(outage).add(results);
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
    out.version = vm.count("version") != 0;
    if (!out.help && !out.version) po::notify(vm);
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
    if (opts.version)
    {
        print_version(program);
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
