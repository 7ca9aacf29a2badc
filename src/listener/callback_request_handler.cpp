// The listener's request cycle over bytes already received; see callback_request_handler.hpp.
#include "callback_request_handler.hpp"

#include "callback_admission.hpp"

#include <boost/asio/buffer.hpp>
#include <boost/asio/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/system/system_error.hpp>

namespace asio = boost::asio;

namespace kiemidi {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;

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
    callback_admission admission;
    state(listener_options o, callback_hub& h) : admission(std::move(o), h) {}
};

detail::callback_request_handler::callback_request_handler(asio::any_io_executor, listener_options opts,
                                                           callback_hub& hub)
    : state_(std::make_unique<state>(std::move(opts), hub))
{
}

detail::callback_request_handler::~callback_request_handler() = default;

std::vector<detail::listener_reply> detail::callback_request_handler::handle(std::string_view bytes)
{
    received_bytes stream(bytes);
    beast::flat_buffer buffer;
    request_cycle cycle(state_->admission);
    std::vector<listener_reply> out;
    for (;;)
    {
        if (buffer.size() == 0)
        {
            error_code ec;
            const auto n = stream.read_some(buffer.prepare(8 * 1024), ec);
            if (ec) break;
            buffer.commit(n);
        }

        // The same steps as the listener's connection coroutine, with blocking reads over the
        // bytes and every write recorded instead of sent.
        auto& parser = cycle.begin();
        error_code hec;
        http::read_header(stream, buffer, parser, hec);
        auto step = cycle.after_header(hec);
        if (step.read_body)
        {
            if (step.send_continue) out.push_back({100, {}, true});
            error_code bec;
            http::read(stream, buffer, parser, bec);
            step = cycle.after_body(bec);
        }
        if (!step.answer) break;
        const bool keep_alive = step.answer->keep_alive;
        out.push_back({static_cast<unsigned>(step.answer->status), std::move(step.answer->body), keep_alive});
        if (!keep_alive) break;
    }
    return out;
}

std::string detail::callback_request_handler::callback_target(callback_kind kind) const
{
    return state_->admission.callback_target(kind);
}

listener_stats detail::callback_request_handler::stats() const { return state_->admission.snapshot(); }

}  // namespace kiemidi
