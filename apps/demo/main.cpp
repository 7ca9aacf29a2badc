// kiemidi-demo: the main job. With no KIE_API_KEY in the environment it starts the embedded KIE
// emulator in-process and walks every endpoint once: credits, a music task's tracks, stem
// separation (submit + record-info until done), MIDI generation from one stem (submit +
// record-info until done), then prints the instruments and notes it got back.
// With KIE_API_KEY (and optionally KIE_BASE_URL) set, the same program talks to the real service;
// pass a music task id and audio id as arguments then (they are paid requests).
#include <kiemidi/client.hpp>
#include <kiemidi/emulator.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <chrono>
#include <iostream>
#include <memory>
#include <optional>

namespace asio = boost::asio;
using namespace std::chrono_literals;

namespace {

struct run_args
{
    kiemidi::client_options client;
    std::string music_task_id;
    std::string audio_id;
};

void fail(const char* step, kiemidi::error_code ec, const kiemidi::diagnostics& diag)
{
    throw std::runtime_error(std::string(step) + " failed: " + ec.message() + " " + diag.to_string());
}

asio::awaitable<void> tour(kiemidi::client& kie, std::string music_task_id, std::string audio_id, std::string callback_url)
{
    auto tok = asio::as_tuple(asio::use_awaitable);
    kiemidi::diagnostics diag;
    auto ex = co_await asio::this_coro::executor;
    asio::steady_timer timer(ex);

    auto [ec_c, credits] = co_await kie.async_get_credits(diag, tok);
    if (ec_c) fail("credits", ec_c, diag);
    std::cout << "credits            " << credits.remaining << '\n';

    auto [ec_m, music] = co_await kie.async_get_music_task(music_task_id, diag, tok);
    if (ec_m) fail("music task", ec_m, diag);
    std::cout << "music task         " << music.task_id << " (" << music.status << ", " << music.tracks.size() << " tracks)\n";
    if (audio_id.empty())
    {
        if (music.tracks.empty()) throw std::runtime_error("the music task has no tracks");
        audio_id = music.tracks.front().id;
    }

    auto t0 = std::chrono::steady_clock::now();
    kiemidi::api::separation_request sep_req{.task_id = music_task_id, .audio_id = audio_id,
                                             .type = kiemidi::api::separation_type::separate_vocal, .callback_url = callback_url};
    auto [ec_s, sep_task] = co_await kie.async_submit_separation(std::move(sep_req), diag, tok);
    if (ec_s) fail("separation submit", ec_s, diag);
    std::cout << "separation task    " << sep_task.task_id << '\n';

    kiemidi::api::separation_record sep;
    for (auto delay = 50ms;; delay = std::min(delay * 2, std::chrono::milliseconds(10s)))
    {
        auto [ec, rec] = co_await kie.async_get_separation(sep_task.task_id, diag, tok);
        if (ec) fail("separation record-info", ec, diag);
        if (rec.state == kiemidi::api::separation_state::success) { sep = std::move(rec); break; }
        if (rec.state != kiemidi::api::separation_state::pending)
            throw std::runtime_error("separation failed: " + rec.raw_state + " " + rec.error_message.value_or(""));
        timer.expires_after(delay);
        co_await timer.async_wait(asio::use_awaitable);
    }
    std::cout << "stems              ";
    for (const auto& s : sep.origin_data) std::cout << s.stem_type_group_name << " (" << s.id << ") ";
    std::cout << '\n';

    // MIDI from the instrumental stem when there is one, else from all stems.
    std::optional<std::string> stem_id;
    for (const auto& s : sep.origin_data)
        if (s.stem_type_group_name == "Instrumental") stem_id = s.id;

    kiemidi::api::midi_request midi_req{.task_id = sep_task.task_id, .callback_url = callback_url, .audio_id = stem_id};
    auto [ec_g, midi_task] = co_await kie.async_submit_midi(std::move(midi_req), diag, tok);
    if (ec_g) fail("midi submit", ec_g, diag);
    std::cout << "midi task          " << midi_task.task_id << '\n';

    kiemidi::api::midi_record midi;
    for (auto delay = 50ms;; delay = std::min(delay * 2, std::chrono::milliseconds(10s)))
    {
        auto [ec, rec] = co_await kie.async_get_midi(midi_task.task_id, diag, tok);
        if (ec) fail("midi record-info", ec, diag);
        if (rec.state == kiemidi::api::midi_state::success) { midi = std::move(rec); break; }
        if (rec.state != kiemidi::api::midi_state::pending)
            throw std::runtime_error("midi generation failed: " + rec.error_message.value_or("(no message)"));
        timer.expires_after(delay);
        co_await timer.async_wait(asio::use_awaitable);
    }
    std::size_t notes = 0;
    for (const auto& inst : midi.midi.instruments)
    {
        notes += inst.notes.size();
        std::cout << "  instrument       " << inst.name << ": " << inst.notes.size() << " notes\n";
    }
    auto elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    auto stats = kie.transport().stats();
    std::cout << "summary            " << midi.midi.instruments.size() << " instruments, " << notes << " notes, "
              << stats.requests_sent << " requests over " << stats.connections_opened << " connection(s), "
              << elapsed << " s\n";
}

}  // namespace

int main(int argc, char** argv)
{
    try
    {
        asio::io_context ioc;
        std::unique_ptr<kiemidi::emulator::server> emu;
        std::string music_task = argc > 1 ? argv[1] : "5c79****be8e";
        std::string audio_id = argc > 2 ? argv[2] : "";
        std::string callback_url = argc > 3 ? argv[3] : "";

        auto opts = kiemidi::client_options::from_environment();
        if (!opts)
        {
            kiemidi::emulator::emulator_options eo;
            emu = std::make_unique<kiemidi::emulator::server>(ioc.get_executor(), eo);
            emu->start();
            opts.emplace();
            opts->base_url = emu->https_base_url();
            opts->api_key = eo.api_key;
            opts->transport.tls.ca_pem = emu->ca_certificate_pem();
            std::cout << "KIE                embedded emulator at " << opts->base_url << " (set KIE_API_KEY to use the real service)\n";
            if (callback_url.empty()) callback_url = "https://example.callback";  // never called: not a loopback host
        }
        else
        {
            std::cout << "KIE                " << opts->base_url << '\n';
            if (argc < 4)
            {
                std::cerr << "usage with a real key: kiemidi-demo MUSIC_TASK_ID AUDIO_ID CALLBACK_URL (paid requests)\n";
                return 2;
            }
        }
        kiemidi::client kie(ioc.get_executor(), std::move(*opts));
        std::exception_ptr failure;
        asio::co_spawn(ioc, tour(kie, music_task, audio_id, callback_url), [&](std::exception_ptr e) {
            failure = e;
            kie.close();
            if (emu) emu->stop();
        });
        ioc.run();
        if (failure) std::rethrow_exception(failure);
        return 0;
    }
    catch (const std::exception& e)
    {
        std::cerr << "kiemidi-demo: " << e.what() << '\n';
        return 1;
    }
}
