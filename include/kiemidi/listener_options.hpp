/// @file
/// kiemidi callback listener settings.
///
/// Where the listener binds, the public URL KIE is told to call, TLS material, webhook signature
/// verification, and the size and time limits that keep a public endpoint safe from slow or
/// oversized requests. Every field has a safe default; an empty path_secret gets a random one.
#ifndef KIEMIDI_LISTENER_OPTIONS_HPP
#define KIEMIDI_LISTENER_OPTIONS_HPP

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

namespace kiemidi {

/// How and where the callback listener accepts KIE's callbacks.
struct listener_options
{
    /// Numeric IPv4 or IPv6 address to bind ("0.0.0.0" to accept from outside).
    std::string bind_address = "127.0.0.1";
    /// TCP port; 0 picks a free one (read it back with callback_listener::port()).
    std::uint16_t port = 0;
    /// Base URL KIE can reach (e.g. "https://hooks.example.com"); empty → http(s)://bind_address:port.
    std::string public_base_url;
    /// Server certificate chain: PEM text, or a path to a PEM file. Set with the key to serve HTTPS.
    std::string tls_certificate_pem;
    /// Server private key: PEM text, or a path to a PEM file.
    std::string tls_private_key_pem;
    /// KIE's webhookHmacKey; empty → no signature check (the secret path still guards the endpoint).
    std::string webhook_hmac_key;
    /// A signed callback's X-Webhook-Timestamp must be within ± this of the local clock.
    std::chrono::seconds freshness_window{300};
    /// Largest accepted body (a MIDI callback with 20,000 notes is about 1.5 MB); larger → 413.
    /// A connection buffers at most this much, so it also bounds memory per connection.
    std::size_t max_body = 8u * 1024u * 1024u;
    /// Time allowed for a TLS handshake and for a request's headers, from its first byte.
    std::chrono::milliseconds header_timeout{10000};
    /// Time allowed for a request's body once its headers are read (also bounds writing the answer).
    std::chrono::milliseconds body_timeout{30000};
    /// A keep-alive connection with no new request for this long is closed.
    std::chrono::milliseconds idle_timeout{60000};
    /// How long callback_listener::async_stop lets requests already being read finish before it
    /// closes what is left (cancelling the stop closes it at once).
    std::chrono::milliseconds stop_grace{10000};
    /// Connections served at once; beyond it an idle one is closed for the newcomer, else the newcomer.
    std::size_t max_connections = 10000;
    /// URL path secret; empty → 32 random bytes (OpenSSL RAND_bytes) as 64 hex digits.
    /// If set, it must be 16+ characters of [A-Za-z0-9._~-].
    std::string path_secret;
    /// Optional sink for one-line notices about rejected requests (never bodies or secrets).
    /// Called synchronously from the listener's threads; keep it short and thread-safe.
    std::function<void(std::string_view)> log;
};

}  // namespace kiemidi

#endif
