// kiemidi-bench-micro: Google Benchmark micro-benchmarks of the hot pure paths:
// parsing a 20,000-note MIDI record-info answer, writing its Standard MIDI File, and routing a
// callback through the callback hub (deliver → waiting handler runs).
#include <kiemidi/api.hpp>
#include <kiemidi/in_process_callback_hub.hpp>
#include <kiemidi/smf/writer.hpp>

#include <benchmark/benchmark.h>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include <cstdio>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

/// A KIE midi record-info body with `notes` notes spread over 8 instruments, shaped like KIE's.
std::string midi_record_body(int notes)
{
    static const char* names[] = {"Drums", "Electric Bass (finger)", "Acoustic Grand Piano", "Electric Guitar (clean)",
                                  "String Ensemble 1", "Synth Strings 1", "Trumpet", "Flute"};
    constexpr int instruments = 8;
    std::string s = R"({"code":200,"msg":"success","data":{"taskId":"5c79be8e5c79be8e5c79be8e5c79be8e","recordTaskId":-1,)"
                    R"("audioId":"e231aaaa-bbbb-cccc-dddd-eeee8cadc7dc","callbackUrl":"https://example.callback",)"
                    R"("completeTime":1760335255000,"midiData":{"state":"complete","instruments":[)";
    char buf[160];
    for (int i = 0; i < instruments; ++i)
    {
        s += i ? "," : "";
        s += R"({"name":")";
        s += names[i];
        s += R"(","notes":[)";
        const int per = notes / instruments + (i < notes % instruments ? 1 : 0);
        for (int n = 0; n < per; ++n)
        {
            const double start = n * 0.0625 + i * 0.001;
            std::snprintf(buf, sizeof buf, R"(%s{"pitch":%d,"start":%.17g,"end":%.17g,"velocity":%.3f})", n ? "," : "",
                          36 + (n * 7 + i) % 60, start, start + 0.18229166666666666, 0.5 + (n % 50) / 100.0);
            s += buf;
        }
        s += "]}";
    }
    s += R"(]},"successFlag":1,"createTime":1760335251000,"errorCode":null,"errorMessage":null}})";
    return s;
}

void parse_midi_record_20000_notes(benchmark::State& state)
{
    const auto body = midi_record_body(20000);
    for (auto _ : state)
    {
        kiemidi::api::midi_record rec;
        kiemidi::diagnostics diag;
        auto ec = kiemidi::api::parse_response(body, rec, diag);
        if (ec) throw std::runtime_error("parse failed: " + diag.to_string());
        benchmark::DoNotOptimize(rec);
    }
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * body.size()));
    state.counters["body_bytes"] = static_cast<double>(body.size());
}
BENCHMARK(parse_midi_record_20000_notes)->Unit(benchmark::kMillisecond);

void write_smf_20000_notes(benchmark::State& state)
{
    kiemidi::api::midi_record rec;
    kiemidi::diagnostics diag;
    if (kiemidi::api::parse_response(midi_record_body(20000), rec, diag)) throw std::runtime_error(diag.to_string());
    std::size_t bytes = 0;
    for (auto _ : state)
    {
        auto smf = kiemidi::smf::write_smf(rec.midi.instruments);
        bytes = smf.size();
        benchmark::DoNotOptimize(smf);
    }
    state.counters["smf_bytes"] = static_cast<double>(bytes);
}
BENCHMARK(write_smf_20000_notes)->Unit(benchmark::kMillisecond);

/// One callback routed to its waiter: async_wait registers, deliver() finds it and posts the
/// handler, the io_context runs it.
void hub_deliver_to_waiter(benchmark::State& state)
{
    boost::asio::io_context ioc;
    // Keeps poll() from stopping the io_context when it runs out of work between iterations.
    auto work = boost::asio::make_work_guard(ioc);
    kiemidi::in_process_callback_hub hub(ioc.get_executor());
    std::vector<std::string> ids(4096);
    for (std::size_t i = 0; i < ids.size(); ++i) ids[i] = "task-" + std::to_string(i) + "-5c79be8e5c79be8e5c79be8e";
    const std::string body = R"({"code":200,"msg":"success","data":{"task_id":"x","callbackType":"complete"}})";
    std::size_t i = 0, resumed = 0;
    for (auto _ : state)
    {
        // Unique ids: the hub remembers delivered ids to drop KIE's duplicates.
        std::string id = ids[i % ids.size()] + std::to_string(i);
        ++i;
        hub.async_wait(kiemidi::callback_kind::midi, id, [&](kiemidi::error_code ec, kiemidi::callback_message) { resumed += !ec; });
        kiemidi::callback_message msg;
        msg.kind = kiemidi::callback_kind::midi;
        msg.task_id = std::move(id);
        msg.body = body;
        benchmark::DoNotOptimize(hub.deliver(std::move(msg)));
        ioc.poll();
    }
    if (resumed != i) state.SkipWithError("a waiter was not resumed");
    hub.close();
    work.reset();
    ioc.run();
}
BENCHMARK(hub_deliver_to_waiter);

}  // namespace

BENCHMARK_MAIN();
