// The typed KIE exchanges as plain awaitables, for the pipeline inside the library.
//
// client::async_* wrap these in a type-erased handler, a strand and a spawned coroutine so any
// completion token works. The pipeline already runs inside such a coroutine on its own strand,
// so it awaits these directly: that saves, per step, a handler allocation, a strand and a
// spawned coroutine (with its frames) for as long as the request is queued or in flight.
#ifndef KIEMIDI_SRC_CLIENT_OPERATIONS_HPP
#define KIEMIDI_SRC_CLIENT_OPERATIONS_HPP

#include <kiemidi/api.hpp>
#include <kiemidi/client.hpp>
#include <kiemidi/diagnostics.hpp>
#include <kiemidi/error.hpp>
#include <kiemidi/http_client.hpp>

#include <boost/asio/awaitable.hpp>

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <tuple>

namespace kiemidi::detail {

class kie_health;

template <class R>
using op_result = boost::asio::awaitable<std::tuple<error_code, R>>;

/// Awaited when the transport admits a paid POST, before it is written (http_request::before_first_write).
using before_write_step = std::function<boost::asio::awaitable<error_code>()>;

/// POST /api/v1/vocal-removal/generate with `req` as given (callback URL included).
op_result<api::task_created> submit_separation(client& c, const api::separation_request& req, diagnostics& diag,
                                               before_write_step admitted = {});
/// POST /api/v1/midi/generate with `req` as given.
op_result<api::task_created> submit_midi(client& c, const api::midi_request& req, diagnostics& diag,
                                         before_write_step admitted = {});
/// GET /api/v1/vocal-removal/record-info.
op_result<api::separation_record> get_separation(client& c, std::string_view task_id, diagnostics& diag);
/// GET /api/v1/midi/record-info.
op_result<api::midi_record> get_midi(client& c, std::string_view task_id, diagnostics& diag);

/// What these need of a client beyond its public interface.
struct client_access
{
    static const std::string& api_key(const client& c) noexcept { return c.api_key_; }
    static http_client& transport(client& c) noexcept { return *c.http_; }
    /// Shared, for what may outlive the client (a coroutine frame destroyed with its io_context).
    static std::shared_ptr<metrics::registry> metrics(const client& c) noexcept { return c.metrics_; }
    static std::shared_ptr<metrics::observer> observer(const client& c) noexcept { return c.observer_; }
    static kie_health& health(client& c) noexcept { return *c.health_; }
    /// The client's pending operations: a batch run counts itself there, so client::async_shutdown
    /// stops it and waits for it.
    static client_life& life(client& c) noexcept { return *c.life_; }
};

}  // namespace kiemidi::detail

#endif
