// The emulator's network side: HTTP and HTTPS listeners (Beast), task timers and the callback
// sender. Every piece of asynchronous work is counted (server_work), so a stop can wind all of it
// down and say when none is left.
//
// One file, past the usual size, on purpose: the emulator's Beast instantiations (HTTP, HTTPS,
// the callback client) stay in one translation unit, and the counting that lets a stop reach
// everything is only checkable when all the asynchronous work is in one place.
#include <kiemidi/emulator/server.hpp>

#include "model.hpp"
#include "../crypto/crypto.hpp"
#include "../nothrow_awaitable.hpp"
#include "../server_work.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/system/system_error.hpp>

#include <functional>
#include <mutex>
#include <unordered_map>

namespace asio = boost::asio;

namespace kiemidi::emulator {

namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;

// Named, not file-local: server::impl, a class the public header declares, keeps these in its
// coroutines' frames.
namespace detail {

/// One accepted connection: its stream and a timer for slowed answers, both closed by a stop.
template <class Stream>
struct emulator_connection
{
    template <class... Args>
    explicit emulator_connection(asio::any_io_executor ex, Args&&... args) : stream(std::forward<Args>(args)...), timer(ex) {}
    Stream stream;
    asio::steady_timer timer;
    bool answering = false;  // on the strand: a request was read and its answer is not written yet
    void close()
    {
        beast::error_code ec;
        timer.cancel();
        beast::get_lowest_layer(stream).socket().close(ec);
    }
    void reset()
    {
        beast::error_code ec;
        auto& s = beast::get_lowest_layer(stream).socket();
        s.set_option(tcp::socket::linger(true, 0), ec);  // RST instead of FIN
        s.close(ec);
    }
};

/// State of one callback sender coroutine: what stop() must close.
struct callback_sender_state
{
    explicit callback_sender_state(asio::any_io_executor ex) : strand(std::move(ex)), timer(strand) {}
    asio::any_io_executor strand;
    asio::steady_timer timer;
    std::optional<beast::tcp_stream> plain;
    std::optional<beast::ssl_stream<beast::tcp_stream>> secure;
    bool cancelled = false;
    void close()
    {
        cancelled = true;
        beast::error_code ec;
        timer.cancel();
        if (plain) plain->socket().close(ec);
        if (secure) beast::get_lowest_layer(*secure).socket().close(ec);
    }
};

}  // namespace detail

using detail::emulator_connection;
using detail::callback_sender_state;

class server::impl : public std::enable_shared_from_this<server::impl>
{
public:
    impl(asio::any_io_executor ex, emulator_options opts)
        : ex_(std::move(ex)), opts_(std::move(opts)), model_(opts_), client_tls_(ssl::context::tls_client)
    {
        if (opts_.enable_https)
        {
            auto id = detail::make_tls_identity(opts_.tls_host_names);
            ca_pem_ = id.ca_cert_pem;
            server_tls_.emplace(ssl::context::tls_server);
            server_tls_->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                                     ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
            server_tls_->use_certificate_chain(asio::buffer(id.server_cert_pem));
            server_tls_->use_private_key(asio::buffer(id.server_key_pem), ssl::context::pem);
        }
        if (opts_.callback_tls_verify)
        {
            client_tls_.set_verify_mode(ssl::verify_peer);
            if (!opts_.callback_ca_pem.empty()) client_tls_.add_certificate_authority(asio::buffer(opts_.callback_ca_pem));
            else client_tls_.set_default_verify_paths();
        }
        else client_tls_.set_verify_mode(ssl::verify_none);  // callbacks go to local test listeners
    }

    void start(error_code& ec)
    {
        if (started_.exchange(true) || work_->stopping())
        {
            ec = asio::error::already_started;
            return;
        }
        http_acc_ = listen(opts_.http_port);
        http_port_ = http_acc_->local_endpoint().port();
        if (server_tls_)
        {
            https_acc_ = listen(opts_.https_port);
            https_port_ = https_acc_->local_endpoint().port();
        }
        model_.set_file_base(opts_.file_base_url.empty() ? base_url("http", http_port_) + "/files/" : opts_.file_base_url);
        accept_on(http_acc_, false);
        if (https_acc_) accept_on(https_acc_, true);
    }

    // Everything at once (stop(), the destructor, or a graceful stop cut).
    void stop_now()
    {
        stopped_ = true;
        {
            std::lock_guard lk(held_m_);
            held_.reset();
        }
        work_->stop_now();
    }

    std::string base_url(const char* scheme, std::uint16_t port) const
    {
        auto host = opts_.address.find(':') != std::string::npos ? "[" + opts_.address + "]" : opts_.address;
        return std::string(scheme) + "://" + host + ":" + std::to_string(port);
    }

    counters snapshot() const
    {
        auto c = model_.snapshot();
        c.active_operations = work_->running();
        return c;
    }

    asio::any_io_executor ex_;
    emulator_options opts_;
    detail::model model_;
    std::optional<ssl::context> server_tls_;
    ssl::context client_tls_;
    std::string ca_pem_;
    std::shared_ptr<tcp::acceptor> http_acc_, https_acc_;
    std::atomic<std::uint16_t> http_port_{0}, https_port_{0};
    std::atomic<bool> started_{false};
    // Set when the work is cut at once: every coroutine ends at its next step.
    std::atomic<bool> stopped_{false};
    // Every piece of asynchronous work (accept loops, connections, task timers, callback senders),
    // so async_stop completes only once none is left.
    std::shared_ptr<kiemidi::detail::server_work> work_ = std::make_shared<kiemidi::detail::server_work>(ex_);

    // A callback held back by the reorder fault, released after the next one.
    std::mutex held_m_;
    std::optional<detail::callback_job> held_;
    std::uint64_t held_seq_ = 0;

private:
    std::shared_ptr<tcp::acceptor> listen(std::uint16_t port)
    {
        auto acc = std::make_shared<tcp::acceptor>(asio::make_strand(ex_));
        tcp::endpoint ep(asio::ip::make_address(opts_.address), port);
        acc->open(ep.protocol());
        acc->set_option(asio::socket_base::reuse_address(true));
        acc->bind(ep);
        acc->listen(asio::socket_base::max_listen_connections);
        return acc;
    }

    /// Spawns counted work; it is not started at all once a stop began. `wind_down(at_once)` ends
    /// it (see server_work); at once also makes every coroutine end at its next step.
    void spawn(const asio::any_io_executor& ex, asio::awaitable<void> work, std::function<void(bool)> wind_down)
    {
        std::weak_ptr<impl> weak = shared_from_this();
        auto ticket = work_->enter([weak, wind_down = std::move(wind_down)](bool at_once) {
            if (auto self = weak.lock(); self && at_once) self->stopped_ = true;
            wind_down(at_once);
        });
        if (!ticket) return;
        asio::co_spawn(ex, std::move(work), [t = std::move(ticket)](std::exception_ptr) mutable { t.release(); });
    }

    void accept_on(std::shared_ptr<tcp::acceptor> acc, bool tls)
    {
        auto ex = acc->get_executor();
        std::weak_ptr<tcp::acceptor> weak = acc;
        spawn(ex, accept_loop(shared_from_this(), acc, tls), [ex, weak](bool) {
            asio::post(ex, [weak] {
                if (auto a = weak.lock())
                {
                    beast::error_code ec;
                    a->close(ec);
                }
            });
        });
    }

    static asio::awaitable<void> accept_loop(std::shared_ptr<impl> self, std::shared_ptr<tcp::acceptor> acc, bool tls)
    {
        while (!self->stopped_)
        {
            auto [ec, sock] = co_await acc->async_accept(asio::make_strand(self->ex_), use_nothrow_awaitable);
            if (self->stopped_ || !acc->is_open()) co_return;
            if (ec)
            {
                // e.g. out of file descriptors: back off briefly instead of spinning
                asio::steady_timer t(acc->get_executor(), std::chrono::milliseconds(20));
                co_await t.async_wait(use_nothrow_awaitable);
                continue;
            }
            if (self->model_.refuses_connection())
            {
                // An outage at the front door: reset (RST, no FIN) before reading anything.
                boost::system::error_code ignored;
                sock.set_option(tcp::socket::linger(true, 0), ignored);
                sock.close(ignored);
                continue;
            }
            if (tls)
            {
                ++self->model_.counters_().tls_accepted;
                auto ex = sock.get_executor();
                auto c = std::make_shared<emulator_connection<beast::ssl_stream<beast::tcp_stream>>>(ex, beast::tcp_stream(std::move(sock)),
                                                                                          *self->server_tls_);
                self->start_session(ex, c, true);
            }
            else
            {
                ++self->model_.counters_().tcp_accepted;
                auto ex = sock.get_executor();
                auto c = std::make_shared<emulator_connection<beast::tcp_stream>>(ex, std::move(sock));
                self->start_session(ex, c, false);
            }
        }
    }

    template <class Stream>
    void start_session(const asio::any_io_executor& ex, std::shared_ptr<emulator_connection<Stream>> c, bool tls)
    {
        std::weak_ptr<emulator_connection<Stream>> weak = c;
        // Gently: a connection waiting for a request closes now; one preparing an answer writes
        // it and then closes (serve() checks for a stop after each answer).
        spawn(ex, serve(shared_from_this(), c, tls), [ex, weak](bool at_once) {
            asio::post(ex, [weak, at_once] {
                if (auto p = weak.lock(); p && (at_once || !p->answering)) p->close();
            });
        });
    }

    template <class Stream>
    static asio::awaitable<void> serve(std::shared_ptr<impl> self, std::shared_ptr<emulator_connection<Stream>> c, bool tls)
    {
        auto& st = self->model_.counters_();
        ++st.open_connections;
        struct closer { std::atomic<std::uint64_t>& n; ~closer() { --n; } } on_exit{st.open_connections};
        auto& lowest = beast::get_lowest_layer(c->stream);
        if constexpr (!std::is_same_v<Stream, beast::tcp_stream>)
        {
            lowest.expires_after(std::chrono::seconds(10));
            auto [ec] = co_await c->stream.async_handshake(ssl::stream_base::server, use_nothrow_awaitable);
            if (ec)
            {
                ++st.tls_handshake_failures;
                co_return;
            }
        }
        (void)tls;
        beast::flat_buffer buffer;
        for (;;)
        {
            if (self->stopped_) co_return;
            http::request_parser<http::string_body> parser;
            parser.body_limit(self->opts_.max_request_body);
            lowest.expires_after(self->opts_.idle_timeout);
            auto [ec, n] = co_await http::async_read(c->stream, buffer, parser, use_nothrow_awaitable);
            if (ec == http::error::body_limit)
            {
                http::response<http::string_body> res{http::status::payload_too_large, 11};
                res.set(http::field::content_type, "application/json");
                res.body() = R"({"code":413,"msg":"Request body too large","data":null})";
                res.keep_alive(false);
                res.prepare_payload();
                lowest.expires_after(std::chrono::seconds(10));
                co_await http::async_write(c->stream, res, use_nothrow_awaitable);
                st.count_response(413, 413);
                co_return;
            }
            if (ec || self->stopped_) co_return;
            c->answering = true;
            const auto& req = parser.get();
            const auto auth = req[http::field::authorization];
            detail::api_request ar{req.method_string(), req.target(), auth, req.body()};
            auto answer = self->model_.handle(ar);
            if (answer.completion) self->schedule(*answer.completion);
            if (answer.action != detail::answer_action::respond)
            {
                c->reset();
                co_return;
            }
            if (answer.delay.count() > 0)
            {
                if (self->stopped_) co_return;
                c->timer.expires_after(answer.delay);
                co_await c->timer.async_wait(use_nothrow_awaitable);
                if (self->stopped_) co_return;
            }
            http::response<http::string_body> res;
            res.version(req.version());
            res.result(answer.http_status);
            if (answer.http_status == 455) res.reason("Service Maintenance");
            res.set(http::field::server, "kiemidi-emulator");
            res.set(http::field::content_type, answer.content_type);
            if (answer.retry_after_s) res.set(http::field::retry_after, std::to_string(*answer.retry_after_s));
            // Once a stop began this answer is the last on the connection.
            res.keep_alive(req.keep_alive() && !self->work_->stopping());
            res.body() = std::move(answer.body);
            res.prepare_payload();
            lowest.expires_after(std::chrono::seconds(30));
            auto [wec, wn] = co_await http::async_write(c->stream, res, use_nothrow_awaitable);
            c->answering = false;
            if (wec) co_return;
            st.count_response(answer.code, answer.http_status);
            if (answer.after_answer && !self->stopped_)
            {
                ++st.callbacks_duplicated;
                self->dispatch(std::move(*answer.after_answer));
            }
            if (!res.keep_alive())
            {
                beast::error_code ignored;
                lowest.socket().shutdown(tcp::socket::shutdown_send, ignored);
                co_return;
            }
        }
    }

    // ---- task timers ------------------------------------------------------------------------

public:
    void schedule(const detail::scheduled_completion& sc)
    {
        auto strand = asio::make_strand(ex_);
        auto timer = std::make_shared<asio::steady_timer>(strand, sc.delay);
        std::weak_ptr<asio::steady_timer> weak = timer;
        asio::any_io_executor ex = strand;
        // A task not finished yet is not in flight: any stop cancels its timer at once.
        spawn(ex, complete_later(shared_from_this(), timer, sc.kind, sc.task_id), [ex, weak](bool) {
            asio::post(ex, [weak] {
                if (auto t = weak.lock()) t->cancel();
            });
        });
    }

private:
    static asio::awaitable<void> complete_later(std::shared_ptr<impl> self, std::shared_ptr<asio::steady_timer> timer,
                                                detail::task_kind kind, std::string task_id)
    {
        if (self->stopped_) co_return;
        auto [ec] = co_await timer->async_wait(use_nothrow_awaitable);
        if (ec || self->stopped_) co_return;
        if (auto job = self->model_.complete(kind, task_id)) self->dispatch(std::move(*job));
    }

    // ---- callbacks --------------------------------------------------------------------------

    void dispatch(detail::callback_job job)
    {
        std::vector<detail::callback_job> jobs;
        {
            std::lock_guard lk(held_m_);
            if (job.reorder && !held_)
            {
                ++model_.counters_().callbacks_reordered;
                held_ = std::move(job);
                const auto seq = ++held_seq_;
                const auto wait = std::max<std::chrono::milliseconds>(model_.faults().callback_delay, std::chrono::milliseconds(200));
                auto st = std::make_shared<callback_sender_state>(asio::make_strand(ex_));
                spawn_sender(st, release_held_later(shared_from_this(), st, seq, wait));
                return;
            }
            jobs.push_back(std::move(job));
            if (held_)
            {
                jobs.push_back(std::move(*held_));  // the held one arrives after this one
                held_.reset();
            }
        }
        auto st = std::make_shared<callback_sender_state>(asio::make_strand(ex_));
        spawn_sender(st, send_all(shared_from_this(), st, std::move(jobs)));
    }

    void spawn_sender(std::shared_ptr<callback_sender_state> st, asio::awaitable<void> work)
    {
        std::weak_ptr<callback_sender_state> weak = st;
        auto ex = st->strand;
        // A callback being delivered is in flight: a graceful stop lets it finish (retries included,
        // within the grace); only a stop at once closes it.
        spawn(ex, std::move(work), [ex, weak](bool at_once) {
            if (!at_once) return;
            asio::post(ex, [weak] {
                if (auto s = weak.lock()) s->close();
            });
        });
    }

    static asio::awaitable<void> release_held_later(std::shared_ptr<impl> self, std::shared_ptr<callback_sender_state> st,
                                                    std::uint64_t seq, std::chrono::milliseconds wait)
    {
        if (st->cancelled || self->stopped_) co_return;
        st->timer.expires_after(wait);
        co_await st->timer.async_wait(use_nothrow_awaitable);
        if (st->cancelled || self->stopped_) co_return;
        std::vector<detail::callback_job> jobs;
        {
            std::lock_guard lk(self->held_m_);
            if (!self->held_ || self->held_seq_ != seq) co_return;  // released by a later callback already
            jobs.push_back(std::move(*self->held_));
            self->held_.reset();
        }
        co_await send_all(self, st, std::move(jobs));
    }

    static asio::awaitable<void> send_all(std::shared_ptr<impl> self, std::shared_ptr<callback_sender_state> st,
                                          std::vector<detail::callback_job> jobs)
    {
        for (auto& job : jobs)
        {
            if (st->cancelled || self->stopped_) co_return;
            if (job.delay.count() > 0)
            {
                st->timer.expires_after(job.delay);
                co_await st->timer.async_wait(use_nothrow_awaitable);
            }
            if (st->cancelled || self->stopped_) co_return;
            co_await deliver(self, st, job);
            if (job.duplicate)
            {
                ++self->model_.counters_().callbacks_duplicated;
                co_await deliver(self, st, job);
            }
        }
    }

    static asio::awaitable<void> deliver(std::shared_ptr<impl> self, std::shared_ptr<callback_sender_state> st,
                                         const detail::callback_job& job)
    {
        auto& counters = self->model_.counters_();
        bool loopback = false;
        auto url = detail::parse_loopback_url(job.url, loopback);
        if (!url || !loopback) co_return;  // checked by the model already; never leave the machine
        for (unsigned attempt = 0; attempt <= self->opts_.callback_max_retries; ++attempt)
        {
            if (st->cancelled || self->stopped_) co_return;  // a cancel that ran between waits is not lost
            if (attempt > 0)
            {
                st->timer.expires_after(self->opts_.callback_retry_delay);
                co_await st->timer.async_wait(use_nothrow_awaitable);
            }
            if (st->cancelled || self->stopped_) co_return;
            ++counters.callback_attempts;
            if (co_await attempt_once(self, st, *url, job))
            {
                ++counters.callbacks_sent;
                co_return;
            }
        }
        if (!st->cancelled && !self->stopped_) ++counters.callbacks_failed;
    }

    template <class Stream>
    static asio::awaitable<bool> exchange(Stream& stream, const detail::parsed_url& url, const std::string& body,
                                          const std::string& task_id, const std::string& hmac_key)
    {
        http::request<http::string_body> req{http::verb::post, url.target, 11};
        req.set(http::field::host, (url.server_name.empty() ? url.host : url.server_name) + ":" + url.port);
        req.set(http::field::user_agent, "kiemidi-emulator");
        req.set(http::field::content_type, "application/json");
        if (!hmac_key.empty())
        {
            const auto ts = std::to_string(std::chrono::duration_cast<std::chrono::seconds>(
                                               std::chrono::system_clock::now().time_since_epoch()).count());
            req.set("X-Webhook-Timestamp", ts);
            req.set("X-Webhook-Signature", kiemidi::detail::webhook_signature(hmac_key, task_id, ts));
        }
        req.keep_alive(false);
        req.body() = body;
        req.prepare_payload();
        auto [wec, wn] = co_await http::async_write(stream, req, use_nothrow_awaitable);
        if (wec) co_return false;
        beast::flat_buffer buffer;
        http::response_parser<http::string_body> parser;
        parser.body_limit(64 * 1024);
        auto [rec, rn] = co_await http::async_read(stream, buffer, parser, use_nothrow_awaitable);
        if (rec) co_return false;
        const auto status = parser.get().result_int();
        co_return status >= 200 && status < 300;
    }

    static asio::awaitable<bool> attempt_once(std::shared_ptr<impl> self, std::shared_ptr<callback_sender_state> st,
                                              const detail::parsed_url& url, const detail::callback_job& job)
    {
        beast::error_code ec;
        auto address = asio::ip::make_address(url.host, ec);
        if (ec) co_return false;
        unsigned port = 0;
        try { port = static_cast<unsigned>(std::stoul(url.port)); } catch (...) { co_return false; }
        const tcp::endpoint ep(address, static_cast<std::uint16_t>(port));
        bool ok = false;
        if (!url.tls)
        {
            st->plain.emplace(st->strand);
            auto& s = *st->plain;
            s.expires_after(self->opts_.callback_timeout);  // one deadline for the whole attempt
            auto [cec] = co_await s.async_connect(ep, use_nothrow_awaitable);
            if (!cec && !st->cancelled) ok = co_await exchange(s, url, job.body, job.task_id, self->opts_.webhook_hmac_key);
            s.socket().close(ec);
            st->plain.reset();
        }
        else
        {
            st->secure.emplace(beast::tcp_stream(st->strand), self->client_tls_);
            auto& s = *st->secure;
            auto& low = beast::get_lowest_layer(s);
            low.expires_after(self->opts_.callback_timeout);
            if (!url.server_name.empty())
            {
                SSL_set_tlsext_host_name(s.native_handle(), url.server_name.c_str());
                if (self->opts_.callback_tls_verify) s.set_verify_callback(ssl::host_name_verification(url.server_name));
            }
            else if (self->opts_.callback_tls_verify)
                s.set_verify_callback(ssl::host_name_verification(url.host));
            auto [cec] = co_await low.async_connect(ep, use_nothrow_awaitable);
            if (!cec && !st->cancelled)
            {
                auto [hec] = co_await s.async_handshake(ssl::stream_base::client, use_nothrow_awaitable);
                if (!hec && !st->cancelled) ok = co_await exchange(s, url, job.body, job.task_id, self->opts_.webhook_hmac_key);
            }
            low.socket().close(ec);
            st->secure.reset();
        }
        co_return ok;
    }
};

// ---- server -----------------------------------------------------------------------------------

server::server(executor_type ex, emulator_options opts) : impl_(std::make_shared<impl>(std::move(ex), std::move(opts))) {}

server::~server() { impl_->stop_now(); }

void server::start(error_code& ec)
{
    ec.clear();
    try
    {
        impl_->start(ec);
    }
    catch (const boost::system::system_error& e)
    {
        ec = e.code();
    }
}

void server::start()
{
    error_code ec;
    start(ec);
    if (ec) throw boost::system::system_error(ec, "kiemidi::emulator::server::start");
}

void server::stop() { impl_->stop_now(); }

void server::start_stop(asio::any_completion_handler<void(error_code)> handler)
{
    impl_->work_->stop(impl_->opts_.stop_grace, std::move(handler));
}
std::uint16_t server::http_port() const { return impl_->http_port_; }
std::uint16_t server::https_port() const { return impl_->https_port_; }
std::string server::http_base_url() const { return impl_->base_url("http", impl_->http_port_); }
std::string server::https_base_url() const
{
    return impl_->server_tls_ ? impl_->base_url("https", impl_->https_port_) : std::string();
}
std::string server::ca_certificate_pem() const { return impl_->ca_pem_; }
const std::string& server::api_key() const { return impl_->opts_.api_key; }
counters server::snapshot() const { return impl_->snapshot(); }
void server::set_faults(const fault_options& faults) { impl_->model_.set_faults(faults); }
fault_options server::faults() const { return impl_->model_.faults(); }
void server::set_credits(std::int64_t credits) { impl_->model_.set_credits(credits); }
bool server::forget_task(const std::string& task_id) { return impl_->model_.forget_task(task_id); }
std::string server::midi_notes_json(const std::string& midi_task_id) const { return impl_->model_.midi_notes_json(midi_task_id); }
server::executor_type server::get_executor() const { return impl_->ex_; }

// ---- counters helpers ---------------------------------------------------------------------------

std::uint64_t counters::requests_to(std::string_view endpoint_key) const
{
    auto it = requests.find(std::string(endpoint_key));
    return it == requests.end() ? 0 : it->second;
}

std::uint64_t counters::responses_with_code(int code) const
{
    auto it = responses_by_code.find(code);
    return it == responses_by_code.end() ? 0 : it->second;
}

std::uint64_t counters::max_paid_per_key() const
{
    std::uint64_t m = 0;
    for (const auto& [k, n] : separation_submissions) m = std::max(m, n);
    for (const auto& [k, n] : midi_submissions) m = std::max(m, n);
    return m;
}

std::uint64_t counters::duplicate_paid_submissions() const
{
    std::uint64_t d = 0;
    for (const auto& [k, n] : separation_submissions) d += n > 1 ? n - 1 : 0;
    for (const auto& [k, n] : midi_submissions) d += n > 1 ? n - 1 : 0;
    return d;
}

}  // namespace kiemidi::emulator
