// The callback listener: a small Beast HTTP(S) server with one coroutine per connection.
//
// Each connection lives on its own strand and reads request after request (keep-alive and
// pipelining), each step under a deadline. What a request deserves (route, limits, signature,
// freshness, hub delivery) is decided by callback_admission and its request_cycle, which this file
// only drives over sockets; here live the acceptor, TLS, deadlines, lingering closes and the
// connection registry. The acceptor and the registry sit behind one mutex so a stop can close
// everything from any thread. What runs (the accept chain, each connection) is counted in a
// server_work, so async_stop completes only once none of it is left.
#include <kiemidi/callback_listener.hpp>

#include "callback_admission.hpp"
#include "../nothrow_awaitable.hpp"
#include "../server_work.hpp"

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
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/system/system_error.hpp>

#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <type_traits>
#include <vector>

namespace asio = boost::asio;

namespace kiemidi {

namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using tls_stream = ssl::stream<beast::tcp_stream>;
constexpr std::size_t linger_drain_limit = 1024 * 1024;
using detail::bump;

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

bool looks_like_pem(std::string_view s) { return s.find("-----BEGIN") != std::string_view::npos; }

}  // namespace

// Named, not file-local: callback_listener::impl, a class the public header declares, is the core.
namespace detail {

struct callback_connection_base
{
    /// True while the connection waits for the first byte of a request (or its TLS handshake):
    /// such a connection may be closed to make room for a new one when max_connections are open.
    std::atomic<bool> idle{false};
    virtual ~callback_connection_base() = default;
    /// Closes the connection on its strand (callable from any thread).
    virtual void close() = 0;
    /// A graceful stop began (callable from any thread): an idle connection closes now; one in the
    /// middle of a request answers it (with `Connection: close`) and then closes.
    virtual void drain() = 0;
};

// Everything the listener shares with its connections; kept alive by them until they end.
struct callback_listener_core : detail::callback_admission, std::enable_shared_from_this<callback_listener_core>
{
    asio::any_io_executor ex;
    std::shared_ptr<detail::server_work> work;
    std::optional<ssl::context> tls;
    std::atomic<std::uint16_t> bound_port{0};

    std::mutex mtx;  // acceptor, retry timer, connection registry, lifecycle flags
    tcp::acceptor acceptor;
    asio::steady_timer accept_retry;
    bool started = false;
    bool stopped = false;
    std::uint64_t next_connection = 1;
    std::map<std::uint64_t, std::weak_ptr<callback_connection_base>> connections;  // ordered by age (ids only grow)

    callback_listener_core(asio::any_io_executor e, listener_options o, callback_hub& h)
        : callback_admission(std::move(o), h), ex(e), work(std::make_shared<detail::server_work>(e)), acceptor(e),
          accept_retry(e)
    {
    }

    // The accept chain's ticket: shared by the handlers of one accept after another.
    using accept_ticket = std::shared_ptr<detail::server_work::ticket>;

    void start(error_code& ec);
    void stop_accepting();
    void stop_now();
    void do_accept(accept_ticket t);
    void on_accept(error_code ec, tcp::socket socket, accept_ticket t);
    void start_connection(tcp::socket socket);
    void unregister(std::uint64_t id)
    {
        std::lock_guard lk(mtx);
        connections.erase(id);
    }

    // The oldest connection that has sent nothing of a request yet, marked so it is picked once.
    std::shared_ptr<callback_connection_base> take_idle_connection()
    {
        std::lock_guard lk(mtx);
        for (auto& [id, w] : connections)
            if (auto c = w.lock(); c && c->idle.exchange(false)) return c;
        return nullptr;
    }


};

}  // namespace detail

using detail::callback_listener_core;
using detail::callback_connection_base;

namespace {

template <class Stream>
struct callback_connection final : callback_connection_base, std::enable_shared_from_this<callback_connection<Stream>>
{
    std::shared_ptr<callback_listener_core> owner;
    Stream stream;
    std::uint64_t id = 0;
    bool closed = false;    // touched on the strand only
    bool draining = false;  // touched on the strand only

    callback_connection(std::shared_ptr<callback_listener_core> o, Stream s) : owner(std::move(o)), stream(std::move(s)) {}

    void close() override
    {
        asio::post(stream.get_executor(), [self = this->shared_from_this()] { self->close_now(); });
    }

    void drain() override
    {
        asio::post(stream.get_executor(), [self = this->shared_from_this()] {
            self->draining = true;
            // On the strand the coroutine is suspended: `idle` says it waits for a request's first
            // byte (or its TLS handshake), so nothing is in hand.
            if (self->idle) self->close_now();
        });
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
        auto [ec, n] = co_await http::async_write(stream, res, use_nothrow_awaitable);
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
            auto [rec, n] = co_await lowest().async_read_some(buffer.prepare(16 * 1024), use_nothrow_awaitable);
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
            auto [ec] = co_await stream.async_handshake(ssl::stream_base::server, use_nothrow_awaitable);
            this->idle = false;
            if (ec)
            {
                bump(o.stats.tls_handshake_failures);
                if (ec == beast::error::timeout) bump(o.stats.timeouts);
                co_return;
            }
        }

        beast::flat_buffer buffer;
        detail::request_cycle cycle(o);
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
                auto [ec, n] = co_await stream.async_read_some(asio::buffer(&first_byte, 1), use_nothrow_awaitable);
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

            // What to read and answer is decided by the request cycle (callback_admission.hpp),
            // the same code the socketless handler and the fuzz target drive; this loop only
            // performs its reads and writes under the connection's deadlines.
            auto& parser = cycle.begin();

            // Headers must be complete within header_timeout of their first byte (slowloris).
            lowest().expires_after(o.opts.header_timeout);
            auto [hec, hn] = co_await http::async_read_header(stream, buffer, parser, use_nothrow_awaitable);
            auto step = cycle.after_header(hec);

            if (step.read_body)
            {
                if (step.send_continue)
                {
                    http::response<http::empty_body> cont{http::status::continue_, cycle.version()};
                    lowest().expires_after(o.opts.body_timeout);
                    auto [ec, n] = co_await http::async_write(stream, cont, use_nothrow_awaitable);
                    if (ec) co_return;
                }
                lowest().expires_after(o.opts.body_timeout);
                auto [bec, bn] = co_await http::async_read(stream, buffer, parser, use_nothrow_awaitable);
                step = cycle.after_body(bec);
            }

            if (!step.answer) co_return;  // the peer went away, a deadline passed, or the socket failed
            auto& a = *step.answer;
            if (draining) a.keep_alive = false;  // a graceful stop began: this answer is the last
            const bool go_on = co_await reply(a.status, std::move(a.body), a.version, a.keep_alive, a.head);
            if (!go_on)
            {
                if (a.linger) co_await linger(buffer);
                co_return;
            }
        }
    }
};

}  // namespace

struct callback_listener::impl : callback_listener_core
{
    using callback_listener_core::callback_listener_core;
};

void callback_listener_core::start(error_code& ec)
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
    // The accept chain counts as running work; winding it down (gently or at once) stops accepting.
    std::weak_ptr<callback_listener_core> weak = shared_from_this();
    auto t = std::make_shared<detail::server_work::ticket>(work->enter([weak](bool) {
        if (auto self = weak.lock()) self->stop_accepting();
    }));
    if (!*t)
    {
        error_code ignored;
        acceptor.close(ignored);
        ec = asio::error::operation_aborted;  // a stop began meanwhile
        return;
    }
    started = true;
    asio::post(ex, [self = shared_from_this(), t] { self->do_accept(t); });
}

void callback_listener_core::do_accept(accept_ticket t)
{
    std::lock_guard lk(mtx);
    if (stopped || !acceptor.is_open()) return;
    // Each connection gets its own strand, so connections run in parallel on a multi-threaded io_context.
    acceptor.async_accept(asio::any_io_executor(asio::make_strand(ex)),
                          [self = shared_from_this(), t](error_code ec, tcp::socket s) { self->on_accept(ec, std::move(s), t); });
}

void callback_listener_core::on_accept(error_code ec, tcp::socket socket, accept_ticket t)
{
    if (ec == asio::error::operation_aborted) return;
    if (ec)
    {
        // E.g. out of file descriptors: back off briefly instead of spinning.
        note("kiemidi listener: accept failed; retrying shortly");
        std::lock_guard lk(mtx);
        if (stopped) return;
        accept_retry.expires_after(std::chrono::milliseconds(100));
        accept_retry.async_wait([self = shared_from_this(), t](error_code e) {
            if (!e) self->do_accept(t);
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
    do_accept(std::move(t));
}

void callback_listener_core::start_connection(tcp::socket socket)
{
    std::shared_ptr<callback_connection_base> base;
    asio::any_io_executor strand = socket.get_executor();
    auto spawn = [&](auto s) {
        base = s;
        std::weak_ptr<callback_connection_base> weak = s;
        auto ticket = work->enter([weak](bool at_once) {
            if (auto c = weak.lock()) at_once ? c->close() : c->drain();
        });
        {
            std::lock_guard lk(mtx);
            if (stopped || !ticket)
            {
                error_code ignored;
                beast::get_lowest_layer(s->stream).socket().close(ignored);
                return;
            }
            s->id = next_connection++;
            connections.emplace(s->id, s);
            stats.open_connections.fetch_add(1);
        }
        asio::co_spawn(strand, s->run(),
                       [s, self = shared_from_this(), t = std::move(ticket)](std::exception_ptr e) mutable {
                           if (e) self->note("kiemidi listener: connection ended by an unexpected exception");
                           s->close_now();
                           self->unregister(s->id);
                           t.release();  // the connection has ended: a stop may complete
                       });
    };
    if (tls)
        spawn(std::make_shared<callback_connection<tls_stream>>(shared_from_this(), tls_stream(beast::tcp_stream(std::move(socket)), *tls)));
    else
        spawn(std::make_shared<callback_connection<beast::tcp_stream>>(shared_from_this(), beast::tcp_stream(std::move(socket))));
}

// Closes the acceptor; connections already open go on (a stop winds them down separately).
void callback_listener_core::stop_accepting()
{
    std::lock_guard lk(mtx);
    if (stopped) return;
    stopped = true;
    error_code ignored;
    acceptor.cancel(ignored);
    acceptor.close(ignored);
    accept_retry.cancel();
}

void callback_listener_core::stop_now()
{
    work->stop_now();  // closes the acceptor and every connection
    stop_accepting();  // also when start() never ran
    detach_hub();
}

callback_listener::callback_listener(asio::any_io_executor ex, listener_options opts, callback_hub& hub)
    : impl_(std::make_shared<impl>(std::move(ex), std::move(opts), hub))
{
}

callback_listener::~callback_listener() { impl_->stop_now(); }

void callback_listener::start(error_code& ec) { impl_->start(ec); }

void callback_listener::start()
{
    error_code ec;
    impl_->start(ec);
    if (ec) throw boost::system::system_error(ec, "kiemidi::callback_listener::start");
}

void callback_listener::stop() { impl_->stop_now(); }

void callback_listener::start_stop(asio::any_completion_handler<void(error_code)> handler)
{
    impl_->work->stop(impl_->opts.stop_grace, std::move(handler));
}

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
    return base + impl_->callback_target(kind);
}

listener_stats callback_listener::stats() const { return impl_->snapshot(); }

}  // namespace kiemidi
