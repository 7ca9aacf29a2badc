// many_tracks: many pipelines at once on one thread, with per-pipeline cancellation.
//
// Shows: running hundreds of async_generate_midi operations concurrently on one io_context
// thread, waiting for all of them, and cancelling one through its cancellation slot.
// Needs: nothing; it starts the embedded KIE emulator on 127.0.0.1.
#include <kiemidi/in_process_callback_hub.hpp>
#include <kiemidi/callback_listener.hpp>
#include <kiemidi/client.hpp>
#include <kiemidi/emulator.hpp>

#include <boost/asio/detached.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/io_context.hpp>

#include <iostream>
#include <list>

namespace asio = boost::asio;

int main()
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
    opts.transport.rate_limit.enabled = false;  // the emulator enforces no rate limit; KIE does
    kiemidi::client kie(ioc.get_executor(), std::move(opts));
    kie.attach_callbacks(hub, listener);

    constexpr int tracks = 500;
    int ok = 0, failed = 0, finished = 0;
    std::list<kiemidi::diagnostics> diags;  // one per operation; must outlive it
    asio::cancellation_signal cancel_first;

    for (int i = 0; i < tracks; ++i)
    {
        kiemidi::midi_params p{.task_id = "music-" + std::to_string(i), .audio_id = "track-" + std::to_string(i)};
        auto& diag = diags.emplace_back();
        // Plain callbacks work as completion tokens too; the first one is bound to a signal.
        auto on_done = [&](kiemidi::error_code ec, kiemidi::midi_result r) {
            (ec ? failed : ok) += 1;
            if (!ec && r.note_count() == 0) std::cout << "no notes for " << r.midi_task_id << '\n';
            if (++finished == tracks)
            {
                kie.close();
                listener.async_stop(asio::detached);  // graceful: completes once nothing of it runs
                kie_emulator.async_stop(asio::detached);
            }
        };
        if (i == 0) kie.async_generate_midi(std::move(p), diag, asio::bind_cancellation_slot(cancel_first.slot(), on_done));
        else kie.async_generate_midi(std::move(p), diag, on_done);
    }
    cancel_first.emit(asio::cancellation_type::terminal);  // the first pipeline stops, the others go on

    ioc.run();
    std::cout << ok << " pipelines done, " << failed << " failed or cancelled, "
              << kie.transport_stats().connections_opened << " connections\n";
    return ok == tracks - 1 && failed == 1 ? 0 : 1;
}
