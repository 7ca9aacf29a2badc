// polling_only: the pipeline without a callback listener, for hosts KIE cannot reach.
//
// Shows: wait_strategy::polling, the error_code + diagnostics form (no exceptions), and a
// pipeline deadline. Needs: nothing; it starts the embedded KIE emulator on 127.0.0.1.
#include <kiemidi/client.hpp>
#include <kiemidi/emulator.hpp>

#include <boost/asio/detached.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <chrono>
#include <iostream>

namespace asio = boost::asio;
using namespace std::chrono_literals;

asio::awaitable<int> run(kiemidi::client& kie)
{
    kiemidi::midi_params params{.task_id = "5c79****be8e", .audio_id = "e231****-****-****-****-****8cadc7dc"};
    params.wait.strategy = kiemidi::wait_strategy::polling;  // record-info reads only
    params.wait.poll_interval = 200ms;                        // KIE: use seconds, not milliseconds
    params.deadline = 2min;

    kiemidi::diagnostics diag;
    auto [ec, midi] = co_await kie.async_generate_midi(std::move(params), diag, asio::as_tuple(asio::use_awaitable));
    if (ec)
    {
        // The stage, KIE's code and message, the HTTP status and the endpoint.
        std::cerr << "failed: " << ec.message() << " " << diag.to_string() << '\n';
        co_return 1;
    }
    std::cout << midi.note_count() << " notes in " << midi.instruments.size() << " instruments after "
              << midi.polls << " polls\n";
    co_return 0;
}

int main()
{
    asio::io_context ioc;
    kiemidi::emulator::server kie_emulator(ioc.get_executor());
    kie_emulator.start();

    kiemidi::client_options opts;
    opts.base_url = kie_emulator.https_base_url();
    opts.api_key = kie_emulator.api_key();
    opts.transport.tls.ca_pem = kie_emulator.ca_certificate_pem();
    kiemidi::client kie(ioc.get_executor(), std::move(opts));

    int rc = 1;
    asio::co_spawn(ioc, run(kie), [&](std::exception_ptr e, int r) {
        rc = e ? 1 : r;
        kie.close();
        kie_emulator.async_stop(asio::detached);
    });
    ioc.run();
    return rc;
}
