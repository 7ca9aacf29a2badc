// What the listener's abuse tests share: the process's open descriptors, resident and heap
// memory, raw signed callback requests, the listener's options with a webhook key and short
// timeouts, one raw exchange, and the check that every connection and descriptor is released.
#ifndef KIEMIDI_TESTS_COMMON_LISTENER_ABUSE_SUPPORT_HPP
#define KIEMIDI_TESTS_COMMON_LISTENER_ABUSE_SUPPORT_HPP

#include "listener_support.hpp"
#include "raw_http.hpp"
#include "run_bounded.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/test/unit_test.hpp>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <malloc.h>
#include <unistd.h>

namespace kiemidi::test {

namespace listener_support {

inline const std::string hmac_key = "whk-abuse-test-key";

// ---- process measurements ----

inline std::size_t open_fds()
{
    std::size_t n = 0;
    for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator("/proc/self/fd")) ++n;
    return n;
}

inline std::size_t resident_bytes()
{
    std::ifstream statm("/proc/self/statm");
    std::size_t size = 0, resident = 0;
    statm >> size >> resident;
    return resident * static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
}

// Bytes the allocator has handed out and not got back (heap plus mmap'd blocks).
inline std::size_t heap_in_use()
{
    const auto mi = ::mallinfo2();
    return mi.uordblks + mi.hblkhd;
}

// ---- requests ----

inline std::string midi_body(const std::string& id)
{
    return R"({"code":200,"msg":"success","data":{"state":"complete","taskId":")" + id + R"(","instruments":[]}})";
}

inline std::string signature(const std::string& key, const std::string& task_id, const std::string& ts)
{
    return kiemidi::detail::webhook_signature(key, task_id, ts);
}

inline std::string now_seconds()
{
    return std::to_string(
        std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count());
}

// The bytes of one HTTP/1.1 request.
inline std::string http_request_text(const std::string& method, const std::string& target, const std::string& body = {},
                                     const std::vector<std::pair<std::string, std::string>>& headers = {})
{
    std::string out = method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\n";
    for (const auto& [k, v] : headers) out += k + ": " + v + "\r\n";
    if (method == "POST") out += "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
    return out + "\r\n" + body;
}

// A callback for `task_id` signed with `key` (KIE's X-Webhook-* headers).
inline std::string signed_callback(const callback_listener& l, const std::string& task_id, const std::string& key = hmac_key,
                                   const std::string& signed_task_id = {})
{
    const auto ts = now_seconds();
    return http_request_text("POST", path_of(l.callback_url(callback_kind::midi)), midi_body(task_id),
                             {{"X-Webhook-Timestamp", ts},
                              {"X-Webhook-Signature", signature(key, signed_task_id.empty() ? task_id : signed_task_id, ts)}});
}

inline listener_options abuse_options()
{
    listener_options o;
    o.webhook_hmac_key = hmac_key;
    o.header_timeout = 2s;
    o.body_timeout = 2s;
    o.idle_timeout = 5s;
    return o;
}

// One request on a fresh raw connection; returns the answer (status 0 when none came).
inline boost::asio::awaitable<raw_response> exchange_once(boost::asio::any_io_executor ex, std::uint16_t port, std::string bytes)
{
    raw_connection c(ex, port);
    raw_response res;
    if (co_await c.connect()) co_return res;
    if (co_await c.write(std::move(bytes))) co_return res;
    co_await c.read_response(res);
    co_return res;
}

// Every connection the listener opened is closed again and no descriptor is left behind.
// (The listener notices closed peers as events; 5 s bounds the wait so a leak fails here, with numbers.)
inline boost::asio::awaitable<void> expect_baseline(const callback_listener& l, std::size_t fds_before)
{
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    while (!(l.stats().open_connections == 0 && open_fds() <= fds_before) && std::chrono::steady_clock::now() < deadline)
        co_await sleep_for(5ms);
    BOOST_TEST(l.stats().open_connections == 0u);
    BOOST_TEST(open_fds() == fds_before);
}

inline bool closed_by_peer(const error_code& ec) { return ec == boost::asio::error::eof || ec == boost::asio::error::connection_reset; }

}  // namespace listener_support

}  // namespace kiemidi::test

#endif
