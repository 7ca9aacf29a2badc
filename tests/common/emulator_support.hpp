// Small helpers shared by the emulator integration tests: request builders and polling helpers
// (polling record-info is what a KIE client does too; every wait is bounded by run_bounded).
#ifndef KIEMIDI_TESTS_COMMON_EMULATOR_SUPPORT_HPP
#define KIEMIDI_TESTS_COMMON_EMULATOR_SUPPORT_HPP

#include "raw_http.hpp"
#include "nothrow_awaitable.hpp"

#include <kiemidi/emulator/server.hpp>

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>

#include <chrono>
#include <functional>
#include <string>

namespace kiemidi::test {

inline const std::string emulator_key = "kie-emulator-key";

inline raw_request post_json(std::string target, std::string body, std::optional<std::string> key = emulator_key)
{
    return raw_request{"POST", std::move(target), std::move(body), std::move(key), {}};
}

inline raw_request get_path(std::string target, std::optional<std::string> key = emulator_key)
{
    return raw_request{"GET", std::move(target), {}, std::move(key), {}};
}

inline std::string separation_body(const std::string& task_id, const std::string& audio_id, const std::string& type,
                                   const std::string& callback)
{
    boost::json::object o{{"taskId", task_id}, {"audioId", audio_id}, {"type", type}, {"callBackUrl", callback}};
    return boost::json::serialize(o);
}

inline std::string midi_body(const std::string& task_id, const std::string& callback, std::optional<std::string> audio_id = {})
{
    boost::json::object o{{"taskId", task_id}, {"callBackUrl", callback}};
    if (audio_id) o["audioId"] = *audio_id;
    return boost::json::serialize(o);
}

/// A JSON string's text.
inline std::string str(const boost::json::value& v) { return std::string(v.as_string()); }

/// A separation POST for music task "music-1" and `audio`, with the callback at `cb`.
inline raw_request separation_post(const std::string& audio, const std::string& cb = "http://127.0.0.1:9/cb",
                                   const std::string& type = "separate_vocal")
{
    return post_json("/api/v1/vocal-removal/generate", separation_body("music-1", audio, type, cb));
}

/// Short pause used only inside bounded polling loops.
inline boost::asio::awaitable<void> pause(std::chrono::milliseconds d)
{
    boost::asio::steady_timer t(co_await boost::asio::this_coro::executor, d);
    co_await t.async_wait(use_nothrow_awaitable);
}

/// Polls `get` until `done(response)` holds (bounded by the test's run_bounded limit).
inline boost::asio::awaitable<raw_response> poll_until(raw_client& cli, raw_request req,
                                                       std::function<bool(const raw_response&)> done)
{
    for (;;)
    {
        auto r = co_await cli.request(req);
        if (done(r)) co_return r;
        co_await pause(std::chrono::milliseconds(5));
    }
}

/// Waits until the server's counters satisfy `pred`.
inline boost::asio::awaitable<emulator::counters> wait_counters(const emulator::server& srv,
                                                                std::function<bool(const emulator::counters&)> pred)
{
    for (;;)
    {
        auto c = srv.snapshot();
        if (pred(c)) co_return c;
        co_await pause(std::chrono::milliseconds(2));
    }
}

inline std::string sep_flag(const raw_response& r)
{
    const auto d = r.json().at("data");
    return d.is_null() ? std::string() : std::string(d.at("successFlag").as_string());
}

inline std::int64_t midi_flag(const raw_response& r)
{
    const auto d = r.json().at("data");
    return d.is_null() ? -1 : d.at("successFlag").as_int64();
}

}  // namespace kiemidi::test

#endif
