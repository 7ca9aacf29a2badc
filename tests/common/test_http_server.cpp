// Scriptable HTTP/HTTPS test server and run-time PKI (see test_http_server.hpp).
#include "common/test_http_server.hpp"

// White-box: the library's generator of throwaway TLS identities.
#include "crypto/certificates.hpp"
#include "nothrow_awaitable.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include <algorithm>
#include <cctype>
#include <deque>
#include <list>
#include <stdexcept>

namespace asio = boost::asio;

namespace kiemidi::test {

namespace beast = boost::beast;
namespace http = boost::beast::http;
namespace ssl = boost::asio::ssl;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;

// ---- PKI ----
// The emulator's certificate generator (src/crypto/certificates.hpp): one copy for every test.

test_pki make_test_pki(const std::vector<std::string>& dns_names, const std::vector<std::string>& ip_addresses)
{
    std::vector<std::string> hosts(dns_names);
    hosts.insert(hosts.end(), ip_addresses.begin(), ip_addresses.end());
    auto pki = kiemidi::detail::make_ca_signed_pki(hosts, "kiemidi test");
    return test_pki{std::move(pki.ca_cert_pem), std::move(pki.cert_pem), std::move(pki.key_pem)};
}

test_pki make_self_signed_pki(const std::vector<std::string>& dns_names, const std::vector<std::string>& ip_addresses)
{
    std::vector<std::string> hosts(dns_names);
    hosts.insert(hosts.end(), ip_addresses.begin(), ip_addresses.end());
    auto pki = kiemidi::detail::make_self_signed_pki(hosts, "kiemidi test");
    return test_pki{std::move(pki.ca_cert_pem), std::move(pki.cert_pem), std::move(pki.key_pem)};
}

// ---- server ----

// In kiemidi::test, not file-local: test_http_server::impl, a class its header declares, holds these.
struct test_http_session
{
    explicit test_http_session(tcp::socket s) : socket(std::move(s)), timer(socket.get_executor()) {}
    tcp::socket socket;
    asio::steady_timer timer;
};

struct test_http_server::impl : std::enable_shared_from_this<impl>
{
    impl(asio::any_io_executor ex, test_server_options opts) : ex_(ex), opts_(std::move(opts)), acceptor_(ex)
    {
        if (opts_.tls)
        {
            ctx_.emplace(ssl::context::tls_server);
            ctx_->use_certificate_chain(asio::buffer(opts_.cert_pem));
            ctx_->use_private_key(asio::buffer(opts_.key_pem), ssl::context::pem);
        }
    }

    void notify()
    {
        for (auto* t : waiters_) t->cancel();
    }

    scripted_response next()
    {
        if (script_.empty()) return default_;
        auto r = std::move(script_.front());
        script_.pop_front();
        return r;
    }

    asio::awaitable<void> accept_loop()
    {
        auto self = shared_from_this();
        for (;;)
        {
            auto [ec, sock] = co_await acceptor_.async_accept(use_nothrow_awaitable);
            if (ec || stopped_) co_return;
            ++accepted_;
            ++current_;
            max_current_ = std::max(max_current_, current_);
            auto st = std::make_shared<test_http_session>(std::move(sock));
            sessions_.push_back(st);
            notify();
            // the completion handler keeps both alive for as long as the session runs
            asio::co_spawn(ex_, session(self.get(), st.get()), [self, st](std::exception_ptr) {});
        }
    }

    static asio::awaitable<void> session(impl* self, test_http_session* st)
    {
        if (self->opts_.stall)
        {
            st->timer.expires_at(asio::steady_timer::time_point::max());
            co_await st->timer.async_wait(use_nothrow_awaitable);
        }
        else if (self->ctx_)
        {
            ssl::stream<tcp::socket&> stream(st->socket, *self->ctx_);
            auto [ec] = co_await stream.async_handshake(ssl::stream_base::server, use_nothrow_awaitable);
            if (ec)
                ++self->failed_tls_;
            else
            {
                ++self->tls_ok_;
                self->notify();
                co_await serve(*self, *st, stream);
            }
        }
        else
            co_await serve(*self, *st, st->socket);
        error_code ignored;
        st->socket.shutdown(tcp::socket::shutdown_both, ignored);
        st->socket.close(ignored);
        --self->current_;
        ++self->closed_;
        self->sessions_.remove_if([&](const std::weak_ptr<test_http_session>& w) { return w.lock().get() == st || w.expired(); });
        self->notify();
    }

    template <class Stream>
    static asio::awaitable<void> serve(impl& self, test_http_session& st, Stream& stream)
    {
        beast::flat_buffer buffer;
        for (;;)
        {
            if (self.stopped_) co_return;
            if (!self.script_.empty() && self.script_.front().action == server_action::close_before_reading)
            {
                self.script_.pop_front();
                co_return;
            }
            http::request<http::string_body> req;
            auto [ec, n] = co_await http::async_read(stream, buffer, req, use_nothrow_awaitable);
            if (ec) co_return;
            recorded_request rec;
            rec.method = std::string(req.method_string());
            rec.target = std::string(req.target());
            rec.body = req.body();
            for (const auto& f : req)
            {
                std::string name(f.name_string());
                std::transform(name.begin(), name.end(), name.begin(),
                               [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
                rec.headers[name] = std::string(f.value());
            }
            self.requests_.push_back(std::move(rec));
            self.notify();
            auto script = self.next();
            if (script.action == server_action::close_after_reading_request) co_return;
            if (script.delay.count() > 0)
            {
                st.timer.expires_after(script.delay);
                auto [tec] = co_await st.timer.async_wait(use_nothrow_awaitable);
                if (tec || self.stopped_) co_return;
            }
            http::response<http::string_body> res{static_cast<http::status>(script.status), 11};
            res.set(http::field::server, "kiemidi-test");
            res.set(http::field::content_type, "application/json");
            if (script.retry_after) res.set(http::field::retry_after, *script.retry_after);
            res.body() = script.body;
            res.keep_alive(script.keep_alive && req.keep_alive());
            res.prepare_payload();
            auto [wec, wn] = co_await http::async_write(stream, res, use_nothrow_awaitable);
            if (wec || !res.keep_alive() || script.close_after_answer) co_return;
        }
    }

    asio::any_io_executor ex_;
    test_server_options opts_;
    std::optional<ssl::context> ctx_;
    tcp::acceptor acceptor_;
    std::list<asio::steady_timer*> waiters_;  // wait_until timers, cancelled on every event
    std::deque<scripted_response> script_;
    scripted_response default_;
    std::list<std::weak_ptr<test_http_session>> sessions_;
    std::vector<recorded_request> requests_;
    std::size_t accepted_ = 0, closed_ = 0, current_ = 0, max_current_ = 0, tls_ok_ = 0, failed_tls_ = 0;
    bool stopped_ = false;
    std::uint16_t port_ = 0;
};

test_http_server::test_http_server(asio::any_io_executor ex, test_server_options opts)
    : impl_(std::make_shared<impl>(ex, std::move(opts)))
{
}

test_http_server::~test_http_server() { stop(); }

void test_http_server::start()
{
    tcp::endpoint ep(asio::ip::make_address("127.0.0.1"), 0);
    impl_->acceptor_.open(ep.protocol());
    impl_->acceptor_.set_option(tcp::acceptor::reuse_address(true));
    impl_->acceptor_.bind(ep);
    impl_->acceptor_.listen();
    impl_->port_ = impl_->acceptor_.local_endpoint().port();
    asio::co_spawn(impl_->ex_, impl_->accept_loop(), asio::detached);
}

void test_http_server::stop()
{
    if (impl_->stopped_) return;
    impl_->stopped_ = true;
    error_code ignored;
    impl_->acceptor_.close(ignored);
    for (auto& w : impl_->sessions_)
        if (auto st = w.lock())
        {
            st->timer.cancel();
            st->socket.shutdown(tcp::socket::shutdown_both, ignored);
            st->socket.close(ignored);
        }
    impl_->notify();
}

std::uint16_t test_http_server::port() const { return impl_->port_; }

std::string test_http_server::base_url() const
{
    return std::string(impl_->opts_.tls ? "https" : "http") + "://127.0.0.1:" + std::to_string(impl_->port_);
}

void test_http_server::push(scripted_response r) { impl_->script_.push_back(std::move(r)); }
void test_http_server::set_default(scripted_response r) { impl_->default_ = std::move(r); }
std::size_t test_http_server::connections_accepted() const { return impl_->accepted_; }
std::size_t test_http_server::connections_closed() const { return impl_->closed_; }
std::size_t test_http_server::tls_handshakes() const { return impl_->tls_ok_; }
std::size_t test_http_server::failed_tls_handshakes() const { return impl_->failed_tls_; }
std::size_t test_http_server::requests_received() const { return impl_->requests_.size(); }
std::size_t test_http_server::max_concurrent_connections() const { return impl_->max_current_; }
std::vector<recorded_request> test_http_server::requests() const { return impl_->requests_; }

asio::awaitable<void> test_http_server::wait_until(const std::function<bool()>& pred)
{
    auto self = impl_;
    asio::steady_timer timer(self->ex_);
    while (!pred())
    {
        // Every server event cancels this timer; the hour is only a backstop (run_bounded ends tests sooner).
        timer.expires_after(std::chrono::hours(1));
        self->waiters_.push_back(&timer);
        co_await timer.async_wait(use_nothrow_awaitable);
        self->waiters_.remove(&timer);
    }
}

}  // namespace kiemidi::test
