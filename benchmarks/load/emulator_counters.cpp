#include "emulator_counters.hpp"

#include <kiemidi/nothrow_awaitable.hpp>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

namespace asio = boost::asio;

namespace kiemidi::bench {

asio::awaitable<std::optional<emulator_counters>> fetch_counters(kiemidi::http_client& http)
{
    kiemidi::http_request req;
    req.target = "/emulator/counters";
    kiemidi::diagnostics diag;
    auto [ec, res] = co_await http.async_execute(std::move(req), diag, use_nothrow_awaitable);
    if (ec || res.status != 200) co_return std::nullopt;
    boost::system::error_code jec;
    auto v = boost::json::parse(res.body, jec);
    if (jec || !v.is_object() || !v.as_object().contains("requests")) co_return std::nullopt;
    emulator_counters c;
    for (auto& [k, n] : v.at("requests").as_object()) c.requests[std::string(k)] = n.to_number<std::uint64_t>();
    c.tcp = v.at("tcp_connections_accepted").to_number<std::uint64_t>();
    c.tls = v.at("tls_connections_accepted").to_number<std::uint64_t>();
    c.callbacks_sent = v.at("callbacks_sent").to_number<std::uint64_t>();
    c.duplicate_paid = v.at("duplicate_paid_submissions").to_number<std::uint64_t>();
    co_return c;
}

kiemidi::transport_options counters_transport(const kiemidi::client_options& co)
{
    kiemidi::transport_options t = co.transport;
    t.base_url = co.base_url;
    t.bearer_token = co.api_key;
    t.pool_size = 1;
    t.proxy.use_environment = false;  // the counters are not what is measured: always direct
    t.proxy.url.clear();
    return t;
}

}  // namespace kiemidi::bench
