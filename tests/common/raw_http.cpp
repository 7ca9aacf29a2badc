// Beast-based raw HTTP(S) client and callback receiver used by the integration tests.
#include "raw_http.hpp"
#include "nothrow_awaitable.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/json/parse.hpp>
#include <boost/system/system_error.hpp>

#include <algorithm>
#include <cctype>
#include <list>

namespace asio = boost::asio;

namespace kiemidi::test {

namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;

namespace {

std::string lower(std::string_view s)
{
    std::string out(s);
    std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return out;
}

template <class Fields>
std::map<std::string, std::string> header_map(const Fields& f)
{
    std::map<std::string, std::string> m;
    for (const auto& h : f) m[lower(h.name_string())] = std::string(h.value());
    return m;
}
}  // namespace

boost::json::value raw_response::json() const { return boost::json::parse(body); }
std::int64_t raw_response::code() const { return json().at("code").to_number<std::int64_t>(); }
boost::json::value received_callback::json() const { return boost::json::parse(body); }

// ---- raw_client ---------------------------------------------------------------------------------

struct raw_client::impl
{
    asio::any_io_executor ex;
    std::uint16_t port;
    std::optional<ssl::context> ctx;
    std::string host;
    std::optional<beast::tcp_stream> plain;
    std::optional<beast::ssl_stream<beast::tcp_stream>> secure;
    beast::flat_buffer buffer;
    std::size_t connects = 0;

    void close()
    {
        beast::error_code ec;
        if (plain) plain->socket().close(ec);
        if (secure) beast::get_lowest_layer(*secure).socket().close(ec);
        plain.reset();
        secure.reset();
        buffer.clear();
    }

    beast::tcp_stream& lowest() { return plain ? *plain : beast::get_lowest_layer(*secure); }

    asio::awaitable<error_code> connect()
    {
        const tcp::endpoint ep(asio::ip::make_address("127.0.0.1"), port);
        ++connects;
        if (!ctx)
        {
            plain.emplace(ex);
            plain->expires_after(std::chrono::seconds(10));
            auto [ec] = co_await plain->async_connect(ep, use_nothrow_awaitable);
            co_return ec;
        }
        secure.emplace(beast::tcp_stream(ex), *ctx);
        SSL_set_tlsext_host_name(secure->native_handle(), host.c_str());
        secure->set_verify_callback(ssl::host_name_verification(host));
        auto& low = beast::get_lowest_layer(*secure);
        low.expires_after(std::chrono::seconds(10));
        auto [ec] = co_await low.async_connect(ep, use_nothrow_awaitable);
        if (ec) co_return ec;
        auto [hec] = co_await secure->async_handshake(ssl::stream_base::client, use_nothrow_awaitable);
        co_return hec;
    }

    template <class Stream>
    asio::awaitable<error_code> exchange(Stream& s, const raw_request& r, raw_response& out)
    {
        http::request<http::string_body> req{http::string_to_verb(r.method), r.target, 11};
        req.set(http::field::host, host);
        req.set(http::field::user_agent, "kiemidi-tests");
        if (r.bearer) req.set(http::field::authorization, "Bearer " + *r.bearer);
        if (!r.body.empty() || r.method == "POST") req.set(http::field::content_type, "application/json");
        for (const auto& [k, v] : r.headers) req.set(k, v);
        req.body() = r.body;
        req.keep_alive(true);
        req.prepare_payload();
        lowest().expires_after(std::chrono::seconds(10));
        auto [wec, wn] = co_await http::async_write(s, req, use_nothrow_awaitable);
        if (wec) co_return wec;
        http::response_parser<http::string_body> parser;
        parser.body_limit(16 * 1024 * 1024);
        auto [rec, rn] = co_await http::async_read(s, buffer, parser, use_nothrow_awaitable);
        if (rec) co_return rec;
        auto& res = parser.get();
        out.status = res.result_int();
        out.body = res.body();
        out.headers = header_map(res);
        if (!res.keep_alive()) close();
        co_return error_code{};
    }
};

raw_client::raw_client(asio::any_io_executor ex, std::uint16_t port, std::optional<std::string> ca_pem, std::string host_name)
    : impl_(std::make_shared<impl>())
{
    impl_->ex = std::move(ex);
    impl_->port = port;
    impl_->host = std::move(host_name);
    if (ca_pem)
    {
        impl_->ctx.emplace(ssl::context::tls_client);
        if (!ca_pem->empty()) impl_->ctx->add_certificate_authority(asio::buffer(*ca_pem));
        impl_->ctx->set_verify_mode(ssl::verify_peer);
    }
}

raw_client::~raw_client() { close(); }
void raw_client::close() { impl_->close(); }
std::size_t raw_client::connects() const { return impl_->connects; }

asio::awaitable<error_code> raw_client::try_request(const raw_request& req, raw_response& out)
{
    auto self = impl_;
    if (!self->plain && !self->secure)
    {
        if (auto ec = co_await self->connect())
        {
            self->close();
            co_return ec;
        }
    }
    error_code ec = self->plain ? co_await self->exchange(*self->plain, req, out) : co_await self->exchange(*self->secure, req, out);
    if (ec) self->close();
    co_return ec;
}

asio::awaitable<raw_response> raw_client::request(const raw_request& req)
{
    raw_response out;
    if (auto ec = co_await try_request(req, out)) throw boost::system::system_error(ec, req.method + " " + req.target);
    co_return out;
}

// ---- raw_connection ----------------------------------------------------------------------------

struct raw_connection::impl
{
    std::uint16_t port;
    beast::tcp_stream stream;
    beast::flat_buffer buffer;
    impl(asio::any_io_executor ex, std::uint16_t p) : port(p), stream(std::move(ex)) {}
};

raw_connection::raw_connection(asio::any_io_executor ex, std::uint16_t port)
    : impl_(std::make_unique<impl>(std::move(ex), port))
{
}
raw_connection::~raw_connection() { if (impl_) close(); }
raw_connection::raw_connection(raw_connection&&) noexcept = default;
raw_connection& raw_connection::operator=(raw_connection&&) noexcept = default;

asio::awaitable<error_code> raw_connection::connect()
{
    impl_->stream.expires_after(std::chrono::seconds(10));
    auto [ec] = co_await impl_->stream.async_connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), impl_->port), use_nothrow_awaitable);
    co_return ec;
}

asio::awaitable<error_code> raw_connection::write(std::string bytes)
{
    co_return co_await write_borrowed(bytes);
}

asio::awaitable<error_code> raw_connection::write_borrowed(std::string_view bytes)
{
    impl_->stream.expires_after(std::chrono::seconds(10));
    auto [ec, n] = co_await asio::async_write(impl_->stream, asio::buffer(bytes), use_nothrow_awaitable);
    co_return ec;
}

asio::awaitable<error_code> raw_connection::read_response(raw_response& out, bool head_request)
{
    http::response_parser<http::string_body> parser;
    parser.body_limit(16 * 1024 * 1024);
    parser.skip(head_request);
    impl_->stream.expires_after(std::chrono::seconds(10));
    auto [ec, n] = co_await http::async_read(impl_->stream, impl_->buffer, parser, use_nothrow_awaitable);
    if (ec) co_return ec;
    auto& res = parser.get();
    out.status = res.result_int();
    out.body = res.body();
    out.headers = header_map(res);
    co_return error_code{};
}

asio::awaitable<error_code> raw_connection::wait_closed(std::chrono::milliseconds limit, std::size_t* received)
{
    std::size_t total = impl_->buffer.size();
    impl_->buffer.clear();
    impl_->stream.expires_after(limit);
    char scratch[4096];
    error_code result;
    for (;;)
    {
        auto [ec, n] = co_await impl_->stream.async_read_some(asio::buffer(scratch), use_nothrow_awaitable);
        total += n;
        if (ec)
        {
            result = ec == beast::error::timeout ? error_code(asio::error::timed_out) : ec;
            break;
        }
    }
    if (received) *received = total;
    co_return result;
}

bool raw_connection::is_open() const { return impl_ && impl_->stream.socket().is_open(); }

void raw_connection::close()
{
    beast::error_code ec;
    impl_->stream.socket().close(ec);
}

// ---- callback_receiver -------------------------------------------------------------------------

struct callback_receiver::impl : std::enable_shared_from_this<callback_receiver::impl>
{
    explicit impl(asio::any_io_executor e) : ex(e), acceptor(e), signal(e) {}
    asio::any_io_executor ex;
    tcp::acceptor acceptor;
    std::optional<ssl::context> ctx;
    std::deque<received_callback> queue;
    std::size_t total = 0;
    asio::steady_timer signal;  // wakes next() and wait_hanging()
    unsigned status = 200;
    bool hang = false;
    std::size_t hanging = 0;
    bool stopped = false;
    std::list<std::function<void()>> closers;

    void wake()
    {
        signal.cancel();
    }

    asio::awaitable<void> accept_loop()
    {
        auto self = shared_from_this();
        while (!stopped)
        {
            auto [ec, sock] = co_await acceptor.async_accept(use_nothrow_awaitable);
            if (ec || stopped) co_return;
            if (ctx)
            {
                auto s = std::make_shared<beast::ssl_stream<beast::tcp_stream>>(beast::tcp_stream(std::move(sock)), *ctx);
                asio::co_spawn(ex, serve(self, s), asio::detached);
            }
            else
            {
                auto s = std::make_shared<beast::tcp_stream>(std::move(sock));
                asio::co_spawn(ex, serve(self, s), asio::detached);
            }
        }
    }

    template <class Stream>
    static asio::awaitable<void> serve(std::shared_ptr<impl> self, std::shared_ptr<Stream> s)
    {
        auto timer = std::make_shared<asio::steady_timer>(self->ex);
        auto it = self->closers.insert(self->closers.end(), [s, timer] {
            beast::error_code ec;
            beast::get_lowest_layer(*s).socket().close(ec);
            timer->cancel();
        });
        struct erase_on_exit
        {
            std::shared_ptr<impl> self;
            std::list<std::function<void()>>::iterator it;
            ~erase_on_exit() { self->closers.erase(it); }
        } guard{self, it};
        beast::get_lowest_layer(*s).expires_after(std::chrono::seconds(20));
        if constexpr (!std::is_same_v<Stream, beast::tcp_stream>)
        {
            auto [hec] = co_await s->async_handshake(ssl::stream_base::server, use_nothrow_awaitable);
            if (hec) co_return;
        }
        beast::flat_buffer buffer;
        for (;;)
        {
            http::request<http::string_body> req;
            beast::get_lowest_layer(*s).expires_after(std::chrono::seconds(20));
            auto [ec, n] = co_await http::async_read(*s, buffer, req, use_nothrow_awaitable);
            if (ec || self->stopped) co_return;
            self->queue.push_back(received_callback{std::string(req.target()), req.body(), header_map(req)});
            ++self->total;
            if (self->hang)
            {
                ++self->hanging;
                self->wake();
                beast::get_lowest_layer(*s).expires_never();
                timer->expires_at(asio::steady_timer::time_point::max());
                co_await timer->async_wait(use_nothrow_awaitable);
                --self->hanging;
                co_return;
            }
            self->wake();
            http::response<http::string_body> res{static_cast<http::status>(self->status), req.version()};
            res.set(http::field::content_type, "application/json");
            res.body() = R"({"ok":true})";
            res.keep_alive(req.keep_alive());
            res.prepare_payload();
            auto [wec, wn] = co_await http::async_write(*s, res, use_nothrow_awaitable);
            if (wec || !res.keep_alive()) co_return;
        }
    }
};

callback_receiver::callback_receiver(asio::any_io_executor ex, std::optional<tls_files> tls)
    : impl_(std::make_shared<impl>(ex))
{
    if (tls)
    {
        impl_->ctx.emplace(ssl::context::tls_server);
        impl_->ctx->use_certificate_chain(asio::buffer(tls->cert_pem));
        impl_->ctx->use_private_key(asio::buffer(tls->key_pem), ssl::context::pem);
    }
    const tcp::endpoint ep(asio::ip::make_address("127.0.0.1"), 0);
    impl_->acceptor.open(ep.protocol());
    impl_->acceptor.set_option(asio::socket_base::reuse_address(true));
    impl_->acceptor.bind(ep);
    impl_->acceptor.listen();
    asio::co_spawn(ex, impl_->accept_loop(), asio::detached);
}

callback_receiver::~callback_receiver() { stop(); }

std::uint16_t callback_receiver::port() const { return impl_->acceptor.local_endpoint().port(); }

std::string callback_receiver::url(const std::string& path) const
{
    return std::string(impl_->ctx ? "https" : "http") + "://127.0.0.1:" + std::to_string(port()) + path;
}

asio::awaitable<received_callback> callback_receiver::next()
{
    auto self = impl_;
    while (self->queue.empty())
    {
        if (self->stopped) throw std::runtime_error("callback receiver stopped");
        self->signal.expires_at(asio::steady_timer::time_point::max());
        co_await self->signal.async_wait(use_nothrow_awaitable);
    }
    auto cb = std::move(self->queue.front());
    self->queue.pop_front();
    co_return cb;
}

std::size_t callback_receiver::received() const { return impl_->total; }
void callback_receiver::set_status(unsigned status) { impl_->status = status; }
void callback_receiver::set_hang(bool hang) { impl_->hang = hang; }
std::size_t callback_receiver::hanging() const { return impl_->hanging; }

asio::awaitable<void> callback_receiver::wait_hanging(std::size_t n)
{
    auto self = impl_;
    while (self->hanging < n)
    {
        if (self->stopped) throw std::runtime_error("callback receiver stopped");
        self->signal.expires_at(asio::steady_timer::time_point::max());
        co_await self->signal.async_wait(use_nothrow_awaitable);
    }
}

void callback_receiver::stop()
{
    if (impl_->stopped) return;
    impl_->stopped = true;
    beast::error_code ec;
    impl_->acceptor.close(ec);
    auto closers = impl_->closers;  // copy: closing erases entries later
    for (auto& c : closers) c();
    impl_->wake();
}

}  // namespace kiemidi::test
