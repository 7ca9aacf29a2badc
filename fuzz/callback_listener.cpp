// Fuzz target: raw bytes a peer sends to the callback listener, through the listener's own
// request path: detail::callback_request_handler drives the request cycle the listener's
// connections drive (src/listener/callback_admission.hpp: Beast parser with the listener's limits,
// routing on the secret path, webhook signature check, task id lookup, hub delivery).
//
// Every input is one connection's bytes, read by two listeners: one without a webhook key (any
// well-formed callback on the secret path reaches the hub) and one with a key and a base URL
// path (only correctly signed callbacks do; the seed corpus carries signed examples).
#include "fuzz_support.hpp"

#include "listener/callback_request_handler.hpp"

#include <kiemidi/api/callbacks.hpp>

#include <boost/asio/io_context.hpp>

#include <chrono>
#include <vector>

namespace asio = boost::asio;

namespace {

using namespace kiemidi;

// Records what the listener would hand to the hub; answers delivered/buffered/duplicate in turn
// so every counter path of the listener runs.
class recording_hub final : public callback_hub
{
public:
    explicit recording_hub(asio::io_context& ioc) : ex_(ioc.get_executor()) {}
    executor_type get_executor() const noexcept override { return ex_; }
    deliver_result deliver(callback_message msg) override
    {
        received.push_back(std::move(msg));
        return static_cast<deliver_result>(turn_++ % 3);
    }
    void close() override {}
    callback_hub_stats stats() const override { return {}; }

    std::vector<callback_message> received;

protected:
    void start_wait(callback_kind, std::string, asio::any_completion_handler<wait_signature>) override {}

private:
    executor_type ex_;
    unsigned turn_ = 0;
};

constexpr std::size_t max_body = 4096;

listener_options plain_options()
{
    listener_options o;
    o.path_secret = "fuzz-secret-0123456789";
    o.max_body = max_body;
    return o;
}

listener_options signed_options()
{
    listener_options o = plain_options();
    o.public_base_url = "https://hooks.example/base/";
    o.webhook_hmac_key = "fuzz-webhook-hmac-key";
    // Seeds carry fixed timestamps; a window of a century keeps their signatures fresh.
    o.freshness_window = std::chrono::hours(24 * 365 * 100);
    return o;
}

struct listener_under_test
{
    recording_hub hub;
    detail::callback_request_handler handler;
    listener_under_test(asio::io_context& ioc, listener_options o) : hub(ioc), handler(ioc.get_executor(), std::move(o), hub) {}
};

void check(listener_under_test& l, std::string_view bytes)
{
    l.hub.received.clear();
    const auto replies = l.handler.handle(bytes);
    std::size_t ok = 0;
    for (std::size_t i = 0; i < replies.size(); ++i)
    {
        const auto& r = replies[i];
        const unsigned s = r.status;
        fuzz::require(s == 100 || s == 200 || s == 400 || s == 401 || s == 404 || s == 405 || s == 413 || s == 431,
                      "the listener answers only with its documented statuses");
        fuzz::require(s == 100 || !r.body.empty(), "every final answer has a JSON body");
        fuzz::require(r.keep_alive || i + 1 == replies.size(), "nothing is answered after a closing answer");
        if (s == 200) ++ok;
    }
    fuzz::require(ok == l.hub.received.size(), "each 200 answer is exactly one callback handed to the hub");
    for (const auto& m : l.hub.received)
    {
        fuzz::require(!m.task_id.empty(), "a delivered callback has a task id");
        fuzz::require(m.body.size() <= max_body, "a delivered body respects max_body");
        fuzz::require(api::find_callback_task_id(m.body) == m.task_id, "a delivered callback's id is its body's");
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    static asio::io_context ioc;  // never run: the handler only needs an executor to exist
    static listener_under_test plain(ioc, plain_options());
    static listener_under_test signed_(ioc, signed_options());
    const auto bytes = fuzz::as_text(data, size);
    check(plain, bytes);
    check(signed_, bytes);
    return 0;
}
