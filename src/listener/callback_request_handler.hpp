// The callback listener's request handling without a socket: raw bytes in, answers out.
//
// A second driver of the request cycle callback_listener's connections drive (callback_admission.hpp):
// same parser limits, routing, verification and hub delivery, with blocking reads over bytes
// instead of sockets. It exists so the whole path from untrusted bytes to the hub can be exercised
// quickly and deterministically (fuzzing, tests) without sockets, strands or deadlines. Private to
// the library and its tools.
#ifndef KIEMIDI_SRC_LISTENER_CALLBACK_REQUEST_HANDLER_HPP
#define KIEMIDI_SRC_LISTENER_CALLBACK_REQUEST_HANDLER_HPP

#include <kiemidi/callback_hub.hpp>
#include <kiemidi/callback_listener.hpp>
#include <kiemidi/config.hpp>
#include <kiemidi/listener_options.hpp>

#include <boost/asio/any_io_executor.hpp>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace kiemidi::detail {

/// One answer the listener writes: HTTP status, JSON body, and whether the connection goes on.
struct listener_reply
{
    unsigned status = 0;
    std::string body;
    bool keep_alive = false;
};

/// A listener without sockets: same options, same secret path, same hub contract.
class callback_request_handler
{
public:
    /// `ex` is not used (the admission policy needs no executor); kept so callers read like the listener.
    KIEMIDI_DECL callback_request_handler(boost::asio::any_io_executor ex, listener_options opts, callback_hub& hub);
    KIEMIDI_DECL ~callback_request_handler();
    callback_request_handler(const callback_request_handler&) = delete;
    callback_request_handler& operator=(const callback_request_handler&) = delete;

    /// Treats `bytes` as everything one plain-HTTP connection receives before the peer
    /// half-closes: reads request after request as the listener does (keep-alive, pipelining,
    /// 100-continue), and returns every answer in the order it would be written. Verified
    /// callbacks are delivered to the hub synchronously, as the listener does.
    KIEMIDI_DECL std::vector<listener_reply> handle(std::string_view bytes);

    /// The request target of the callback URL for `kind` ("/kiemidi/callback/<secret>/midi").
    KIEMIDI_DECL std::string callback_target(callback_kind kind) const;

    /// The listener counters this handler has moved.
    KIEMIDI_DECL listener_stats stats() const;

private:
    struct state;
    std::unique_ptr<state> state_;
};

}  // namespace kiemidi::detail

#endif
