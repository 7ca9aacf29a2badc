// generate_one: one song → MIDI with `co_await client.generate_midi(task_id, audio_id)`.
//
// Shows: the minimal wiring of a kiemidi client with its callback listener and hub, and the
// throwing coroutine spelling. Needs: nothing; it starts the embedded KIE emulator on 127.0.0.1
// (a real service needs client_options{.base_url, .api_key} and a listener KIE can reach).
#include <kiemidi/in_process_callback_hub.hpp>
#include <kiemidi/callback_listener.hpp>
#include <kiemidi/client.hpp>
#include <kiemidi/emulator.hpp>

#include <boost/asio/detached.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include <iostream>

namespace asio = boost::asio;

asio::awaitable<void> run(kiemidi::client& kie)
{
    // Separation, wait for its callback, MIDI generation, wait again: two paid requests.
    kiemidi::midi_result midi = co_await kie.generate_midi("5c79****be8e", "e231****-****-****-****-****8cadc7dc");
    for (const auto& inst : midi.instruments)
        std::cout << inst.name << ": " << inst.notes.size() << " notes\n";
}

int main()
{
    try
    {
        asio::io_context ioc;

        // A local KIE (HTTPS with a CA generated at start-up).
        kiemidi::emulator::server kie_emulator(ioc.get_executor());
        kie_emulator.start();

        // Where KIE's callbacks arrive, and where waiting coroutines pick them up.
        kiemidi::in_process_callback_hub hub(ioc.get_executor());
        kiemidi::callback_listener listener(ioc.get_executor(), {}, hub);
        listener.start();

        // The client: base URL, key, and the emulator's CA (a real service uses the system's CAs).
        kiemidi::client_options opts;
        opts.base_url = kie_emulator.https_base_url();
        opts.api_key = kie_emulator.api_key();
        opts.transport.tls.ca_pem = kie_emulator.ca_certificate_pem();
        kiemidi::client kie(ioc.get_executor(), std::move(opts));
        kie.attach_callbacks(hub, listener);

        std::exception_ptr failure;
        asio::co_spawn(ioc, run(kie), [&](std::exception_ptr e) {
            failure = e;
            kie.close();
            listener.async_stop(asio::detached);  // graceful: completes once nothing of it runs
            kie_emulator.async_stop(asio::detached);
        });
        ioc.run();
        if (failure) std::rethrow_exception(failure);
        return 0;
    }
    catch (const std::exception& e)
    {
        std::cerr << "generate_one: " << e.what() << '\n';
        return 1;
    }
}
