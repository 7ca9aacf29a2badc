// kie_session; see session.hpp.
#include "session.hpp"
#include <kiemidi/metrics/model.hpp>
#include <kiemidi/nothrow_awaitable.hpp>

#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <cstdlib>
#include <iostream>

namespace asio = boost::asio;

namespace kiemidi::cli {

using namespace std::chrono_literals;

namespace {

std::string env(const char* name)
{
    const char* v = std::getenv(name);
    return v ? std::string(v) : std::string();
}

}  // namespace

std::string describe(const error_code& ec, const diagnostics& diag)
{
    std::string s = ec.message();
    auto d = diag.to_string();
    if (!d.empty()) s += " (" + d + ")";
    return s;
}

kie_session::kie_session(asio::io_context& ioc, const kie_flags& flags, bool want_callbacks)
{
    if (!flags.proxy.empty() && flags.no_proxy) throw usage_error("--proxy and --no-proxy contradict each other");
    if (!flags.proxy.empty())
    {
        std::string why;
        if (check_proxy_url(flags.proxy, why)) throw usage_error("--proxy: " + why);
    }
    client_options co;
    std::string key = !flags.api_key.empty() ? flags.api_key : env("KIE_API_KEY");
    std::string url = !flags.base_url.empty() ? flags.base_url : env("KIE_BASE_URL");
    if (key.empty() && !url.empty())
        throw usage_error("a base URL is set (" + url + ") but no API key: give --api-key or KIE_API_KEY");
    if (key.empty())
    {
        // The embedded KIE: HTTPS with a CA generated at start-up, callbacks to our listener.
        emulator::emulator_options eo;
        emulator_ = std::make_unique<emulator::server>(ioc.get_executor(), eo);
        emulator_->start();
        co.base_url = emulator_->https_base_url();
        co.api_key = eo.api_key;
        co.transport.tls.ca_pem = emulator_->ca_certificate_pem();
        // The emulator does not enforce KIE's 20-per-10-s submission limit.
        co.transport.rate_limit.enabled = false;
        std::cerr << "kiemidi: no --api-key or KIE_API_KEY: using the embedded KIE emulator at " << co.base_url
                  << " (synthetic results; submission rate limit lifted, the emulator does not limit)\n";
    }
    else
    {
        co.api_key = std::move(key);
        if (!url.empty()) co.base_url = std::move(url);
    }
    if (!flags.ca_file.empty()) co.transport.tls.ca_file = flags.ca_file;
    co.transport.proxy.url = flags.proxy;  // NO_PROXY still applies, as with curl's --proxy
    if (flags.no_proxy) co.transport.proxy.use_environment = false;
    if (emulator_)  // in this process: never through a proxy
    {
        co.transport.proxy.use_environment = false;
        co.transport.proxy.url.clear();
    }
    base_url_ = co.base_url;
    rate_limit_ = co.transport.rate_limit;

    bool callbacks = want_callbacks && !flags.poll_only;
    if (callbacks && !emulator_ && flags.public_url.empty())
    {
        const bool loopback_kie = base_url_.find("://127.0.0.1") != std::string::npos ||
                                  base_url_.find("://localhost") != std::string::npos ||
                                  base_url_.find("://[::1]") != std::string::npos;
        if (!loopback_kie)
        {
            std::cerr << "kiemidi: no --public-url: KIE cannot reach a listener on " << flags.listen_address
                      << ", so results are polled (give --public-url to receive callbacks)\n";
            callbacks = false;
        }
    }
    client_ = std::make_unique<client>(ioc.get_executor(), std::move(co));
    if (callbacks)
    {
        hub_ = std::make_unique<in_process_callback_hub>(ioc.get_executor());
        listener_options lo;
        lo.bind_address = flags.listen_address;
        lo.port = flags.listen_port;
        lo.public_base_url = flags.public_url;
        lo.path_secret = flags.callback_secret;
        error_code ec;
        if (lo.port == 0 && flags.preferred_listen_port != 0)
        {
            // An earlier run's port, when it is free; any free port otherwise.
            lo.port = flags.preferred_listen_port;
            listener_ = std::make_unique<callback_listener>(ioc.get_executor(), lo, *hub_);
            listener_->start(ec);
            if (ec)
            {
                listener_.reset();
                lo.port = 0;
                ec = {};
            }
        }
        if (!listener_)
        {
            listener_ = std::make_unique<callback_listener>(ioc.get_executor(), lo, *hub_);
            listener_->start(ec);
        }
        if (ec)
            throw usage_error("cannot listen on " + flags.listen_address + ":" + std::to_string(flags.listen_port) + ": " +
                              ec.message());
        client_->attach_callbacks(*hub_, *listener_);
    }
    else
        wait_.strategy = wait_strategy::polling;
    if (emulator_)
    {
        wait_.poll_interval = 200ms;
        wait_.max_poll_interval = 1s;
        wait_.callback_overdue = 2s;
    }
    if (flags.poll_interval_ms)
    {
        wait_.poll_interval = std::chrono::milliseconds(flags.poll_interval_ms);
        wait_.max_poll_interval = std::max(wait_.max_poll_interval, wait_.poll_interval);
    }
}

kie_session::~kie_session() = default;

asio::awaitable<int> kie_session::check_reachable(std::int64_t* credits, std::string* kie_down)
{
    diagnostics diag;
    auto [ec, c] = co_await client_->async_get_credits(diag, use_nothrow_awaitable);
    if (ec && kie_down && client_->metrics().kie().down)
    {
        // KIE is down, not refusing us: the caller waits for it as for an outage met mid-run.
        *kie_down = describe(ec, diag);
        co_return exit_kie_unavailable;
    }
    if (ec)
    {
        std::cerr << "kiemidi: cannot use KIE at " << base_url_ << ": " << describe(ec, diag) << "\n";
        co_return exit_unreachable;
    }
    if (credits) *credits = c.remaining;
    co_return exit_ok;
}

void kie_session::close()
{
    if (client_) client_->close();
    if (listener_) listener_->stop();
    if (hub_) hub_->close();
    if (emulator_) emulator_->stop();
}

}  // namespace kiemidi::cli
