// The emulator's own counters (GET /emulator/counters): requests by endpoint, connections
// accepted, callbacks sent and duplicate paid submissions, read before and after a scenario.
#ifndef KIEMIDI_BENCHMARKS_LOAD_EMULATOR_COUNTERS_HPP
#define KIEMIDI_BENCHMARKS_LOAD_EMULATOR_COUNTERS_HPP

#include <kiemidi/client.hpp>
#include <kiemidi/http_client.hpp>

#include <boost/asio/awaitable.hpp>

#include <cstdint>
#include <map>
#include <optional>
#include <string>

namespace kiemidi::bench {

struct emulator_counters
{
    std::map<std::string, std::uint64_t> requests;
    std::uint64_t tcp = 0, tls = 0, callbacks_sent = 0, duplicate_paid = 0;
};

/// The counters now; nullopt when the emulator does not answer or the answer is not its counters.
boost::asio::awaitable<std::optional<emulator_counters>> fetch_counters(kiemidi::http_client& http);

/// A transport of its own for the emulator's counters, to the client's base URL with its TLS
/// settings: the client's pool serves only KIE requests.
kiemidi::transport_options counters_transport(const kiemidi::client_options& co);

}  // namespace kiemidi::bench

#endif
