// The callback_hub interface's defaults: hubs that cannot look up references say so; hubs that
// run nothing of their own stop as they close.
#include <kiemidi/callback_hub.hpp>

#include <boost/asio/append.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/post.hpp>

namespace asio = boost::asio;

namespace kiemidi {

void callback_hub::start_wait_reference(std::string, asio::any_completion_handler<wait_signature> handler)
{
    // Posted, never inline, like every hub completion.
    auto ex = get_executor();
    asio::post(ex, asio::append(std::move(handler), error_code(asio::error::operation_not_supported), callback_message{}));
}

void callback_hub::start_stop(asio::any_completion_handler<void(error_code)> handler)
{
    close();
    // Posted, never inline, like every hub completion.
    auto ex = get_executor();
    asio::post(ex, asio::append(std::move(handler), error_code{}));
}

}  // namespace kiemidi
