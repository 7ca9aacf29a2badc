// What an embedding backend wires, on 127.0.0.1: KIE (the emulator, HTTP), a callback listener,
// the in-process hub and a client attached to both. Client retries are shortened to
// milliseconds so fault tests stay quick; `tune` adjusts the client options further.
#ifndef KIEMIDI_TESTS_COMMON_LOCAL_KIE_HPP
#define KIEMIDI_TESTS_COMMON_LOCAL_KIE_HPP

#include <kiemidi/callback_listener.hpp>
#include <kiemidi/client.hpp>
#include <kiemidi/emulator/server.hpp>
#include <kiemidi/in_process_callback_hub.hpp>

#include <boost/asio/any_io_executor.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <string>

namespace kiemidi::test {

// The emulator counts requests by "METHOD path" (local_kie::requests, snapshot().requests_to).
inline const std::string sep_post = "POST /api/v1/vocal-removal/generate";
inline const std::string midi_post = "POST /api/v1/midi/generate";
inline const std::string sep_get = "GET /api/v1/vocal-removal/record-info";
inline const std::string midi_get = "GET /api/v1/midi/record-info";

struct local_kie
{
    std::unique_ptr<emulator::server> kie;
    in_process_callback_hub hub;
    callback_listener listener;
    std::unique_ptr<client> cli;

    /// `attach` false leaves the client without callbacks (polling only).
    local_kie(boost::asio::any_io_executor ex, emulator::emulator_options eo, bool attach,
              const std::function<void(client_options&)>& tune = {})
        : hub(ex), listener(ex, listener_options{}, hub)
    {
        using namespace std::chrono_literals;
        eo.enable_https = false;
        kie = std::make_unique<emulator::server>(ex, eo);
        kie->start();
        listener.start();
        client_options co;
        co.base_url = kie->http_base_url();
        co.api_key = eo.api_key;
        co.transport.retry.base_delay = 1ms;
        co.transport.retry.max_delay = 10ms;
        if (tune) tune(co);
        cli = std::make_unique<client>(ex, std::move(co));
        if (attach) cli->attach_callbacks(hub, listener);
    }
    local_kie(const local_kie&) = delete;
    local_kie& operator=(const local_kie&) = delete;
    ~local_kie()
    {
        if (cli) cli->close();  // a test may have destroyed the client already
        listener.stop();
        hub.close();
        kie->stop();
    }

    /// How many requests KIE received on `endpoint` ("POST /api/v1/midi/generate").
    std::size_t requests(const std::string& endpoint) const { return kie->snapshot().requests_to(endpoint); }
};

}  // namespace kiemidi::test

#endif
