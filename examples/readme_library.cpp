// readme_library: the library snippets README.md shows under "Using the library", compiled and run
// against the embedded KIE emulator (ctest library_snippets.run, built with the tests), so they cannot
// rot. README shows the lines between the two "README" markers verbatim; ctest library_snippets.shown
// checks that.
#include <kiemidi/callback_listener.hpp>
#include <kiemidi/emulator.hpp>
#include <kiemidi/in_process_callback_hub.hpp>

#include <boost/asio/detached.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

// README: begin
#include <kiemidi/client.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <chrono>
#include <iostream>
#include <string>

namespace asio = boost::asio;

// One song → MIDI: separation, wait, MIDI generation, wait. Throws kiemidi::pipeline_error (a
// boost::system::system_error with KIE's message) holding the result so far: task ids, references.
asio::awaitable<void> one_song(kiemidi::client& kie)
{
    kiemidi::midi_result midi = co_await kie.generate_midi("5c79****be8e", "e231****-****-****-****-****8cadc7dc");
    for (const auto& inst : midi.instruments) std::cout << inst.name << ": " << inst.notes.size() << " notes\n";
}

// The same with an error_code and diagnostics instead of exceptions, and a deadline.
asio::awaitable<void> one_song_no_throw(kiemidi::client& kie)
{
    kiemidi::midi_params params{.task_id = "5c79****be8e", .audio_id = "e231****-****-****-****-****8cadc7dc"};
    params.deadline = std::chrono::minutes(20);
    kiemidi::diagnostics diag;
    auto [ec, midi] = co_await kie.async_generate_midi(std::move(params), diag, asio::as_tuple(asio::use_awaitable));
    if (ec) std::cerr << ec.message() << ": " << diag.to_string() << '\n';  // stage, KIE's msg and code, HTTP status, endpoint
    if (ec == kiemidi::client_errc::outcome_unknown)  // a paid POST cut or unanswered: find its task, do not resend
        std::cerr << "find it with kie.async_find_task(kind, \"" << diag.callback_reference() << "\", ...)\n";
}

// MIDI from a separation that finished earlier: one paid POST (none if it has not finished).
// A separate_vocal separation has the stems "Vocals" and "Instrumental"; a split_stem one up to 12.
asio::awaitable<void> from_separation(kiemidi::client& kie, std::string separation_task_id)
{
    kiemidi::midi_params params{.separation_task_id = std::move(separation_task_id)};
    params.stem = "instrumental";  // by KIE's stem name, case-insensitive; or co_await kie.generate_midi_from_separation(id, stem_audio_id)
    kiemidi::midi_result midi = co_await kie.generate_midi(std::move(params));
    std::cout << midi.transcribed_stem_id << ": " << midi.note_count() << " notes\n";
}

// A backend stopping: no new operation starts, pending ones end (a paid POST in flight as an
// unknown outcome with its callback reference), then the client may be destroyed. Without a
// completion token, an operation returns an asio::deferred operation, which co_await runs.
asio::awaitable<void> stop(kiemidi::client& kie)
{
    co_await kie.async_shutdown();
}
// README: end

namespace {

// A finished separate_vocal separation to start from, as from_separation needs one.
asio::awaitable<std::string> finished_separation(kiemidi::client& kie)
{
    kiemidi::diagnostics diag;
    kiemidi::api::separation_request req{.task_id = "5c79****be8e",
                                         .audio_id = "e231****-****-****-****-****8cadc7dc",
                                         .type = kiemidi::api::separation_type::separate_vocal,
                                         .callback_url = {}};
    auto [ec, created] = co_await kie.async_submit_separation(req, diag, asio::as_tuple(asio::use_awaitable));
    if (ec) throw boost::system::system_error(ec, diag.to_string());
    const kiemidi::wait_options w;
    auto [wec, rec] = co_await kie.async_wait_separation(created.task_id, w, diag, asio::as_tuple(asio::use_awaitable));
    if (wec) throw boost::system::system_error(wec, diag.to_string());
    co_return created.task_id;
}

asio::awaitable<void> all(kiemidi::client& kie)
{
    co_await one_song(kie);
    co_await one_song_no_throw(kie);
    co_await from_separation(kie, co_await finished_separation(kie));
    co_await stop(kie);
}

}  // namespace

int main()
{
    try
    {
        asio::io_context ioc;
        kiemidi::emulator::server kie_emulator(ioc.get_executor());
        kie_emulator.start();
        kiemidi::in_process_callback_hub hub(ioc.get_executor());
        kiemidi::callback_listener listener(ioc.get_executor(), {}, hub);
        listener.start();
        kiemidi::client_options opts;
        opts.base_url = kie_emulator.https_base_url();
        opts.api_key = kie_emulator.api_key();
        opts.transport.tls.ca_pem = kie_emulator.ca_certificate_pem();
        kiemidi::client kie(ioc.get_executor(), std::move(opts));
        kie.attach_callbacks(hub, listener);

        std::exception_ptr failure;
        asio::co_spawn(ioc, all(kie), [&](std::exception_ptr e) {
            failure = e;
            listener.async_stop(asio::detached);  // graceful: completes once nothing of it runs
            hub.async_stop(asio::detached);
            kie_emulator.async_stop(asio::detached);
        });
        ioc.run();
        if (failure) std::rethrow_exception(failure);
        return 0;
    }
    catch (const std::exception& e)
    {
        std::cerr << "readme_library: " << e.what() << '\n';
        return 1;
    }
}
