/// @file
/// kiemidi transport: TLS settings of an https:// base URL.
///
/// By default the server certificate is verified against the system's trust store, the host
/// name is checked against the certificate and SNI is sent. ca_file / ca_pem replace the system
/// store (private CAs, tests). Verification can only be turned off with a deliberately loud flag.
#ifndef KIEMIDI_TLS_OPTIONS_HPP
#define KIEMIDI_TLS_OPTIONS_HPP

#include <memory>
#include <string>

namespace boost::asio::ssl {
class context;  // <boost/asio/ssl/context.hpp>; only the application that sets `context` needs it
}

namespace kiemidi {

/// How the transport verifies the server of an https:// base URL.
struct tls_options
{
    /// PEM file of trusted CA certificates; when set (or ca_pem is), the system store is not used.
    std::string ca_file;
    /// PEM text of trusted CA certificates; when set (or ca_file is), the system store is not used.
    std::string ca_pem;
    /// Disables certificate and host-name verification. Anyone on the path can then read the API key.
    bool insecure_skip_verify_do_not_use_in_production = false;
    /// The application's own TLS context (client certificates, pinned CAs, OpenSSL settings of
    /// its own). When set it is used as given, shared with the application, for every connection:
    /// ca_file, ca_pem and the flag above are then ignored, and its verification settings are the
    /// application's (set verify_peer; host names are still checked and SNI sent by kiemidi). It
    /// must not be changed while the client uses it.
    std::shared_ptr<boost::asio::ssl::context> context;
};

}  // namespace kiemidi

#endif
