// The callback listener: a small Beast HTTP(S) server with one coroutine per connection.
//
// Each connection lives on its own strand and reads request after request (keep-alive and
// pipelining), each step under a deadline. Only POST /kiemidi/callback/<secret>/<kind> reaches
// the hub; everything else is answered without touching it. The acceptor and the connection
// registry sit behind one mutex so stop() can close everything from any thread.
#include <kiemidi/callback_listener.hpp>

#include "callback_request_handler.hpp"

#include "../crypto/crypto.hpp"

#include <kiemidi/api/callbacks.hpp>
#include <kiemidi/callback_reference.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/stream_traits.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/system/system_error.hpp>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <type_traits>
#include <unordered_map>
#include <variant>
#include <vector>

namespace kiemidi {

namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using tls_stream = ssl::stream<beast::tcp_stream>;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);
constexpr std::string_view path_prefix = "/kiemidi/callback/";
constexpr std::uint32_t header_limit = 16 * 1024;
constexpr std::size_t linger_drain_limit = 1024 * 1024;

std::string random_secret() { return detail::random_hex(32, "produce a path secret"); }

bool valid_secret(std::string_view s)
{
    if (s.size() < 16) return false;
    for (char c : s)
    {
        const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
                        c == '_' || c == '.' || c == '~';
        if (!ok) return false;
    }
    return true;
}

using detail::constant_time_equal;

bool looks_like_pem(std::string_view s) { return s.find("-----BEGIN") != std::string_view::npos; }

std::string_view path_of(std::string_view url)
{
    // Path component of an absolute URL ("https://host:1/a/b?x" → "/a/b"); empty when there is none.
    auto scheme = url.find("://");
    if (scheme == std::string_view::npos) return {};
    auto slash = url.find('/', scheme + 3);
    if (slash == std::string_view::npos) return {};
    auto path = url.substr(slash);
    if (auto q = path.find_first_of("?#"); q != std::string_view::npos) path = path.substr(0, q);
    while (!path.empty() && path.back() == '/') path.remove_suffix(1);
    return path;
}

const char* kind_segment(callback_kind k) { return k == callback_kind::separation ? "separation" : "midi"; }

// Relaxed atomic counters; a snapshot reads each one independently.
struct counters
{
    std::atomic<std::uint64_t> accepted_connections{0}, open_connections{0}, refused_over_capacity{0},
        tls_handshake_failures{0}, callbacks_accepted{0}, duplicates{0}, buffered{0}, rejected_forged{0},
        rejected_stale{0}, not_found{0}, method_not_allowed{0}, too_large{0}, timeouts{0}, malformed{0},
        evicted_idle{0};
};

void bump(std::atomic<std::uint64_t>& c) { c.fetch_add(1, std::memory_order_relaxed); }

struct connection_base
{
    /// True while the connection waits for the first byte of a request (or its TLS handshake):
    /// such a connection may be closed to make room for a new one when max_connections are open.
    std::atomic<bool> idle{false};
    virtual ~connection_base() = default;
    /// Closes the connection on its strand (callable from any thread).
    virtual void close() = 0;
};

// Everything the listener shares with its connections; kept alive by them until they end.
struct listener_core : std::enable_shared_from_this<listener_core>
{
    asio::any_io_executor ex;
    listener_options opts;
    std::string secret;
    std::string base_path;  // path of public_base_url, accepted as a prefix (reverse proxies)
    std::optional<ssl::context> tls;
    counters stats;
    std::atomic<std::uint16_t> bound_port{0};

    std::mutex mtx;  // acceptor, retry timer, connection registry, lifecycle flags
    tcp::acceptor acceptor;
    asio::steady_timer accept_retry;
    bool started = false;
    bool stopped = false;
    std::uint64_t next_connection = 1;
    std::map<std::uint64_t, std::weak_ptr<connection_base>> connections;  // ordered by age (ids only grow)

    std::mutex hub_mtx;  // stop() waits for an in-progress deliver(), then the hub is never touched again
    callback_hub* hub;

    listener_core(asio::any_io_executor e, listener_options o, callback_hub& h)
        : ex(e), opts(std::move(o)), acceptor(e), accept_retry(e), hub(&h)
    {
        secret = opts.path_secret.empty() ? random_secret() : opts.path_secret;
        base_path = std::string(path_of(opts.public_base_url));
    }

    void note(std::string_view what)
    {
        if (opts.log) opts.log(what);
    }

    void start(error_code& ec);
    void stop();
    void do_accept();
    void on_accept(error_code ec, tcp::socket socket);
    void start_connection(tcp::socket socket);
    void unregister(std::uint64_t id)
    {
        std::lock_guard lk(mtx);
        connections.erase(id);
    }

    // The oldest connection that has sent nothing of a request yet, marked so it is picked once.
    std::shared_ptr<connection_base> take_idle_connection()
    {
        std::lock_guard lk(mtx);
        for (auto& [id, w] : connections)
            if (auto c = w.lock(); c && c->idle.exchange(false)) return c;
        return nullptr;
    }

    // Route of a request target: the callback kind when it is exactly our secret path.
    enum class route_result { not_found, separation, midi };
    route_result route(std::string_view target) const
    {
        if (auto q = target.find('?'); q != std::string_view::npos) target = target.substr(0, q);
        if (!base_path.empty() && target.substr(0, base_path.size()) == base_path &&
            target.substr(base_path.size(), path_prefix.size()) == path_prefix)
            target.remove_prefix(base_path.size());
        if (target.substr(0, path_prefix.size()) != path_prefix) return route_result::not_found;
        target.remove_prefix(path_prefix.size());
        auto slash = target.find('/');
        if (slash == std::string_view::npos) return route_result::not_found;
        auto given = target.substr(0, slash);
        auto kind = target.substr(slash + 1);
        const bool secret_ok = constant_time_equal(given, secret);
        if (!secret_ok) return route_result::not_found;
        if (kind == "separation") return route_result::separation;
        if (kind == "midi") return route_result::midi;
        return route_result::not_found;
    }

    struct answer
    {
        http::status status;
        std::string body;
        bool close = false;  // the connection ends after this answer, whatever the request asked
    };

    // The parser every request is read with: header and body limits.
    void prepare(http::request_parser<http::string_body>& parser) const
    {
        parser.header_limit(header_limit);
        parser.body_limit(opts.max_body);
    }

    // A request whose headers are read: 404/405 is answered without touching the hub, anything
    // else is a callback whose body is read next.
    std::variant<answer, callback_kind> admit(const http::request<http::string_body>& req)
    {
        if (req.version() != 10 && req.version() != 11)
        {
            // Beast reads any "HTTP/d.d"; an HTTP/2 preface or the like is not ours to route.
            bump(stats.malformed);
            note("kiemidi listener: 400 unsupported HTTP version");
            return answer{http::status::bad_request, R"({"code":400,"msg":"bad request"})", true};
        }
        const auto r = route(std::string_view(req.target().data(), req.target().size()));
        if (r == route_result::not_found || req.method() != http::verb::post)
        {
            const bool nf = r == route_result::not_found;
            bump(nf ? stats.not_found : stats.method_not_allowed);
            note(nf ? "kiemidi listener: 404 unknown path" : "kiemidi listener: 405 method not allowed");
            if (nf) return answer{http::status::not_found, R"({"code":404,"msg":"not found"})"};
            return answer{http::status::method_not_allowed, R"({"code":405,"msg":"method not allowed"})"};
        }
        return r == route_result::separation ? callback_kind::separation : callback_kind::midi;
    }

    // A failed header/body read: the answer it deserves before the connection ends, if any.
    std::optional<answer> read_error_answer(error_code ec)
    {
        if (ec == beast::error::timeout)
        {
            bump(stats.timeouts);
            note("kiemidi listener: request deadline passed; connection closed");
            return std::nullopt;
        }
        if (ec == http::error::body_limit)
        {
            bump(stats.too_large);
            note("kiemidi listener: 413 body larger than max_body");
            return answer{http::status::payload_too_large, R"({"code":413,"msg":"payload too large"})"};
        }
        if (ec == http::error::header_limit)
        {
            bump(stats.too_large);
            note("kiemidi listener: 431 request headers too large");
            return answer{http::status::request_header_fields_too_large,
                          R"({"code":431,"msg":"request headers too large"})"};
        }
        if (ec == http::error::end_of_stream || ec == http::error::partial_message)
            return std::nullopt;  // the peer went away
        if (ec.category() == make_error_code(http::error::bad_method).category())
        {
            bump(stats.malformed);
            note("kiemidi listener: 400 malformed HTTP request");
            return answer{http::status::bad_request, R"({"code":400,"msg":"bad request"})"};
        }
        return std::nullopt;  // a socket or TLS failure: just close
    }

    // Verifies a complete callback request and hands it to the hub. Never runs user code.
    answer handle_callback(callback_kind kind, http::request<http::string_body>& req)
    {
        auto id = api::find_callback_task_id(std::string_view(req.body()));
        if (!id || id->empty())
        {
            bump(stats.malformed);
            note("kiemidi listener: 400 callback body is not JSON or carries no task id");
            return {http::status::bad_request, R"({"code":400,"msg":"malformed callback"})"};
        }
        if (!opts.webhook_hmac_key.empty())
        {
            const auto ts = req["X-Webhook-Timestamp"];
            const auto sig = req["X-Webhook-Signature"];
            std::int64_t ts_value = 0;
            const auto parsed = std::from_chars(ts.data(), ts.data() + ts.size(), ts_value);
            const bool ts_ok = !ts.empty() && parsed.ec == std::errc{} && parsed.ptr == ts.data() + ts.size();
            bool sig_ok = false;
            if (ts_ok && !sig.empty())
            {
                sig_ok = detail::verify_webhook_signature(opts.webhook_hmac_key, *id, std::string_view(ts.data(), ts.size()),
                                                          std::string_view(sig.data(), sig.size()));
            }
            if (!sig_ok)
            {
                bump(stats.rejected_forged);
                note("kiemidi listener: 401 callback signature missing or invalid");
                return {http::status::unauthorized, R"({"code":401,"msg":"invalid signature"})"};
            }
            const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                                 std::chrono::system_clock::now().time_since_epoch())
                                 .count();
            // Compared as a distance from now, in unsigned arithmetic: `now ± window` would overflow
            // for a window near seconds::max() (a caller's way of saying "any age").
            const std::uint64_t distance = ts_value >= now ? static_cast<std::uint64_t>(ts_value) - static_cast<std::uint64_t>(now)
                                                           : static_cast<std::uint64_t>(now) - static_cast<std::uint64_t>(ts_value);
            const std::uint64_t window = static_cast<std::uint64_t>(std::max<std::int64_t>(0, opts.freshness_window.count()));
            if (distance > window)
            {
                bump(stats.rejected_stale);
                note("kiemidi listener: 401 callback timestamp outside the freshness window");
                return {http::status::unauthorized, R"({"code":401,"msg":"stale timestamp"})"};
            }
        }

        callback_message msg;
        msg.kind = kind;
        msg.task_id = std::move(*id);
        msg.body = std::move(req.body());
        msg.reference = callback_reference_of(std::string_view(req.target().data(), req.target().size()));
        msg.received_at = std::chrono::system_clock::now();
        std::optional<deliver_result> r;
        {
            std::lock_guard lk(hub_mtx);
            if (hub) r = hub->deliver(std::move(msg));
        }
        if (!r) return {http::status::service_unavailable, R"({"code":503,"msg":"shutting down"})"};
        if (*r == deliver_result::duplicate) bump(stats.duplicates);
        if (*r == deliver_result::buffered) bump(stats.buffered);
        bump(stats.callbacks_accepted);
        return {http::status::ok, R"({"code":200,"msg":"success"})"};
    }
};

template <class Stream>
struct connection final : connection_base, std::enable_shared_from_this<connection<Stream>>
{
    std::shared_ptr<listener_core> owner;
    Stream stream;
    std::uint64_t id = 0;
    bool closed = false;  // touched on the strand only

    connection(std::shared_ptr<listener_core> o, Stream s) : owner(std::move(o)), stream(std::move(s)) {}

    void close() override
    {
        asio::post(stream.get_executor(), [self = this->shared_from_this()] { self->close_now(); });
    }

    // Runs on the strand. Counts the connection closed before the socket is, so a peer that
    // sees EOF also sees open_connections without it.
    void close_now()
    {
        if (closed) return;
        closed = true;
        owner->stats.open_connections.fetch_sub(1, std::memory_order_seq_cst);
        auto& sock = beast::get_lowest_layer(stream).socket();
        error_code ec;
        sock.shutdown(tcp::socket::shutdown_both, ec);
        beast::get_lowest_layer(stream).close();
    }

    auto& lowest() { return beast::get_lowest_layer(stream); }

    // Writes one answer; returns false when the connection must end.
    // `head`: answering a HEAD request, whose answer announces the body's length but carries none
    // (a body would be read as the start of the next answer on a keep-alive connection).
    asio::awaitable<bool> reply(http::status status, std::string body, unsigned version, bool keep_alive,
                                bool head = false)
    {
        http::response<http::string_body> res{status, version};
        res.set(http::field::server, "kiemidi");
        res.set(http::field::content_type, "application/json");
        if (status == http::status::method_not_allowed) res.set(http::field::allow, "POST");
        res.keep_alive(keep_alive);
        res.body() = std::move(body);
        res.prepare_payload();
        if (head) res.body().clear();
        lowest().expires_after(owner->opts.body_timeout);
        auto [ec, n] = co_await http::async_write(stream, res, use_tuple);
        if (ec)
        {
            if (ec == beast::error::timeout) bump(owner->stats.timeouts);
            co_return false;
        }
        co_return keep_alive;
    }

    // After an answer that ends the connection with request bytes possibly unread: stop sending,
    // then drain briefly so closing does not reset the connection before the peer reads the answer.
    asio::awaitable<void> linger(beast::flat_buffer& buffer)
    {
        error_code ec;
        lowest().socket().shutdown(tcp::socket::shutdown_send, ec);
        if (ec) co_return;
        lowest().expires_after(std::min<std::chrono::milliseconds>(owner->opts.header_timeout, std::chrono::seconds(1)));
        std::size_t drained = 0;
        while (drained < linger_drain_limit)
        {
            buffer.consume(buffer.size());
            auto [rec, n] = co_await lowest().async_read_some(buffer.prepare(16 * 1024), use_tuple);
            if (rec) break;
            drained += n;
        }
    }

    asio::awaitable<void> run()
    {
        auto& o = *owner;
        if constexpr (std::is_same_v<Stream, tls_stream>)
        {
            lowest().expires_after(o.opts.header_timeout);
            this->idle = true;
            auto [ec] = co_await stream.async_handshake(ssl::stream_base::server, use_tuple);
            this->idle = false;
            if (ec)
            {
                bump(o.stats.tls_handshake_failures);
                if (ec == beast::error::timeout) bump(o.stats.timeouts);
                co_return;
            }
        }

        beast::flat_buffer buffer;
        bool first = true;
        for (;;)
        {
            if (buffer.size() == 0)
            {
                // Wait for the first byte of the next request: header_timeout on a fresh
                // connection, idle_timeout between keep-alive requests.
                // Only one byte, into the frame: KIE sends callbacks in bursts, each on a new
                // connection, and thousands of connections may wait for their first byte at once;
                // none of them (nor an idle keep-alive connection) holds a read buffer meanwhile.
                lowest().expires_after(first ? o.opts.header_timeout : o.opts.idle_timeout);
                buffer.shrink_to_fit();
                char first_byte = 0;
                this->idle = true;
                auto [ec, n] = co_await stream.async_read_some(asio::buffer(&first_byte, 1), use_tuple);
                this->idle = false;
                if (ec)
                {
                    if (ec == beast::error::timeout && first) bump(o.stats.timeouts);
                    co_return;
                }
                // The request is coming now: read the rest in large steps, as before (Beast reads
                // what the buffer can hold, at least 512 bytes, so a tiny buffer means tiny reads).
                buffer.reserve(8 * 1024);
                auto room = buffer.prepare(1);
                *static_cast<char*>(room.data()) = first_byte;
                buffer.commit(n);
            }
            first = false;

            http::request_parser<http::string_body> parser;
            o.prepare(parser);

            // Headers must be complete within header_timeout of their first byte (slowloris).
            lowest().expires_after(o.opts.header_timeout);
            {
                auto [ec, n] = co_await http::async_read_header(stream, buffer, parser, use_tuple);
                if (ec)
                {
                    co_await on_read_error(ec, buffer);
                    co_return;
                }
            }
            auto& req = parser.get();
            const unsigned version = req.version();
            const bool body_pending = !parser.is_done();

            auto admitted = o.admit(req);
            if (auto* rejected = std::get_if<listener_core::answer>(&admitted))
            {
                // An unread body would be taken for the next request: close instead.
                const bool keep = req.keep_alive() && !body_pending;
                if (rejected->close)
                {
                    // Not a request we can answer in kind (e.g. not HTTP/1.x): answer 400 and end.
                    co_await reply(rejected->status, std::move(rejected->body), 11, false);
                    co_await linger(buffer);
                    co_return;
                }
                const bool go_on = co_await reply(rejected->status, std::move(rejected->body), version, keep,
                                                  req.method() == http::verb::head);
                if (!go_on)
                {
                    if (body_pending) co_await linger(buffer);
                    co_return;
                }
                continue;
            }
            const auto kind = std::get<callback_kind>(admitted);

            if (body_pending)
            {
                if (beast::iequals(req[http::field::expect], "100-continue"))
                {
                    http::response<http::empty_body> cont{http::status::continue_, version};
                    lowest().expires_after(o.opts.body_timeout);
                    auto [ec, n] = co_await http::async_write(stream, cont, use_tuple);
                    if (ec) co_return;
                }
                lowest().expires_after(o.opts.body_timeout);
                auto [ec, n] = co_await http::async_read(stream, buffer, parser, use_tuple);
                if (ec)
                {
                    co_await on_read_error(ec, buffer);
                    co_return;
                }
            }

            const bool keep_alive = req.keep_alive();
            auto a = o.handle_callback(kind, req);
            if (!co_await reply(a.status, std::move(a.body), version, keep_alive)) co_return;
        }
    }

    // Classifies a failed header/body read: answer what deserves an answer, count, and end.
    asio::awaitable<void> on_read_error(error_code ec, beast::flat_buffer& buffer)
    {
        auto a = owner->read_error_answer(ec);
        if (!a) co_return;
        co_await reply(a->status, std::move(a->body), 11, false);
        co_await linger(buffer);
    }
};

}  // namespace

struct callback_listener::impl : listener_core
{
    using listener_core::listener_core;
};

void listener_core::start(error_code& ec)
{
    ec.clear();
    std::lock_guard lk(mtx);
    if (started || stopped)
    {
        ec = asio::error::already_started;
        return;
    }
    if (!valid_secret(secret))
    {
        ec = asio::error::invalid_argument;
        note("kiemidi listener: path_secret must be 16+ characters of [A-Za-z0-9._~-]");
        return;
    }
    const bool has_cert = !opts.tls_certificate_pem.empty();
    const bool has_key = !opts.tls_private_key_pem.empty();
    if (has_cert != has_key)
    {
        ec = asio::error::invalid_argument;
        note("kiemidi listener: a TLS certificate needs its private key and vice versa");
        return;
    }
    if (has_cert)
    {
        tls.emplace(ssl::context::tls_server);
        tls->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                             ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 | ssl::context::single_dh_use,
                         ec);
        if (!ec)
        {
            if (looks_like_pem(opts.tls_certificate_pem))
                tls->use_certificate_chain(asio::buffer(opts.tls_certificate_pem), ec);
            else
                tls->use_certificate_chain_file(opts.tls_certificate_pem, ec);
        }
        if (!ec)
        {
            if (looks_like_pem(opts.tls_private_key_pem))
                tls->use_private_key(asio::buffer(opts.tls_private_key_pem), ssl::context::pem, ec);
            else
                tls->use_private_key_file(opts.tls_private_key_pem, ssl::context::pem, ec);
        }
        if (ec)
        {
            tls.reset();
            note("kiemidi listener: TLS certificate or key could not be loaded");
            return;
        }
    }

    const auto address = asio::ip::make_address(opts.bind_address, ec);
    if (ec) return;
    const tcp::endpoint ep(address, opts.port);
    acceptor.open(ep.protocol(), ec);
    if (!ec) acceptor.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) acceptor.bind(ep, ec);
    if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
    if (!ec) bound_port = acceptor.local_endpoint(ec).port();
    if (ec)
    {
        error_code ignored;
        acceptor.close(ignored);
        return;
    }
    started = true;
    asio::post(ex, [self = shared_from_this()] { self->do_accept(); });
}

void listener_core::do_accept()
{
    std::lock_guard lk(mtx);
    if (stopped || !acceptor.is_open()) return;
    // Each connection gets its own strand, so connections run in parallel on a multi-threaded io_context.
    acceptor.async_accept(asio::any_io_executor(asio::make_strand(ex)),
                          [self = shared_from_this()](error_code ec, tcp::socket s) { self->on_accept(ec, std::move(s)); });
}

void listener_core::on_accept(error_code ec, tcp::socket socket)
{
    if (ec == asio::error::operation_aborted) return;
    if (ec)
    {
        // E.g. out of file descriptors: back off briefly instead of spinning.
        note("kiemidi listener: accept failed; retrying shortly");
        std::lock_guard lk(mtx);
        if (stopped) return;
        accept_retry.expires_after(std::chrono::milliseconds(100));
        accept_retry.async_wait([self = shared_from_this()](error_code e) {
            if (!e) self->do_accept();
        });
        return;
    }
    bump(stats.accepted_connections);
    if (stats.open_connections.load() >= opts.max_connections)
    {
        // Over capacity: a connection that has sent nothing yet gives way to the new one, so idle
        // peers cannot keep KIE out; when every slot is busy, the new connection is closed at once.
        if (auto victim = take_idle_connection())
        {
            bump(stats.evicted_idle);
            victim->close();
            start_connection(std::move(socket));
        }
        else
        {
            bump(stats.refused_over_capacity);
            error_code ignored;
            socket.close(ignored);
        }
    }
    else
    {
        start_connection(std::move(socket));
    }
    do_accept();
}

void listener_core::start_connection(tcp::socket socket)
{
    std::shared_ptr<connection_base> base;
    asio::any_io_executor strand = socket.get_executor();
    auto spawn = [&](auto s) {
        base = s;
        {
            std::lock_guard lk(mtx);
            if (stopped)
            {
                error_code ignored;
                beast::get_lowest_layer(s->stream).socket().close(ignored);
                return;
            }
            s->id = next_connection++;
            connections.emplace(s->id, s);
            stats.open_connections.fetch_add(1);
        }
        asio::co_spawn(strand, s->run(), [s, self = shared_from_this()](std::exception_ptr e) {
            if (e) self->note("kiemidi listener: connection ended by an unexpected exception");
            s->close_now();
            self->unregister(s->id);
        });
    };
    if (tls)
        spawn(std::make_shared<connection<tls_stream>>(shared_from_this(), tls_stream(beast::tcp_stream(std::move(socket)), *tls)));
    else
        spawn(std::make_shared<connection<beast::tcp_stream>>(shared_from_this(), beast::tcp_stream(std::move(socket))));
}

void listener_core::stop()
{
    std::vector<std::shared_ptr<connection_base>> live;
    {
        std::lock_guard lk(mtx);
        if (stopped) return;
        stopped = true;
        error_code ignored;
        acceptor.cancel(ignored);
        acceptor.close(ignored);
        accept_retry.cancel();
        for (auto& [id, w] : connections)
            if (auto s = w.lock()) live.push_back(std::move(s));
        connections.clear();
    }
    {
        std::lock_guard lk(hub_mtx);  // waits for a deliver() in progress
        hub = nullptr;
    }
    for (auto& s : live) s->close();
}

callback_listener::callback_listener(asio::any_io_executor ex, listener_options opts, callback_hub& hub)
    : impl_(std::make_shared<impl>(std::move(ex), std::move(opts), hub))
{
}

callback_listener::~callback_listener() { impl_->stop(); }

void callback_listener::start(error_code& ec) { impl_->start(ec); }

void callback_listener::start()
{
    error_code ec;
    impl_->start(ec);
    if (ec) throw boost::system::system_error(ec, "kiemidi::callback_listener::start");
}

void callback_listener::stop() { impl_->stop(); }

std::uint16_t callback_listener::port() const { return impl_->bound_port.load(); }

bool callback_listener::uses_tls() const
{
    return !impl_->opts.tls_certificate_pem.empty() && !impl_->opts.tls_private_key_pem.empty();
}

std::string callback_listener::callback_url(callback_kind kind) const
{
    const auto& o = impl_->opts;
    std::string base;
    if (!o.public_base_url.empty())
    {
        base = o.public_base_url;
        while (!base.empty() && base.back() == '/') base.pop_back();
    }
    else
    {
        const bool v6 = o.bind_address.find(':') != std::string::npos;
        base = std::string(uses_tls() ? "https://" : "http://") + (v6 ? "[" : "") + o.bind_address + (v6 ? "]" : "") +
               ":" + std::to_string(port());
    }
    return base + std::string(path_prefix) + impl_->secret + "/" + kind_segment(kind);
}

namespace {

listener_stats snapshot(const counters& c)
{
    listener_stats s;
    s.accepted_connections = c.accepted_connections.load();
    s.open_connections = c.open_connections.load();
    s.refused_over_capacity = c.refused_over_capacity.load();
    s.tls_handshake_failures = c.tls_handshake_failures.load();
    s.callbacks_accepted = c.callbacks_accepted.load();
    s.duplicates = c.duplicates.load();
    s.buffered = c.buffered.load();
    s.rejected_forged = c.rejected_forged.load();
    s.rejected_stale = c.rejected_stale.load();
    s.not_found = c.not_found.load();
    s.method_not_allowed = c.method_not_allowed.load();
    s.too_large = c.too_large.load();
    s.timeouts = c.timeouts.load();
    s.malformed = c.malformed.load();
    s.evicted_idle = c.evicted_idle.load();
    return s;
}

}  // namespace

listener_stats callback_listener::stats() const { return snapshot(impl_->stats); }

// ---- detail::callback_request_handler: the same per-request steps as connection::run(), over bytes ----

namespace {

// A SyncReadStream over bytes already received, then end of stream (the peer half-closed).
class received_bytes
{
public:
    using executor_type = asio::any_io_executor;
    explicit received_bytes(std::string_view bytes) : rest_(bytes) {}

    template <class MutableBuffers>
    std::size_t read_some(const MutableBuffers& buffers, error_code& ec)
    {
        ec.clear();
        if (rest_.empty())
        {
            ec = asio::error::eof;
            return 0;
        }
        const auto n = asio::buffer_copy(buffers, asio::buffer(rest_.data(), rest_.size()));
        rest_.remove_prefix(n);
        return n;
    }
    template <class MutableBuffers>
    std::size_t read_some(const MutableBuffers& buffers)
    {
        error_code ec;
        const auto n = read_some(buffers, ec);
        if (ec) throw boost::system::system_error(ec);
        return n;
    }

private:
    std::string_view rest_;
};

}  // namespace

struct detail::callback_request_handler::state
{
    std::shared_ptr<listener_core> core;
};

detail::callback_request_handler::callback_request_handler(asio::any_io_executor ex, listener_options opts,
                                                           callback_hub& hub)
    : state_(std::make_unique<state>(state{std::make_shared<listener_core>(std::move(ex), std::move(opts), hub)}))
{
}

detail::callback_request_handler::~callback_request_handler() = default;

std::vector<detail::listener_reply> detail::callback_request_handler::handle(std::string_view bytes)
{
    auto& o = *state_->core;
    received_bytes stream(bytes);
    beast::flat_buffer buffer;
    std::vector<listener_reply> out;
    auto answer_with = [&](http::status status, std::string body, bool keep_alive) {
        out.push_back({static_cast<unsigned>(status), std::move(body), keep_alive});
        return keep_alive;
    };
    for (;;)
    {
        if (buffer.size() == 0)
        {
            error_code ec;
            const auto n = stream.read_some(buffer.prepare(8 * 1024), ec);
            if (ec) break;
            buffer.commit(n);
        }

        http::request_parser<http::string_body> parser;
        o.prepare(parser);
        error_code ec;
        http::read_header(stream, buffer, parser, ec);
        if (ec)
        {
            if (auto a = o.read_error_answer(ec)) answer_with(a->status, std::move(a->body), false);
            break;
        }
        auto& req = parser.get();
        const bool body_pending = !parser.is_done();

        auto admitted = o.admit(req);
        if (auto* rejected = std::get_if<listener_core::answer>(&admitted))
        {
            if (!answer_with(rejected->status, std::move(rejected->body),
                             !rejected->close && req.keep_alive() && !body_pending))
                break;
            continue;
        }
        const auto kind = std::get<callback_kind>(admitted);

        if (body_pending)
        {
            if (beast::iequals(req[http::field::expect], "100-continue")) answer_with(http::status::continue_, {}, true);
            http::read(stream, buffer, parser, ec);
            if (ec)
            {
                if (auto a = o.read_error_answer(ec)) answer_with(a->status, std::move(a->body), false);
                break;
            }
        }

        const bool keep_alive = req.keep_alive();
        auto a = o.handle_callback(kind, req);
        if (!answer_with(a.status, std::move(a.body), keep_alive)) break;
    }
    return out;
}

std::string detail::callback_request_handler::callback_target(callback_kind kind) const
{
    return std::string(path_prefix) + state_->core->secret + "/" + kind_segment(kind);
}

listener_stats detail::callback_request_handler::stats() const { return snapshot(state_->core->stats); }

}  // namespace kiemidi
