// Proves the installed package is usable: headers found, both libraries linked, and a client
// round-trips one request against the installed emulator on 127.0.0.1.
#include <kiemidi/client.hpp>
#include <kiemidi/emulator.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <iostream>

namespace asio = boost::asio;

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
    asio::co_spawn(
        ioc,
        [&]() -> asio::awaitable<void> {
            kiemidi::diagnostics diag;
            auto [ec, credits] = co_await kie.async_get_credits(diag, asio::as_tuple(asio::use_awaitable));
            if (ec) std::cerr << "kiemidi consumer: " << ec.message() << " " << diag.to_string() << '\n';
            else
            {
                std::cout << "kiemidi consumer OK: " << credits.remaining << " credits\n";
                rc = 0;
            }
            kie.close();
            kie_emulator.stop();
        },
        asio::detached);
    ioc.run();
    return rc;
}
