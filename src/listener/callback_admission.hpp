// The callback listener's admission policy and its per-request cycle, without any I/O.
//
// callback_admission decides what a request deserves: it routes the target on the secret path,
// sets the parser's limits, checks the webhook signature and its freshness, reads the task id
// and the callback reference, and hands a verified callback to the hub. request_cycle walks one
// connection through its requests (headers, optional 100-continue, body, answer, keep-alive or
// close) and tells its driver which read or write comes next. The listener's connection
// coroutine and the socketless callback_request_handler (fuzzing, unit tests) are two drivers of
// this same code, so whatever the fuzzer exercises is what serves KIE. Private to the library.
#ifndef KIEMIDI_SRC_LISTENER_CALLBACK_ADMISSION_HPP
#define KIEMIDI_SRC_LISTENER_CALLBACK_ADMISSION_HPP

#include <kiemidi/callback_hub.hpp>
#include <kiemidi/callback_listener.hpp>
#include <kiemidi/config.hpp>
#include <kiemidi/error.hpp>
#include <kiemidi/listener_options.hpp>

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/status.hpp>
#include <boost/beast/http/string_body.hpp>

#include <atomic>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

namespace kiemidi::detail {

/// Relaxed atomic counters; a snapshot reads each one independently.
struct listener_counters
{
    std::atomic<std::uint64_t> accepted_connections{0}, open_connections{0}, refused_over_capacity{0},
        tls_handshake_failures{0}, callbacks_accepted{0}, duplicates{0}, buffered{0}, rejected_forged{0},
        rejected_stale{0}, not_found{0}, method_not_allowed{0}, too_large{0}, timeouts{0}, malformed{0},
        evicted_idle{0};
    /// The same outcomes per callback kind (index: callback_kind), so an operator can tell a
    /// separation callback that never comes from a MIDI one.
    struct per_kind
    {
        std::atomic<std::uint64_t> accepted{0}, duplicates{0}, forged{0}, stale{0};
    };
    per_kind by_kind[2];
};

inline void bump(std::atomic<std::uint64_t>& c) { c.fetch_add(1, std::memory_order_relaxed); }

using callback_request = boost::beast::http::request<boost::beast::http::string_body>;
using callback_request_parser = boost::beast::http::request_parser<boost::beast::http::string_body>;

/// What the listener accepts and how it answers: the options, the path secret, the counters and
/// the hub. Shared by every connection of one listener; safe to use from several strands.
class callback_admission
{
public:
    /// `opts.path_secret` empty: a random 64-hex-digit secret is drawn.
    callback_admission(listener_options o, callback_hub& h);
    callback_admission(const callback_admission&) = delete;
    callback_admission& operator=(const callback_admission&) = delete;

    listener_options opts;
    std::string secret;
    std::string base_path;  // path of public_base_url, accepted as a prefix (reverse proxies)
    listener_counters stats;

    /// An answer the listener writes.
    struct answer
    {
        boost::beast::http::status status;
        std::string body;
        bool close = false;  // the connection ends after this answer, whatever the request asked
    };

    void note(std::string_view what) const
    {
        if (opts.log) opts.log(what);
    }

    /// The request target of the callback URL for `kind` ("/kiemidi/callback/<secret>/midi").
    std::string callback_target(callback_kind kind) const;

    listener_stats snapshot() const;

    /// After this, no callback reaches the hub again (waits for a delivery in progress).
    void detach_hub();

    /// The parser every request is read with: header and body limits.
    void prepare(callback_request_parser& parser) const;

    /// A request whose headers are read: 400/404/405 is answered without touching the hub,
    /// anything else is a callback whose body is read next.
    std::variant<answer, callback_kind> admit(const callback_request& req);

    /// A failed header/body read: the answer it deserves before the connection ends, if any.
    std::optional<answer> read_error_answer(error_code ec);

    /// Verifies a complete callback request and hands it to the hub. Never runs user code.
    answer handle_callback(callback_kind kind, callback_request& req);

private:
    enum class route_result { not_found, separation, midi };
    route_result route(std::string_view target) const;

    std::mutex hub_mtx_;  // detach_hub() waits for an in-progress deliver(), then the hub is never touched again
    callback_hub* hub_;
};

/// One answer as written on the connection, and what happens to the connection afterwards.
struct cycle_answer
{
    boost::beast::http::status status;
    std::string body;
    unsigned version = 11;
    bool keep_alive = false;  // the connection goes on after this answer (when it was written)
    bool head = false;        // answering HEAD: announce the body's length, send none
    bool linger = false;      // ending with request bytes possibly unread: drain before closing
};

/// What the driver does next in a request cycle.
struct cycle_step
{
    bool read_body = false;      // read the rest of the request with the same parser, then after_body()
    bool send_continue = false;  // before reading the body: write "100 Continue"
    std::optional<cycle_answer> answer;  // neither body nor answer: close the connection at once
};

/// The steps of one connection's requests, in order. The driver owns the stream and the buffer:
/// it calls begin() and reads the headers with parser(), reports the result to after_header(),
/// reads the body when told and reports it to after_body(), then writes the answer. After a
/// written answer with keep_alive, the next request starts with begin(). Once a step carries an
/// answer (or says close), the request and its parser are released: a keep-alive connection waiting
/// for its next request holds none of the previous one.
class request_cycle
{
public:
    explicit request_cycle(callback_admission& a) : admission_(a) {}

    /// Starts the next request: a fresh parser with the listener's limits.
    callback_request_parser& begin();
    callback_request_parser& parser() { return *parser_; }
    /// HTTP version of the current request (valid after after_header()); "100 Continue" uses it.
    unsigned version() const { return version_; }

    cycle_step after_header(error_code ec);
    cycle_step after_body(error_code ec);

private:
    cycle_step read_failed(error_code ec);
    cycle_step finish();

    callback_admission& admission_;
    std::optional<callback_request_parser> parser_;
    callback_kind kind_ = callback_kind::midi;
    unsigned version_ = 11;
};

}  // namespace kiemidi::detail

#endif
