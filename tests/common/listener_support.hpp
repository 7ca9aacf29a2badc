// What the callback_listener integration tests share: KIE's callback bodies in every documented
// variant, HTTP requests to the listener over Beast (plain or TLS), KIE's signed webhook headers,
// the listener's options with short timeouts, and a wait for a callback that can be inspected
// without awaiting it.
#ifndef KIEMIDI_TESTS_COMMON_LISTENER_SUPPORT_HPP
#define KIEMIDI_TESTS_COMMON_LISTENER_SUPPORT_HPP

#include <kiemidi/callback_hub.hpp>
#include <kiemidi/callback_listener.hpp>

// White-box: KIE's webhook signature as the library computes it.
#include "crypto/crypto.hpp"
#include "nothrow_awaitable.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

#include <chrono>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace kiemidi::test {

namespace listener_support {
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = boost::asio::ip::tcp;
using namespace std::chrono_literals;


using response = http::response<http::string_body>;
using request = http::request<http::string_body>;

// Callback bodies as KIE documents them (every variant the listener must accept).
inline std::string separation_en(const std::string& id)
{
    return R"({"code":200,"msg":"vocal separation generated successfully.","data":{"task_id":")" + id +
           R"(","vocal_separation_info":{"instrumental_url":"https://file.example/i.mp3","origin_url":"","vocal_url":"https://file.example/v.mp3"}}})";
}
inline std::string separation_cn(const std::string& id)
{
    return R"({"code":200,"msg":"vocal Removal generated successfully.","data":{"task_id":")" + id +
           R"(","vocal_removal_info":{"origin_url":"","vocal_url":"https://file.example/v.mp3","drums_url":"https://file.example/d.mp3"}}})";
}
inline std::string separation_failed(const std::string& id)
{
    return R"({"code":500,"msg":"Vocal separation failed","data":{"task_id":")" + id + R"(","vocal_separation_info":null}})";
}
inline std::string midi_en(const std::string& id)
{
    return R"({"task_id":")" + id +
           R"(","code":200,"msg":"success","data":{"state":"complete","instruments":[{"name":"Drums","notes":[{"pitch":73,"start":"0.036458333333333336","end":"0.18229166666666666","velocity":1},{"pitch":61,"start":0.046875,"end":"0.19270833333333334","velocity":1}]}]}})";
}
inline std::string midi_cn(const std::string& id)
{
    return R"({"code":200,"msg":"success","data":{"state":"complete","taskId":")" + id + R"(","instruments":[]}})";
}
inline std::string midi_failed_top_level(const std::string& id)
{
    return R"({"task_id":")" + id + R"(","code":500,"msg":"MIDI generation failed","data":null})";
}
inline std::string midi_failed_data(const std::string& id)
{
    return R"({"code":500,"msg":"MIDI generation failed","data":{"taskId":")" + id + R"("}})";
}

inline std::string path_of(const std::string& url) { return url.substr(url.find('/', url.find("://") + 3)); }

inline request make_request(http::verb method, std::string target, std::string body = {},
                            std::vector<std::pair<std::string, std::string>> headers = {})
{
    request req{method, target, 11};
    req.set(http::field::host, "127.0.0.1");
    req.set(http::field::user_agent, "kiemidi-test");
    for (auto& [k, v] : headers) req.set(k, v);
    if (method == http::verb::post) req.set(http::field::content_type, "application/json");
    req.body() = std::move(body);
    req.prepare_payload();
    return req;
}

inline request make_post(const callback_listener& l, callback_kind kind, std::string body,
                         std::vector<std::pair<std::string, std::string>> headers = {})
{
    return make_request(http::verb::post, path_of(l.callback_url(kind)), std::move(body), std::move(headers));
}

inline boost::asio::awaitable<beast::tcp_stream> connect_to(std::uint16_t port)
{
    beast::tcp_stream s(co_await boost::asio::this_coro::executor);
    co_await s.async_connect(tcp::endpoint(boost::asio::ip::make_address_v4("127.0.0.1"), port), boost::asio::use_awaitable);
    co_return s;
}

template <class Stream>
boost::asio::awaitable<response> exchange(Stream& s, beast::flat_buffer& buf, request req)
{
    co_await http::async_write(s, req, boost::asio::use_awaitable);
    response res;
    co_await http::async_read(s, buf, res, boost::asio::use_awaitable);
    co_return res;
}

// One request on a fresh connection.
inline boost::asio::awaitable<response> send(std::uint16_t port, request req)
{
    auto s = co_await connect_to(port);
    beast::flat_buffer buf;
    co_return co_await exchange(s, buf, std::move(req));
}

// Reads until the server closes; returns the error that ended the read (eof or reset).
template <class Stream>
boost::asio::awaitable<error_code> read_until_closed(Stream& s)
{
    char byte[256];
    for (;;)
    {
        auto [ec, n] = co_await s.async_read_some(boost::asio::buffer(byte), use_nothrow_awaitable);
        if (ec) co_return ec;
    }
}

using header_list = std::vector<std::pair<std::string, std::string>>;

// KIE's webhook headers for `task_id` signed with `key` at `timestamp`.
inline header_list signed_headers(const std::string& key, const std::string& task_id, const std::string& timestamp,
                                  bool lowercase = false)
{
    return {{lowercase ? "x-webhook-timestamp" : "X-Webhook-Timestamp", timestamp},
            {lowercase ? "x-webhook-signature" : "X-Webhook-Signature", kiemidi::detail::webhook_signature(key, task_id, timestamp)}};
}

inline std::string epoch_seconds(std::chrono::seconds offset = 0s)
{
    return std::to_string(
        std::chrono::duration_cast<std::chrono::seconds>((std::chrono::system_clock::now() + offset).time_since_epoch())
            .count());
}

inline listener_options test_options()
{
    listener_options o;
    o.header_timeout = 2s;
    o.body_timeout = 2s;
    o.idle_timeout = 5s;
    return o;
}

// A wait for a MIDI callback (the kind every callback here is posted as) that can be inspected
// without awaiting it.
struct watched_wait
{
    struct result
    {
        int calls = 0;
        error_code ec;
        std::string task_id;
    };
    std::shared_ptr<result> r = std::make_shared<result>();
    watched_wait(callback_hub& hub, std::string id)
    {
        hub.async_wait(callback_kind::midi, std::move(id), [r = r](error_code ec, callback_message m) {
            ++r->calls;
            r->ec = ec;
            r->task_id = m.task_id;
        });
    }
};

}  // namespace listener_support

using namespace listener_support;

}  // namespace kiemidi::test

#endif
