/// @file
/// Options of kiemidi::client: where KIE is, which key to use, and how to talk to it.
/// A real base URL and API key talk to the real service; the emulator's base URL and key talk to
/// the embedded emulator. Nothing else changes.
#ifndef KIEMIDI_CLIENT_OPTIONS_HPP
#define KIEMIDI_CLIENT_OPTIONS_HPP

#include <kiemidi/config.hpp>
#include <kiemidi/transport_options.hpp>

#include <memory>
#include <optional>
#include <string>

namespace kiemidi {

namespace metrics {
struct registry;
class observer;
}  // namespace metrics

/// How a kiemidi::client reaches KIE: base URL and API key, the transport and its limits,
/// where KIE sends callbacks without a listener, and the metrics and tracing hooks.
struct client_options
{
    /// KIE's base URL. https:// in production; http:// is accepted only for loopback hosts
    /// unless transport.allow_plain_http_to_non_loopback is set.
    std::string base_url = "https://api.kie.ai";

    /// The KIE API key. Sent only in the Authorization header; never logged or put in diagnostics.
    std::string api_key;

    /// Pool, TLS, timeouts, retry and rate limiting. Its base_url and bearer_token are taken
    /// from the two fields above; an empty `classify` gets KIE's classifier (which reads the body `code`).
    transport_options transport;

    /// The callBackUrl sent when no listener is attached (KIE requires one). The .invalid domain
    /// never resolves, so KIE's attempt to call it is harmless; waits then poll record-info.
    std::string polling_callback_url = "https://callback.invalid/kiemidi-polling";

    /// Where the client counts (kiemidi/metrics.hpp). Null: the client keeps its own. Several
    /// clients may share one registry; it must then outlive none of them (shared ownership).
    std::shared_ptr<metrics::registry> metrics;

    /// Tracing hooks (kiemidi/metrics.hpp), called inline on each operation's executor; null: none.
    std::shared_ptr<metrics::observer> observer;

    /// Reads KIE_BASE_URL and KIE_API_KEY from the environment. Returns nullopt when
    /// KIE_API_KEY is not set (the caller then decides, e.g. to use the embedded emulator).
    KIEMIDI_DECL static std::optional<client_options> from_environment();
};

}  // namespace kiemidi

#endif
