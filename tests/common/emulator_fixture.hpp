// What the emulator's socket tests share on top of emulator_support.hpp: their names (asio, json,
// emu) and a started emulator (KIE over HTTP on 127.0.0.1) with a raw client of it.
#ifndef KIEMIDI_TESTS_COMMON_EMULATOR_FIXTURE_HPP
#define KIEMIDI_TESTS_COMMON_EMULATOR_FIXTURE_HPP

#include "emulator_support.hpp"
#include "raw_http.hpp"
#include "run_bounded.hpp"

#include <kiemidi/emulator/server.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/json.hpp>
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <cstdint>
#include <utility>

namespace json = boost::json;
namespace emu = kiemidi::emulator;

namespace kiemidi::test {

using namespace std::chrono_literals;

/// A started emulator and a raw HTTP client of it; the emulator stops when this goes.
/// `auto& [srv, cli] = kie;` names both.
struct emulator_under_test
{
    emu::server srv;
    raw_client cli;

    explicit emulator_under_test(boost::asio::any_io_executor ex, emu::emulator_options o = {})
        : srv(ex, std::move(o)), cli(ex, started_http_port(srv))
    {
    }

    /// KIE's credit balance, as GET /api/v1/chat/credit answers it.
    boost::asio::awaitable<std::int64_t> credits()
    {
        auto r = co_await cli.request(get_path("/api/v1/chat/credit"));
        co_return r.json().at("data").as_int64();
    }

private:
    static std::uint16_t started_http_port(emu::server& s)
    {
        s.start();
        return s.http_port();
    }
};

}  // namespace kiemidi::test

#endif
