// A started callback listener and its hub for the listener integration tests, with the two things
// most of them do: post a callback on a fresh connection, and post one while its waiter waits.
#ifndef KIEMIDI_TESTS_COMMON_LISTENER_FIXTURE_HPP
#define KIEMIDI_TESTS_COMMON_LISTENER_FIXTURE_HPP

#include "listener_support.hpp"

#include <kiemidi/callback_listener.hpp>
#include <kiemidi/in_process_callback_hub.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <string>
#include <tuple>
#include <utility>

namespace kiemidi::test {

/// The webhook key the signed-callback tests use.
inline const std::string test_hmac_key = "whk-test-key";

/// test_options() with signatures required (test_hmac_key).
inline listener_options signing_options()
{
    auto o = test_options();
    o.webhook_hmac_key = test_hmac_key;
    return o;
}

/// An in-process hub and a started listener feeding it. `auto& [hub, listener] = l;` names both.
struct listening
{
    in_process_callback_hub hub;
    callback_listener listener;

    explicit listening(boost::asio::any_io_executor ex, listener_options o = test_options())
        : hub(ex), listener(ex, std::move(o), hub)
    {
        listener.start();
    }

    /// Posts `body` as a `kind` callback on a fresh connection; the listener's answer.
    boost::asio::awaitable<listener_support::response> post(callback_kind kind, std::string body, header_list headers = {})
    {
        return send(listener.port(), make_post(listener, kind, std::move(body), std::move(headers)));
    }

    /// Posts `body` as a `kind` callback for task `id` while a waiter for it waits:
    /// {what the waiter got, the listener's answer}.
    boost::asio::awaitable<std::tuple<callback_message, listener_support::response>>
    deliver(callback_kind kind, std::string id, std::string body, header_list headers = {})
    {
        using namespace boost::asio::experimental::awaitable_operators;
        return hub.async_wait(kind, std::move(id), boost::asio::use_awaitable) && post(kind, std::move(body), std::move(headers));
    }
};

}  // namespace kiemidi::test

#endif
