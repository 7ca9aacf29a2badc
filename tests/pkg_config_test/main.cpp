// A consumer that knows kiemidi only through pkg-config (`pkg-config --cflags --libs kiemidi`, see
// the Makefile): the headers it was compiled with must be those of the library it runs with, and
// with KIE_BASE_URL and KIE_API_KEY set (a `kiemidi emulator` on 127.0.0.1) it reads the credits.
#include <kiemidi/client.hpp>
#include <kiemidi/version.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <iostream>

namespace asio = boost::asio;

int main()
{
    const kiemidi::version_info lib = kiemidi::library_version();
    std::cout << "kiemidi pkg-config consumer: headers " KIEMIDI_VERSION_STRING ", library " << lib.string << '\n';
    if (!kiemidi::library_matches_headers()) return 1;

    auto opts = kiemidi::client_options::from_environment();
    if (!opts)
    {
        std::cerr << "kiemidi pkg-config consumer: KIE_API_KEY is not set\n";
        return 1;
    }
    asio::io_context ioc;
    kiemidi::client kie(ioc.get_executor(), std::move(*opts));
    int rc = 1;
    asio::co_spawn(
        ioc,
        [&]() -> asio::awaitable<void> {
            kiemidi::diagnostics diag;
            auto [ec, credits] = co_await kie.async_get_credits(diag, asio::as_tuple(asio::use_awaitable));
            if (ec) std::cerr << "kiemidi pkg-config consumer: " << ec.message() << " " << diag.to_string() << '\n';
            else
            {
                std::cout << "kiemidi pkg-config consumer OK: " << credits.remaining << " credits\n";
                rc = 0;
            }
            kie.close();
        },
        asio::detached);
    ioc.run();
    return rc;
}
