// The /metrics endpoint: a small Beast server. Everything (acceptor, connections, render) runs on
// one strand: scrapes are rare and small, so one strand is plenty and keeps the state simple.
// The accept loop and each connection are counted in a server_work, so async_stop completes only
// once none of them is left.
#include "../crypto/crypto.hpp"
#include "../nothrow_awaitable.hpp"
#include "../server_work.hpp"
#include <kiemidi/metrics/model.hpp>
#include <kiemidi/metrics/server.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/system/system_error.hpp>

#include <atomic>
#include <map>
#include <mutex>

namespace asio = boost::asio;

namespace kiemidi::metrics {

namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {
constexpr unsigned max_requests_per_connection = 100;
}  // namespace

struct server::impl : std::enable_shared_from_this<server::impl>
{
    impl(executor_type ex, server_options o, render_function r)
        : strand(asio::make_strand(ex)), acceptor(strand), opts(std::move(o)), render(std::move(r)),
          work(std::make_shared<kiemidi::detail::server_work>(ex))
    {
    }

    // One connection: its stream, and whether an answer is being written (a graceful stop lets
    // that answer finish). Strand only.
    struct connection
    {
        explicit connection(tcp::socket s) : stream(std::move(s)) {}
        beast::tcp_stream stream;
        bool answering = false;
    };

    asio::strand<executor_type> strand;
    tcp::acceptor acceptor;
    server_options opts;
    render_function render;
    std::shared_ptr<kiemidi::detail::server_work> work;
    std::mutex start_mtx;  // start() against start()
    bool started = false;  // under start_mtx
    std::map<connection*, std::shared_ptr<connection>> connections;  // strand only
    std::atomic<std::uint16_t> port{0};
    bool stopped = false;  // strand only: no request is read any more

    error_code open()
    {
        error_code ec;
        const auto address = asio::ip::make_address(opts.address, ec);
        if (ec) return ec;
        const tcp::endpoint ep(address, opts.port);
        acceptor.open(ep.protocol(), ec);
        if (!ec) acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
        if (!ec) acceptor.bind(ep, ec);
        if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
        if (ec)
        {
            error_code ignored;
            acceptor.close(ignored);
            return ec;
        }
        port = acceptor.local_endpoint().port();
        return {};
    }

    // Strand only. Stops accepting; connections waiting for a request are closed, one being
    // answered finishes its answer (all of them at once: `at_once`).
    void wind_down(bool at_once)
    {
        stopped = true;
        error_code ignored;
        acceptor.close(ignored);
        for (const auto& [p, c] : connections)
            if (at_once || !c->answering) c->stream.socket().close(ignored);
    }

    // Runs `co` on the strand, counted as work; not at all (false) once a stop began.
    bool spawn_counted(asio::awaitable<void> co)
    {
        std::weak_ptr<impl> weak = shared_from_this();
        auto ticket = work->enter([weak](bool at_once) {
            if (auto self = weak.lock()) asio::dispatch(self->strand, [self, at_once] { self->wind_down(at_once); });
        });
        if (!ticket) return false;
        asio::co_spawn(strand, std::move(co), [t = std::move(ticket)](std::exception_ptr) mutable { t.release(); });
        return true;
    }

    static asio::awaitable<void> accept_loop(std::shared_ptr<impl> self)
    {
        while (!self->stopped)
        {
            auto [ec, socket] = co_await self->acceptor.async_accept(use_nothrow_awaitable);
            if (self->stopped || !self->acceptor.is_open()) co_return;
            if (ec) continue;  // e.g. the peer reset before accept, or descriptors ran out for a moment
            if (self->connections.size() >= self->opts.max_connections)
            {
                error_code ignored;
                socket.close(ignored);
                continue;
            }
            auto c = std::make_shared<connection>(std::move(socket));
            self->connections.emplace(c.get(), c);
            if (!self->spawn_counted(serve(self, c))) self->connections.erase(c.get());  // a stop began: never served
        }
    }

    http::response<http::string_body> answer(const http::request<http::empty_body>& req) const
    {
        http::response<http::string_body> res;
        res.version(req.version());
        res.keep_alive(req.keep_alive());
        res.set(http::field::server, "kiemidi");
        const auto target = req.target();
        const auto path = target.substr(0, target.find('?'));
        const bool head = req.method() == http::verb::head;
        if (path != opts.path)
        {
            res.result(http::status::not_found);
            res.set(http::field::content_type, "text/plain");
            if (!head) res.body() = "not found\n";
        }
        else if (req.method() != http::verb::get && !head)
        {
            res.result(http::status::method_not_allowed);
            res.set(http::field::allow, "GET, HEAD");
        }
        else if (!opts.bearer_token.empty() &&
                 !detail::constant_time_equal(req[http::field::authorization], "Bearer " + opts.bearer_token))
        {
            res.result(http::status::unauthorized);
            res.set(http::field::www_authenticate, "Bearer");
        }
        else
        {
            res.result(http::status::ok);
            res.set(http::field::content_type, content_type);
            res.body() = render ? render() : std::string();
            if (head)
            {
                res.content_length(res.body().size());
                res.body().clear();
                return res;
            }
        }
        res.prepare_payload();
        return res;
    }

    static asio::awaitable<void> serve(std::shared_ptr<impl> self, std::shared_ptr<connection> c)
    {
        auto* stream = &c->stream;
        beast::flat_buffer buffer(self->opts.max_request_size);
        for (unsigned n = 0; n < max_requests_per_connection && !self->stopped; ++n)
        {
            http::request_parser<http::empty_body> parser;
            parser.header_limit(static_cast<std::uint32_t>(self->opts.max_request_size));
            parser.body_limit(0);
            stream->expires_after(self->opts.timeout);
            auto [ec, bytes] = co_await http::async_read(*stream, buffer, parser, use_nothrow_awaitable);
            if (ec)
            {
                // A request we cannot take (too large, malformed) gets a 400 before the close; a
                // silent or gone peer gets nothing.
                if (ec != beast::error::timeout && ec != http::error::end_of_stream && ec != asio::error::eof &&
                    ec != asio::error::operation_aborted && ec != asio::error::connection_reset && !self->stopped)
                {
                    http::response<http::string_body> bad{http::status::bad_request, 11};
                    bad.keep_alive(false);
                    bad.prepare_payload();
                    stream->expires_after(self->opts.timeout);
                    co_await http::async_write(*stream, bad, use_nothrow_awaitable);
                }
                break;
            }
            auto res = self->answer(parser.get());
            if (self->stopped) res.keep_alive(false);  // a graceful stop began: this answer is the last
            stream->expires_after(self->opts.timeout);
            c->answering = true;
            auto [wec, written] = co_await http::async_write(*stream, res, use_nothrow_awaitable);
            c->answering = false;
            if (wec || !res.keep_alive()) break;
        }
        error_code ignored;
        stream->socket().shutdown(tcp::socket::shutdown_send, ignored);
        stream->socket().close(ignored);
        self->connections.erase(c.get());
    }
};

server::server(executor_type ex, server_options opts, render_function render)
    : impl_(std::make_shared<impl>(std::move(ex), std::move(opts), std::move(render)))
{
}

server::~server() { impl_->work->stop_now(); }

std::uint16_t server::port() const noexcept { return impl_->port.load(); }

void server::start(error_code& ec)
{
    std::lock_guard lock(impl_->start_mtx);
    if (impl_->started || impl_->work->stopping())
    {
        ec = asio::error::already_started;
        return;
    }
    // Nothing runs on the strand before the accept loop is spawned, so the acceptor is opened here.
    ec = impl_->open();
    if (ec) return;
    impl_->started = true;
    if (!impl_->spawn_counted(impl::accept_loop(impl_)))
    {
        error_code ignored;
        impl_->acceptor.close(ignored);  // a stop began meanwhile
        ec = asio::error::operation_aborted;
    }
}

void server::start()
{
    error_code ec;
    start(ec);
    if (ec) throw boost::system::system_error(ec, "kiemidi::metrics::server::start");
}

void server::start_stop(asio::any_completion_handler<void(error_code)> h)
{
    impl_->work->stop(impl_->opts.stop_grace, std::move(h));
}

}  // namespace kiemidi::metrics
